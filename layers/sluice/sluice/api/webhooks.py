"""Routes of webhooks: endpoints (the secret shown once, at creation and rotation), their delivery log and
redelivery. Every route needs `webhooks:admin`; another tenant's endpoint is 404."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api.audit import audit
from sluice.api.http import parse_limit
from sluice.api.request import body_as, json_response, principal, query
from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.errors import BadRequest, NotFound
from sluice.models.webhook import (
    DELIVERY_ID_PATTERN,
    ROTATION_OVERLAP_MS,
    WEBHOOK_ID_PATTERN,
    UnsafeEndpoint,
    Webhook,
    WebhookPatch,
    WebhookRequest,
    WebhookSecretView,
    new_secret,
    new_webhook_id,
)
from sluice.notify import webhook_http
from sluice.notify.webhooks import redeliver
from sluice.store.clients import Clients, get_clients
from sluice.store.webhooks import WebhookStore

router = APIGatewayHttpRouter()
PERMISSION = "webhooks:admin"


def _checked_url(clients: Clients, url: str) -> str:
    try:
        webhook_http.checked_endpoint(url, clients.settings.webhooks_allow_loopback)
    except UnsafeEndpoint as refused:
        raise BadRequest(f"url: {refused}", code="unsafe_url") from None
    return url


def _found(clients: Clients, tenant: str, webhook_id: str) -> Webhook:
    found = WebhookStore(clients).get(tenant, webhook_id) if WEBHOOK_ID_PATTERN.fullmatch(webhook_id) else None
    if found is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return found


def _with_secret(webhook: Webhook, now: int) -> dict[str, Any]:
    return WebhookSecretView(**webhook.view(now).model_dump(), secret=webhook.secret).body()


@router.post("/v1/webhooks")
def create_webhook() -> Response:
    event = router.current_event
    caller = principal(event, PERMISSION)
    wanted = body_as(event, WebhookRequest, "{\"url\": \"https://...\", \"events\": [\"job.completed\"]}")
    clients = get_clients()
    now = now_ms()
    webhook = Webhook(tenant=caller.tenant, webhookId=new_webhook_id(), url=_checked_url(clients, wanted.url),
                      events=list(wanted.events), description=wanted.description, secret=new_secret(),
                      createdBy=caller.key_id, createdMs=now, updatedMs=now)
    WebhookStore(clients).create(webhook)
    audit(event, caller, "webhook.create", webhook.webhookId, url=webhook.url, events=webhook.events)
    return json_response(_with_secret(webhook, now), 201, {"Location": f"/v1/webhooks/{webhook.webhookId}"})


@router.get("/v1/webhooks")
def list_webhooks() -> dict[str, Any]:
    caller = principal(router.current_event, PERMISSION)
    now = now_ms()
    return {"items": [w.view(now).body() for w in WebhookStore(get_clients()).endpoints(caller.tenant)],
            "nextCursor": None}


@router.get("/v1/webhooks/<webhook_id>")
def get_webhook(webhook_id: str) -> dict[str, Any]:
    caller = principal(router.current_event, PERMISSION)
    return _found(get_clients(), caller.tenant, webhook_id).view(now_ms()).body()


@router.patch("/v1/webhooks/<webhook_id>")
def update_webhook(webhook_id: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, PERMISSION)
    clients = get_clients()
    current = _found(clients, caller.tenant, webhook_id)
    patch = body_as(event, WebhookPatch, "{\"events\": [\"*\"], \"enabled\": true}")
    given = patch.model_fields_set
    now = now_ms()
    values: dict[str, Any] = {"updatedMs": now}
    remove: list[str] = []
    if patch.url is not None:
        values["url"] = _checked_url(clients, patch.url)
    if patch.events is not None:
        values["events"] = list(patch.events)
    if "description" in given:
        if patch.description is None:
            remove.append("description")
        else:
            values["description"] = patch.description
    if patch.enabled and not current.enabled:  # back on: its record of failures starts afresh
        values["enabled"] = True
        remove += ["disabledReason", "disabledMs", "lastFailureMs"]
    elif patch.enabled is False and current.enabled:
        values.update({"enabled": False, "disabledReason": "disabled by a PATCH request", "disabledMs": now})
    updated = WebhookStore(clients).update(caller.tenant, webhook_id, values, tuple(remove))
    if updated is None:
        raise NotFound(f"webhook {webhook_id} not found")
    audit(event, caller, "webhook.update", webhook_id, changed=sorted(given))
    return updated.view(now).body()


@router.delete("/v1/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, PERMISSION)
    clients = get_clients()
    _found(clients, caller.tenant, webhook_id)
    if not WebhookStore(clients).delete(caller.tenant, webhook_id):
        raise NotFound(f"webhook {webhook_id} not found")
    audit(event, caller, "webhook.delete", webhook_id)
    return {"webhookId": webhook_id, "deleted": True}


@router.post("/v1/webhooks/<webhook_id>/rotate-secret")
def rotate_secret(webhook_id: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, PERMISSION)
    clients = get_clients()
    current = _found(clients, caller.tenant, webhook_id)
    now = now_ms()
    rotated = WebhookStore(clients).update(caller.tenant, webhook_id, {
        "secret": new_secret(), "previousSecret": current.secret, "previousSecretUntilMs": now + ROTATION_OVERLAP_MS,
        "updatedMs": now}, condition="secret = :seen", condition_values={":seen": current.secret})
    if rotated is None:
        raise NotFound(f"webhook {webhook_id} not found (or rotated at this very moment: try again)")
    audit(event, caller, "webhook.rotateSecret", webhook_id)
    return _with_secret(rotated, now)


@router.get("/v1/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, PERMISSION)
    clients = get_clients()
    _found(clients, caller.tenant, webhook_id)
    params = query(event, "limit", "cursor")
    attempts, cursor = WebhookStore(clients).attempts(webhook_id, parse_limit(params.get("limit"), 50, 200),
                                                      params.get("cursor") or None)
    return {"items": [a.body() for a in attempts], "nextCursor": cursor}


@router.post("/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver")
def redeliver_delivery(webhook_id: str, delivery_id: str) -> Response:
    caller = principal(router.current_event, PERMISSION)
    clients = get_clients()
    _found(clients, caller.tenant, webhook_id)
    if not DELIVERY_ID_PATTERN.fullmatch(delivery_id):
        raise NotFound(f"delivery {delivery_id} not found")
    delivery = redeliver(clients, caller.tenant, webhook_id, delivery_id)
    return json_response({"deliveryId": delivery.deliveryId, "eventId": delivery.eventId, "type": delivery.eventType,
                          "status": delivery.status, "attempt": delivery.attempts + 1,
                          "nextAttemptAt": iso_from_ms(delivery.nextAttemptMs)}, 202)
