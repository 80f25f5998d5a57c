"""Item types: a tenant's schemas, stored in the jobs table under the tenant."""

from __future__ import annotations

from typing import Any

import orjson

from sluice.models.clock import now_ms
from sluice.models.ids import is_name
from sluice.models.itemtype import ItemType
from sluice.models.schemas import ItemTypeDefinition
from sluice.store.clients import Clients
from sluice.store.dynamo import from_item, query_pages, to_item
from sluice.store.itemnames import AliasStore
from sluice.store.mappings import MappingStore


def _pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


class ItemTypeStore:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table
        self._shards = clients.settings.record_shards
        self._aliases = AliasStore(clients)
        self._mappings = MappingStore(clients)

    def put(self, tenant: str, name: str, definition: ItemTypeDefinition) -> tuple[ItemType, bool]:
        """Create or replace; the shard count is fixed when the item type is first created."""
        existing = self.get(tenant, name)
        lookup = lambda other: self.get(tenant, other)  # noqa: E731
        self._aliases.check_name(tenant, name, lookup)
        self._aliases.claim(tenant, name, definition.aliases or [], lookup)
        now = now_ms()
        item_type = ItemType(
            tenant, name, definition,
            version=(existing.version + 1) if existing else 1,
            shards=existing.shards if existing else self._shards,
            created_ms=existing.created_ms if existing else now,
            updated_ms=now,
        )
        self._db.put_item(TableName=self._table, Item=to_item({
            "pk": _pk(tenant), "sk": f"ITEMTYPE#{name}", "name": name,
            "definition": definition.model_dump_json(exclude_none=True),
            "version": item_type.version, "shards": item_type.shards,
            "createdMs": item_type.created_ms, "updatedMs": now,
        }))
        dropped = set(existing.definition.aliases or []) - set(definition.aliases or []) if existing else set()
        self._aliases.release(tenant, name, sorted(dropped))
        return item_type, existing is None

    def delete(self, tenant: str, name: str) -> bool:
        """Deletes the item type with its saved mappings and frees its aliases; False when there was none."""
        existing = self.get(tenant, name)
        if existing is None:
            return False
        self._db.delete_item(TableName=self._table, Key={"pk": {"S": _pk(tenant)}, "sk": {"S": f"ITEMTYPE#{name}"}})
        self._aliases.release(tenant, name, sorted(existing.definition.aliases or []))
        for mapping in self._mappings.list(tenant, name):
            self._mappings.delete(tenant, name, mapping["name"])
        return True

    def resolve(self, tenant: str, reference: str) -> ItemType | None:
        """The item type a seed client means: the one with that name, else the one with that alias."""
        if is_name(reference):
            found = self.get(tenant, reference)
            if found is not None:
                return found
        if not 0 < len(reference) <= 128:
            return None
        return self._aliases.resolve(tenant, reference, lambda name: self.get(tenant, name))

    def get(self, tenant: str, name: str) -> ItemType | None:
        response = self._db.get_item(TableName=self._table, Key={"pk": {"S": _pk(tenant)},
                                                                 "sk": {"S": f"ITEMTYPE#{name}"}})
        item = response.get("Item")
        return self._load(tenant, from_item(item)) if item else None

    def list(self, tenant: str) -> list[ItemType]:
        items = query_pages(
            self._db, TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": _pk(tenant)}, ":prefix": {"S": "ITEMTYPE#"}},
        )
        return [self._load(tenant, from_item(i)) for i in items]

    @staticmethod
    def _load(tenant: str, item: dict[str, Any]) -> ItemType:
        return ItemType(tenant, item["name"], ItemTypeDefinition.model_validate(orjson.loads(item["definition"])),
                        int(item["version"]), int(item["shards"]), int(item["createdMs"]), int(item["updatedMs"]))
