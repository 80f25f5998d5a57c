"""Idempotency keys in the jobs table (`TENANT#{tenant}` / `IDEM#{sha256 of the key}`): the first request with
a key claims it (a conditional put), then stores its answer; a repeat within 24 h finds the answer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from sluice.models.clock import now_ms
from sluice.store.clients import Clients
from sluice.store.dynamo import conditional_write, from_item, to_item
from sluice.store.lifecycle import tenant_pk

IDEMPOTENCY_HOURS = 24


@dataclass(frozen=True)
class Claim:
    fingerprint: str
    answer: dict[str, Any] | None  # {"status", "body", "headers"} once the first request finished


class IdempotencyStore:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table

    def _key(self, tenant: str, key: str) -> dict[str, Any]:
        return {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": "IDEM#" + hashlib.sha256(key.encode()).hexdigest()}}

    def claim(self, tenant: str, key: str, fingerprint: str) -> Claim | None:
        """Claims the key for this request (None), or returns the claim an earlier request made."""
        now = now_ms()
        item = {**self._key(tenant, key), **to_item({"fingerprint": fingerprint, "claimedMs": now,
                                                    "expiresAt": now // 1000 + IDEMPOTENCY_HOURS * 3600})}
        written = conditional_write(self._db, "PutItem", lambda current: current.get("claimedMs") == item["claimedMs"],
                                    TableName=self._table, Item=item,
                                    ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                                    ExpressionAttributeValues={":now": {"N": str(now // 1000)}})
        if written is not None:
            return None
        current = self._db.get_item(TableName=self._table, Key=self._key(tenant, key), ConsistentRead=True).get("Item")
        if current is None:  # released meanwhile: claim again
            return self.claim(tenant, key, fingerprint)
        stored = from_item(current)
        answer = orjson.loads(stored["answer"]) if "answer" in stored else None
        return Claim(str(stored["fingerprint"]), answer)

    def keep_answer(self, tenant: str, key: str, answer: dict[str, Any]) -> None:
        self._db.update_item(TableName=self._table, Key=self._key(tenant, key), UpdateExpression="SET answer = :a",
                             ExpressionAttributeValues={":a": {"S": orjson.dumps(answer).decode()}})

    def release(self, tenant: str, key: str) -> None:
        """The first request failed without an answer worth repeating: the key is free again."""
        self._db.delete_item(TableName=self._table, Key=self._key(tenant, key))
