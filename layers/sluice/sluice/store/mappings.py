"""Named column mappings of an item type (`TENANT#{tenant}` / `MAPPING#{itemType}#{name}`): source header -> field,
saved once and named by any later job."""

from __future__ import annotations

from typing import Any

import orjson

from sluice.models.clock import iso_from_ms, now_ms
from sluice.store import dynamo
from sluice.store.clients import Clients
from sluice.store.dynamo import from_item, to_item
from sluice.store.lifecycle import tenant_pk


class MappingStore:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table

    @staticmethod
    def _sk(item_type: str, name: str = "") -> str:
        return f"MAPPING#{item_type}#{name}"

    def put(self, tenant: str, item_type: str, name: str, columns: dict[str, str]) -> tuple[dict[str, Any], bool]:
        """Stores the mapping; (its view, newly created)."""
        existing = self.get(tenant, item_type, name)
        now = now_ms()
        created = int(existing["createdMs"]) if existing else now
        self._db.put_item(TableName=self._table, Item=to_item({
            "pk": tenant_pk(tenant), "sk": self._sk(item_type, name), "name": name, "itemType": item_type,
            "columns": orjson.dumps(columns).decode(), "createdMs": created, "updatedMs": now}))
        return self._view({"name": name, "itemType": item_type, "columns": columns, "createdMs": created,
                           "updatedMs": now}), existing is None

    def get(self, tenant: str, item_type: str, name: str) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, Key={"pk": {"S": tenant_pk(tenant)},
                                                             "sk": {"S": self._sk(item_type, name)}}).get("Item")
        if item is None:
            return None
        stored = from_item(item)
        stored["columns"] = orjson.loads(stored["columns"])
        return stored

    def view(self, tenant: str, item_type: str, name: str) -> dict[str, Any] | None:
        stored = self.get(tenant, item_type, name)
        return self._view(stored) if stored else None

    def list(self, tenant: str, item_type: str) -> list[dict[str, Any]]:
        items = dynamo.query_pages(self._db, TableName=self._table,
                                   KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                                   ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant)},
                                                              ":prefix": {"S": self._sk(item_type)}})
        views = []
        for item in items:
            stored = from_item(item)
            stored["columns"] = orjson.loads(stored["columns"])
            views.append(self._view(stored))
        return views

    def delete(self, tenant: str, item_type: str, name: str) -> bool:
        reply = self._db.delete_item(TableName=self._table, ReturnValues="ALL_OLD",
                                     Key={"pk": {"S": tenant_pk(tenant)}, "sk": {"S": self._sk(item_type, name)}})
        return "Attributes" in reply

    @staticmethod
    def _view(stored: dict[str, Any]) -> dict[str, Any]:
        return {"name": stored["name"], "itemType": stored["itemType"], "columns": stored["columns"],
                "createdAt": iso_from_ms(int(stored["createdMs"])), "updatedAt": iso_from_ms(int(stored["updatedMs"]))}
