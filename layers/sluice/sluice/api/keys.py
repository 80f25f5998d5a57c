"""Routes of API keys."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api.audit import audit
from sluice.api.bodies import KeyRequest
from sluice.api.request import body_as, json_response, principal
from sluice.models.errors import Forbidden, NotFound
from sluice.models.principal import PERMISSIONS
from sluice.store.clients import get_clients
from sluice.store.keys import KeyStore

router = APIGatewayHttpRouter()


@router.post("/v1/api-keys")
def create_key() -> Response:
    event = router.current_event
    caller = principal(event, "keys:admin")
    wanted = body_as(event, KeyRequest, "{\"name\": ..., \"permissions\": [...]}")
    withheld = caller.cannot_grant([p for p in wanted.permissions if p in PERMISSIONS])  # unknown ones: 400 below
    if withheld:
        raise Forbidden(f"a key can grant only permissions it holds itself; this key does not hold: "
                        f"{', '.join(withheld)}")
    created = KeyStore(get_clients()).create(caller.tenant, wanted.name, wanted.permissions)
    audit(event, caller, "apiKey.create", created["keyId"], permissions=created["permissions"])
    return json_response(created, 201)


@router.get("/v1/api-keys")
def list_keys() -> dict[str, Any]:
    caller = principal(router.current_event, "keys:admin")
    return {"items": KeyStore(get_clients()).list(caller.tenant)}


@router.delete("/v1/api-keys/<key_id>")
def revoke_key(key_id: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "keys:admin")
    if not KeyStore(get_clients()).revoke(caller.tenant, key_id):
        raise NotFound(f"key {key_id} not found")
    audit(event, caller, "apiKey.revoke", key_id)
    return {"keyId": key_id, "revoked": True}
