"""Webhook endpoints, their deliveries and the delivery log in the jobs table, and the webhook queue. No other
module knows these keys:

  endpoint   TENANT#{tenant}      / WEBHOOK#{webhookId}
  delivery   WEBHOOK#{webhookId}  / DELIVERY#{deliveryId}   (+ gsi1 OPENDELIVERIES / {nextAttemptMs}#{deliveryId}
                                                              while pending: the reconciler's worklist)
  attempt    WEBHOOK#{webhookId}  / ATTEMPT#{atMs}#{deliveryId}#{attempt}   (newest first = the log)

A delivery's body is stored compressed on the item, or, when an event is too large for an item, once per
event in S3 (`webhooks/{tenant}/{eventId}.json`). Every change of a delivery is a conditional write on its
attempt count, so two deliveries of the same queue message cannot both make the same attempt."""

from __future__ import annotations

import uuid
import zlib
from typing import Any

from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.errors import BadRequest, Conflict
from sluice.models.webhook import (
    WEBHOOKS_PER_TENANT,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryMessage,
    Webhook,
)
from sluice.store.clients import Clients
from sluice.store.dynamo import (
    BAD_CURSOR,
    Item,
    conditional_write,
    decode_cursor,
    encode_cursor,
    from_item,
    query_pages,
    to_av,
    to_item,
)
from sluice.store.lifecycle import tenant_pk

OPEN_DELIVERIES = "OPENDELIVERIES"
BODY_INLINE_MAX = 300_000  # compressed bytes kept on the delivery item (an item holds 400 KB)
SQS_DELAY_MAX_S = 900


def _webhook_pk(webhook_id: str) -> str:
    return f"WEBHOOK#{webhook_id}"


def body_key(tenant: str, event_id: str) -> str:
    return f"webhooks/{tenant}/{event_id}.json"


class WebhookStore:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table
        self._retention_s = clients.settings.retention_days * 86_400

    # --- endpoints ----------------------------------------------------------------------------------

    def _endpoint_key(self, tenant: str, webhook_id: str) -> dict[str, Any]:
        return {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": f"WEBHOOK#{webhook_id}"}}

    @staticmethod
    def _endpoint(item: Item) -> Webhook:
        values = {k: v for k, v in from_item(item).items() if k not in ("pk", "sk")}
        return Webhook.model_validate(values)

    def endpoints(self, tenant: str) -> list[Webhook]:
        items = query_pages(self._db, TableName=self._table, ConsistentRead=True,
                            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                            ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant)}, ":prefix": {"S": "WEBHOOK#"}})
        return [self._endpoint(item) for item in items]

    def get(self, tenant: str, webhook_id: str) -> Webhook | None:
        item = self._db.get_item(TableName=self._table, Key=self._endpoint_key(tenant, webhook_id),
                                 ConsistentRead=True).get("Item")
        return self._endpoint(item) if item else None

    def create(self, webhook: Webhook) -> None:
        if len(self.endpoints(webhook.tenant)) >= WEBHOOKS_PER_TENANT:
            raise Conflict(f"a tenant may have at most {WEBHOOKS_PER_TENANT} webhooks; delete one first")
        item = {**self._endpoint_key(webhook.tenant, webhook.webhookId), **to_item(webhook.model_dump())}
        written = conditional_write(self._db, "PutItem", lambda current: current.get("secret") == item["secret"],
                                    TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        if written is None:
            raise Conflict(f"webhook {webhook.webhookId} exists already")

    def update(self, tenant: str, webhook_id: str, values: dict[str, Any], remove: tuple[str, ...] = (),
               condition: str | None = None, condition_values: dict[str, Any] | None = None) -> Webhook | None:
        """SETs fields (and REMOVEs others) of an endpoint; None when it is gone or the condition failed."""
        unknown = (set(values) | set(remove)) - set(Webhook.model_fields)
        if unknown:
            raise TypeError(f"Webhook has no field(s) {sorted(unknown)}")
        names = {f"#f{i}": name for i, name in enumerate(values)}
        attr_values = {f":v{i}": to_av(value) for i, value in enumerate(values.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
        if remove:
            names.update({f"#r{i}": name for i, name in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        attr_values.update({k: to_av(v) for k, v in (condition_values or {}).items()})
        wanted = {name: to_av(value) for name, value in values.items()}
        written = conditional_write(
            self._db, "UpdateItem",
            lambda current: all(current.get(n) == v for n, v in wanted.items())
            and not any(r in current for r in remove),
            TableName=self._table, Key=self._endpoint_key(tenant, webhook_id), UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)" + (f" AND ({condition})" if condition else ""),
            ExpressionAttributeNames=names, ExpressionAttributeValues=attr_values, ReturnValues="ALL_NEW")
        return None if written is None else self._endpoint(written)

    def disable(self, tenant: str, webhook_id: str, reason: str, at_ms: int) -> Webhook | None:
        """Turns an enabled endpoint off; None when it was off already (or is gone)."""
        return self.update(tenant, webhook_id, {"enabled": False, "disabledReason": reason, "disabledMs": at_ms,
                                                "updatedMs": at_ms},
                           condition="enabled = :on", condition_values={":on": True})

    def delete(self, tenant: str, webhook_id: str) -> bool:
        response = self._db.delete_item(TableName=self._table, Key=self._endpoint_key(tenant, webhook_id),
                                        ReturnValues="ALL_OLD")
        return bool(response.get("Attributes"))

    # --- deliveries ---------------------------------------------------------------------------------

    def _delivery_key(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        return {"pk": {"S": _webhook_pk(webhook_id)}, "sk": {"S": f"DELIVERY#{delivery_id}"}}

    def _delivery(self, item: Item) -> Delivery:
        values = from_item({k: v for k, v in item.items()
                            if k not in ("pk", "sk", "gsi1pk", "gsi1sk", "bodyZ", "bodyKey", "claim")})
        if "bodyZ" in item:
            values["body"] = zlib.decompress(item["bodyZ"]["B"]).decode()
        else:
            obj = self._clients.s3.get_object(Bucket=self._clients.settings.bucket, Key=item["bodyKey"]["S"])
            values["body"] = obj["Body"].read().decode()
        return Delivery.model_validate(values)

    @staticmethod
    def _open_entry(delivery_id: str, next_ms: int) -> dict[str, Any]:
        return {"gsi1pk": {"S": OPEN_DELIVERIES}, "gsi1sk": {"S": f"{next_ms:013d}#{delivery_id}"}}

    def add_delivery(self, delivery: Delivery) -> bool:
        """Stores a new delivery; False when it exists already (the same event announced again)."""
        values = delivery.model_dump(exclude={"body"}, exclude_none=True)
        item = {**self._delivery_key(delivery.webhookId, delivery.deliveryId), **to_item(values),
                **self._open_entry(delivery.deliveryId, delivery.nextAttemptMs or delivery.createdMs)}
        packed = zlib.compress(delivery.body.encode(), 6)
        if len(packed) <= BODY_INLINE_MAX:
            item["bodyZ"] = {"B": packed}
        else:
            key = body_key(delivery.tenant, delivery.eventId)
            self._clients.s3.put_object(Bucket=self._clients.settings.bucket, Key=key, Body=delivery.body.encode(),
                                        ContentType="application/json")
            item["bodyKey"] = {"S": key}
        written = conditional_write(self._db, "PutItem", lambda current: current.get("createdMs") == item["createdMs"],
                                    TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        return written is not None

    def get_delivery(self, webhook_id: str, delivery_id: str) -> Delivery | None:
        item = self._db.get_item(TableName=self._table, Key=self._delivery_key(webhook_id, delivery_id),
                                 ConsistentRead=True).get("Item")
        return self._delivery(item) if item else None

    def _update_delivery(self, delivery: Delivery, sets: str, values: dict[str, Any], remove: str = "",
                         condition: str = "attempts = :seen AND #status = :pending") -> Item | None:
        """A conditional update of the delivery as last read (its attempt count), recognising its own retry."""
        token = uuid.uuid4().hex
        written = conditional_write(
            self._db, "UpdateItem", lambda current: current.get("claim") == {"S": token},
            TableName=self._table, Key=self._delivery_key(delivery.webhookId, delivery.deliveryId),
            UpdateExpression=f"SET {sets}, claim = :token" + (f" REMOVE {remove}" if remove else ""),
            ConditionExpression=f"attribute_exists(pk) AND {condition}",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":seen": {"N": str(delivery.attempts)}, ":pending": {"S": "pending"},
                                       ":token": {"S": token}, **{k: to_av(v) for k, v in values.items()}},
            ReturnValues="ALL_NEW")
        return written

    def claim(self, delivery: Delivery, attempt: int, next_ms: int, at_ms: int) -> bool:
        """Takes attempt `attempt` (the one after those made so far) and provisionally schedules the next one
        at next_ms, as if this one will fail: a crash from here on leaves the reconciler a due delivery."""
        written = self._update_delivery(
            delivery,
            "attempts = :attempt, nextAttemptMs = :next, gsi1pk = :open, gsi1sk = :slot, "
            "firstAttemptMs = if_not_exists(firstAttemptMs, :at)",
            {":attempt": attempt, ":next": next_ms, ":open": OPEN_DELIVERIES,
             ":slot": f"{next_ms:013d}#{delivery.deliveryId}", ":at": at_ms})
        return written is not None

    def settle(self, delivery: Delivery, status: str, reason: str | None = None) -> bool:
        """The delivery's end: succeeded, failed or canceled (it leaves the reconciler's worklist)."""
        written = self._update_delivery(
            delivery, "#status = :final, reason = :reason", {":final": status, ":reason": reason},
            remove="gsi1pk, gsi1sk, nextAttemptMs")
        return written is not None

    def reschedule(self, delivery: Delivery, next_ms: int) -> bool:
        """Moves the next attempt (the reconciler sending a lost message again)."""
        return self._update_delivery(delivery, "nextAttemptMs = :next, gsi1sk = :slot",
                                     {":next": next_ms, ":slot": f"{next_ms:013d}#{delivery.deliveryId}"}) is not None

    def reopen(self, delivery: Delivery, at_ms: int) -> Delivery | None:
        """A redelivery: one more attempt, now (the schedule of a pending delivery goes on after it)."""
        last = max(delivery.lastAttempt, delivery.attempts + 1)
        written = self._update_delivery(
            delivery, "#status = :pending, lastAttempt = :last, nextAttemptMs = :at, gsi1pk = :open, gsi1sk = :slot",
            {":last": last, ":at": at_ms, ":open": OPEN_DELIVERIES, ":slot": f"{at_ms:013d}#{delivery.deliveryId}"},
            remove="reason", condition="attempts = :seen")
        return None if written is None else delivery.model_copy(update={
            "status": "pending", "lastAttempt": last, "nextAttemptMs": at_ms, "reason": None})

    def overdue(self, before_ms: int, limit: int = 500) -> list[Delivery]:
        """Pending deliveries whose next attempt was due before before_ms (their message was lost), oldest first."""
        found: list[Delivery] = []
        for item in query_pages(self._db, TableName=self._table, IndexName="gsi1",
                                KeyConditionExpression="gsi1pk = :open AND gsi1sk < :before",
                                ExpressionAttributeValues={":open": {"S": OPEN_DELIVERIES},
                                                           ":before": {"S": f"{before_ms:013d}"}}):
            key = item["pk"]["S"].removeprefix("WEBHOOK#"), item["sk"]["S"].removeprefix("DELIVERY#")
            delivery = self.get_delivery(*key)  # the index may lag the table: read the item itself
            if delivery is not None and delivery.status == "pending":
                found.append(delivery)
            if len(found) == limit:
                break
        return found

    # --- the delivery log ---------------------------------------------------------------------------

    def record(self, delivery: Delivery, attempt: int, outcome: AttemptOutcome, at_ms: int,
               next_attempt_ms: int | None) -> None:
        entry = DeliveryAttempt(deliveryId=delivery.deliveryId, eventId=delivery.eventId, type=delivery.eventType,
                                attempt=attempt, status="succeeded" if outcome.ok else "failed",
                                responseCode=outcome.responseCode, durationMs=outcome.durationMs, error=outcome.error,
                                response=outcome.response, at=None, nextAttemptAt=None)
        values = entry.model_dump(exclude={"at", "nextAttemptAt"}, exclude_none=True)
        values.update({"atMs": at_ms, "nextAttemptMs": next_attempt_ms, "expiresAt": at_ms // 1000 + self._retention_s})
        self._db.put_item(TableName=self._table, Item={
            "pk": {"S": _webhook_pk(delivery.webhookId)},
            "sk": {"S": f"ATTEMPT#{at_ms:013d}#{delivery.deliveryId}#{attempt:03d}"}, **to_item(values)})

    def note_outcome(self, webhook: Webhook, ok: bool, at_ms: int) -> Webhook:
        """The endpoint's last success or failure (what disabling after repeated failure looks at)."""
        field = "lastSuccessMs" if ok else "lastFailureMs"
        return self.update(webhook.tenant, webhook.webhookId, {field: at_ms}) or webhook

    def attempts(self, webhook_id: str, limit: int, cursor: str | None) -> tuple[list[DeliveryAttempt], str | None]:
        """The endpoint's delivery log, newest attempt first."""
        kwargs: dict[str, Any] = {
            "TableName": self._table, "ScanIndexForward": False, "Limit": limit,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": _webhook_pk(webhook_id)}, ":prefix": {"S": "ATTEMPT#"}},
        }
        if cursor:
            start = decode_cursor(cursor)
            if not (isinstance(start, dict) and set(start) == {"pk", "sk"}
                    and start["pk"] == {"S": _webhook_pk(webhook_id)}
                    and str(start["sk"].get("S", "")).startswith("ATTEMPT#")):
                raise BadRequest(BAD_CURSOR)
            kwargs["ExclusiveStartKey"] = start
        response = self._db.query(**kwargs)
        entries = []
        for item in response.get("Items", []):
            values = from_item(item)
            entries.append(DeliveryAttempt(
                deliveryId=values["deliveryId"], eventId=values["eventId"], type=values["type"],
                attempt=int(values["attempt"]), status=values["status"], responseCode=values.get("responseCode"),
                durationMs=int(values.get("durationMs", 0)), error=values.get("error"), response=values.get("response"),
                at=iso_from_ms(int(values["atMs"])), nextAttemptAt=iso_from_ms(values.get("nextAttemptMs"))))
        last = response.get("LastEvaluatedKey")
        return entries, encode_cursor(last) if last else None

    # --- the queue ----------------------------------------------------------------------------------

    def enqueue(self, message: DeliveryMessage, delay_s: int = 0) -> None:
        self._clients.sqs.send_message(QueueUrl=self._clients.settings.webhook_queue_url,
                                       MessageBody=message.model_dump_json(),
                                       DelaySeconds=max(0, min(SQS_DELAY_MAX_S, delay_s)))

    def expires_at(self, at_ms: int | None = None) -> int:
        return (at_ms or now_ms()) // 1000 + self._retention_s
