"""The audit log: who changed access or destroyed data, when, from where. One item per entry under
`AUDIT#{tenant}`, sorted by time (`{atMs:013d}#{entryId}`), so a page newest first is one Query.

Entries are written after the action they record succeeded; a lost reply on the write can make one
entry twice (at least once, like events)."""

from __future__ import annotations

import uuid
from typing import Any

from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.errors import BadRequest
from sluice.store.clients import Clients
from sluice.store.dynamo import BAD_CURSOR, decode_cursor, encode_cursor, from_item, to_item

AUDIT_RETENTION_DAYS = 400  # a year and a bit: entries outlive the jobs and records they name


def _pk(tenant: str) -> str:
    return f"AUDIT#{tenant}"


class AuditLog:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table

    def record(self, tenant: str, key_id: str, action: str, target: str, source_ip: str | None,
               **details: Any) -> dict[str, Any]:
        at = now_ms()
        entry = {"at": iso_from_ms(at), "keyId": key_id, "action": action, "target": target,
                 "sourceIp": source_ip, **({"details": details} if details else {})}
        self._db.put_item(TableName=self._table, Item=to_item({
            "pk": _pk(tenant), "sk": f"{at:013d}#{uuid.uuid4().hex[:12]}", "entry": entry,
            "expiresAt": at // 1000 + AUDIT_RETENTION_DAYS * 86_400}))
        return entry

    def page(self, tenant: str, since_ms: int, limit: int, cursor: str | None
             ) -> tuple[list[dict[str, Any]], str | None]:
        """Entries at or after since_ms, newest first, and the cursor to the next page."""
        params: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk AND sk >= :since",
            "ExpressionAttributeValues": {":pk": {"S": _pk(tenant)}, ":since": {"S": f"{since_ms:013d}"}},
            "ScanIndexForward": False, "Limit": limit}
        if cursor:
            after = decode_cursor(cursor)
            if not isinstance(after, str) or not after[:13].isdigit():
                raise BadRequest(BAD_CURSOR)
            params["ExclusiveStartKey"] = {"pk": {"S": _pk(tenant)}, "sk": {"S": after}}
        response = self._db.query(**params)
        items = response.get("Items", [])
        entries = [from_item(i)["entry"] for i in items]
        more = "LastEvaluatedKey" in response and len(items) == limit
        return entries, encode_cursor(items[-1]["sk"]["S"]) if more and items else None
