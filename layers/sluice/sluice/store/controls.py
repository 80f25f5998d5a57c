"""Control documents in the jobs table, under the tenant by the sha256 of their bytes."""

from __future__ import annotations

import orjson

from sluice.models.clock import now_ms
from sluice.models.control import ControlDocument
from sluice.store.clients import Clients
from sluice.store.dynamo import conditional_write, from_item, to_item
from sluice.store.lifecycle import tenant_pk


class ControlStore:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table

    def put(self, tenant: str, digest: str, data: bytes, comment: str | None) -> bool:
        """Stores the document once; False when the same bytes were stored already."""
        item = to_item({"pk": tenant_pk(tenant), "sk": f"CONTROL#{digest}", "document": data.decode(),
                        "comment": (comment or "")[:500], "createdMs": now_ms()})
        written = conditional_write(self._db, "PutItem", lambda current: current["createdMs"] == item["createdMs"],
                                    TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        return written is not None

    def get(self, tenant: str, digest: str) -> ControlDocument | None:
        key = {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": f"CONTROL#{digest}"}}
        item = self._db.get_item(TableName=self._table, Key=key).get("Item")
        if item is None:
            return None
        return ControlDocument.model_validate(orjson.loads(from_item(item)["document"]))
