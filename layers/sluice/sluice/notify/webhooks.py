"""Webhooks, from a status change to a signed POST: `announce_job` / `announce_export` (called by the stores'
listeners) store one delivery per endpoint that wants the event and queue its first attempt; `deliver` (the
webhook function, per queue message) makes one attempt and schedules the next with exponential backoff;
`sweep` (the webhook function's schedule) sends again whatever message was lost.

Exactly once, as far as a receiver can tell: an event's `webhook-id` and each delivery's id are derived from
what happened, so announcing a change twice adds nothing; an attempt is claimed by a conditional write on the
delivery's attempt count before it is made, so a message delivered twice makes one attempt. Each step leaves
the delivery in a state the next run (a redelivered message, or the sweep) can carry on from."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools import Logger

from sluice import observability
from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.errors import Conflict, NotFound
from sluice.models.export import Export
from sluice.models.job import ERRORS_ON_JOB, Job, Status
from sluice.models.webhook import (
    MAX_ATTEMPTS,
    RETRY_DELAYS_S,
    AttemptOutcome,
    Delivery,
    DeliveryMessage,
    Webhook,
    delivery_id,
    event_id,
    retry_delay_s,
)
from sluice.notify import webhook_http
from sluice.notify.events import is_completed_revert, publish
from sluice.store.clients import Clients
from sluice.store.jobs import JobStore
from sluice.store.webhooks import SQS_DELAY_MAX_S, WebhookStore

logger = Logger(child=True)
Sender = Callable[[str, dict[str, str], bytes, bool], AttemptOutcome]
DISABLED_DETAIL_TYPE = "Webhook Disabled"
EARLY_MS = 1_000  # a message this close to its attempt's time is taken as due
LOST_AFTER_MS = 10 * 60_000  # a pending delivery this far past due has lost its message: the sweep sends another
GIVE_UP_AFTER_MS = (sum(RETRY_DELAYS_S) + 86_400) * 1000  # a delivery never settled by then is failed by the sweep

_JOB_EVENTS = {Status.ACCEPTED: "job.accepted", Status.COMPLETED: "job.completed", Status.FAILED: "job.failed",
               Status.REJECTED: "job.rejected", Status.CANCELED: "job.canceled"}
_EXPORT_EVENTS = {Status.COMPLETED: "export.completed", Status.FAILED: "export.failed"}


def job_event_type(job: Job) -> str | None:
    """The event a job's status is. Upload-URL jobs go from Initialized straight to Processing: that is their
    job.accepted. A revert job (not a dry run) that completes is job.reverted."""
    if job.status == Status.PROCESSING:
        return "job.accepted" if job.upload is not None else None
    if is_completed_revert(job):
        return "job.reverted"
    return _JOB_EVENTS.get(job.status)


# --- announcing ---------------------------------------------------------------------------------------------


def announce_job(clients: Clients, job: Job) -> None:
    event_type = job_event_type(job)
    if event_type is None:
        return

    def data() -> dict[str, Any]:  # the job exactly as GET /v1/jobs/{jobId} shows it
        store = JobStore(clients)
        errors, _ = store.errors(job.jobId, ERRORS_ON_JOB)
        return job.view(errors, store.objects_created(job.jobId), clients.settings.public_api_url).body()

    occurred = job.finishMs if job.finished else (job.submitMs if job.status == Status.ACCEPTED else job.startMs)
    _announce_safely(clients, job.tenant, event_type, f"job:{job.jobId}", occurred or job.submitMs, data)


def announce_export(clients: Clients, export: Export, download_links: Callable[[Export], list[str]]) -> None:
    event_type = _EXPORT_EVENTS.get(export.status)
    if event_type is None:
        return

    def data() -> dict[str, Any]:  # the export exactly as GET /v1/exports/{exportId} shows it
        links = download_links(export) if export.status == Status.COMPLETED else None
        return export.view(links).body()

    _announce_safely(clients, export.tenant, event_type, f"export:{export.exportId}",
                     export.finishMs or export.submitMs, data)


def _announce_safely(clients: Clients, tenant: str, event_type: str, subject: str, occurred_ms: int,
                     data: Callable[[], dict[str, Any]]) -> None:
    """Best effort, as the EventBridge event and the email are: a failure here never fails the job."""
    try:
        announce(clients, tenant, event_type, subject, occurred_ms, data)
    except Exception:
        observability.count("WebhookAnnounceFailed")
        logger.exception("webhook deliveries not queued", extra={"eventType": event_type, "subject": subject})


def announce(clients: Clients, tenant: str, event_type: str, subject: str, occurred_ms: int,
             data: Callable[[], dict[str, Any]], exclude: str | None = None) -> int:
    """Stores a delivery for each of the tenant's endpoints that wants the event and queues its first attempt.
    Returns the deliveries added (0 when the event had been announced already)."""
    if not clients.settings.webhook_queue_url or clients.sqs is None:
        return 0
    store = WebhookStore(clients)
    endpoints = [w for w in store.endpoints(tenant) if w.wants(event_type) and w.webhookId != exclude]
    if not endpoints:
        return 0
    message_id = event_id(tenant, subject, event_type)
    body = orjson.dumps({"type": event_type, "timestamp": iso_from_ms(occurred_ms), "data": data()}).decode()
    now = now_ms()
    added = 0
    for endpoint in endpoints:
        delivery = Delivery(tenant=tenant, webhookId=endpoint.webhookId,
                            deliveryId=delivery_id(message_id, endpoint.webhookId), eventId=message_id,
                            eventType=event_type, body=body, nextAttemptMs=now, createdMs=now,
                            expiresAt=store.expires_at(now))
        if store.add_delivery(delivery):
            store.enqueue(_message(delivery, 1))
            added += 1
    return added


def _message(delivery: Delivery, attempt: int) -> DeliveryMessage:
    return DeliveryMessage(tenant=delivery.tenant, webhookId=delivery.webhookId, deliveryId=delivery.deliveryId,
                           attempt=attempt)


# --- delivering ---------------------------------------------------------------------------------------------


def deliver(clients: Clients, message: DeliveryMessage, sender: Sender | None = None) -> str:
    """Makes attempt `message.attempt` of a delivery if it is due and nobody made it yet. Returns what happened
    (for the log): delivered, failed, retry-scheduled, waiting, duplicate, canceled, unknown."""
    send = sender or webhook_http.post
    store = WebhookStore(clients)
    delivery = store.get_delivery(message.webhookId, message.deliveryId)
    if delivery is None or delivery.tenant != message.tenant:
        return "unknown"
    if delivery.attempts >= message.attempt:
        if delivery.status == "failed" and delivery.attempts == message.attempt:
            _disable_if_failing(clients, delivery, None)  # a crash may have come between the failure and this
        return "duplicate"
    if delivery.status != "pending" or message.attempt != delivery.attempts + 1:
        return "duplicate"
    now = now_ms()
    if delivery.nextAttemptMs and now < delivery.nextAttemptMs - EARLY_MS:  # SQS delays stop at 15 minutes
        store.enqueue(message, min(SQS_DELAY_MAX_S, (delivery.nextAttemptMs - now) // 1000))
        return "waiting"
    endpoint = store.get(delivery.tenant, delivery.webhookId)
    if endpoint is None or not endpoint.enabled:
        why = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
        store.settle(delivery, "canceled", why)
        return "canceled"
    attempt = message.attempt
    last = attempt >= delivery.lastAttempt
    speedup = clients.settings.webhook_retry_speedup
    delay_ms = None if last else (retry_delay_s(attempt, random.random()) or 0) * 1000 / speedup
    next_ms = now + int(delay_ms or 0)
    if not store.claim(delivery, attempt, next_ms, now):
        return "duplicate"
    delivery = delivery.model_copy(update={"attempts": attempt, "firstAttemptMs": delivery.firstAttemptMs or now})
    body = delivery.body.encode()
    timestamp_s = now // 1000
    headers = {"webhook-id": delivery.eventId, "webhook-timestamp": str(timestamp_s),
               "webhook-signature": endpoint.signature_header(delivery.eventId, timestamp_s, body, now)}
    outcome = send(endpoint.url, headers, body, clients.settings.webhooks_allow_loopback)
    retry = not outcome.ok and not outcome.gone and delay_ms is not None
    store.record(delivery, attempt, outcome, now, next_ms if retry else None)
    endpoint = store.note_outcome(endpoint, outcome.ok, now)
    observability.count("WebhookAttemptsSucceeded" if outcome.ok else "WebhookAttemptsFailed")
    if outcome.ok:
        store.settle(delivery, "succeeded")
        return "delivered"
    if retry:
        # at most 1 s early (due), or 15 minutes at most (then the message is sent on again)
        store.enqueue(_message(delivery, attempt + 1), min(SQS_DELAY_MAX_S, int((delay_ms or 0) // 1000)))
        return "retry-scheduled"
    reason = "the endpoint answered 410 Gone" if outcome.gone else f"every one of {attempt} attempts failed"
    store.settle(delivery, "failed", reason)
    _disable_if_failing(clients, delivery.model_copy(update={"status": "failed", "reason": reason}), endpoint,
                        gone=outcome.gone)
    return "failed"


def _disable_if_failing(clients: Clients, delivery: Delivery, endpoint: Webhook | None, gone: bool = False) -> None:
    """An endpoint is disabled when it answers 410 Gone, or when a delivery failed every attempt of the schedule
    with no success to the endpoint since that delivery's first attempt (it has been failing for over a day).
    The event saying so goes out before the switch is thrown, so a crash in between is finished by the retry."""
    store = WebhookStore(clients)
    endpoint = endpoint or store.get(delivery.tenant, delivery.webhookId)
    if endpoint is None or not endpoint.enabled:
        return
    gone = gone or (delivery.reason or "").endswith("410 Gone")
    since = delivery.firstAttemptMs or delivery.createdMs
    exhausted = delivery.attempts >= MAX_ATTEMPTS and (endpoint.lastSuccessMs or 0) < since
    if not (gone or exhausted):
        return
    reason = (f"the endpoint answered 410 Gone to {delivery.eventId}" if gone else
              f"every attempt to deliver {delivery.eventId} failed, from {iso_from_ms(since)} on, with no "
              "successful delivery in between")
    at = now_ms()
    disabled = endpoint.model_copy(update={"enabled": False, "disabledReason": reason, "disabledMs": at,
                                           "updatedMs": at})
    subject = f"webhook:{endpoint.webhookId}:{delivery.deliveryId}"  # the failure that disabled it: stable
    announce(clients, endpoint.tenant, "webhook.disabled", subject, at, lambda: disabled.view(at).body(),
             exclude=endpoint.webhookId)
    _publish_disabled(clients, disabled)
    if store.disable(endpoint.tenant, endpoint.webhookId, reason, at) is not None:
        observability.count("WebhooksDisabled")
        logger.warning("webhook disabled", extra={"tenant": endpoint.tenant, "webhookId": endpoint.webhookId,
                                                  "reason": reason})


def _publish_disabled(clients: Clients, endpoint: Webhook) -> None:
    publish(clients, DISABLED_DETAIL_TYPE,
            {"type": "webhook.disabled", "tenant": endpoint.tenant, **endpoint.view(now_ms()).body()})


# --- the sweep, and redelivery ------------------------------------------------------------------------------


def sweep(clients: Clients, now: int | None = None) -> dict[str, int]:
    """Sends again the attempt of every pending delivery whose message was lost (a crash between storing the
    delivery or claiming an attempt and queueing the next one), and ends those that can go no further."""
    now = now_ms() if now is None else now
    store = WebhookStore(clients)
    report = {"requeued": 0, "failed": 0}
    for delivery in store.overdue(now - LOST_AFTER_MS):
        if delivery.attempts >= delivery.lastAttempt or now - delivery.createdMs > GIVE_UP_AFTER_MS:
            reason = f"no attempt could be completed after {delivery.attempts} attempts"
            if store.settle(delivery, "failed", reason):
                report["failed"] += 1
                _disable_if_failing(clients, delivery.model_copy(update={"status": "failed", "reason": reason}),
                                    None)
        elif store.reschedule(delivery, now):
            store.enqueue(_message(delivery, delivery.attempts + 1))
            report["requeued"] += 1
    return report


def redeliver(clients: Clients, tenant: str, webhook_id: str, delivery_id_: str) -> Delivery:
    """One more attempt of a delivery, now, whatever its state (a pending one keeps its schedule after it)."""
    store = WebhookStore(clients)
    endpoint = store.get(tenant, webhook_id)
    delivery = store.get_delivery(webhook_id, delivery_id_) if endpoint else None
    if endpoint is None or delivery is None or delivery.tenant != tenant:
        raise NotFound(f"delivery {delivery_id_} not found")
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled; enable it first (PATCH {\"enabled\": true})")
    reopened = store.reopen(delivery, now_ms())
    if reopened is None:
        raise Conflict("the delivery is being attempted right now; try again in a few seconds")
    store.enqueue(_message(reopened, reopened.attempts + 1))
    return reopened
