"""Other names of item types (aliases, for seed clients): each alias is claimed by one item type of the tenant
with an item `TENANT#{tenant}` / `ITEMALIAS#{alias}` holding the owner's name, written conditionally, so an
alias is unique within the tenant (case-sensitive) and found with one read.

A claim whose owner no longer lists the alias (the item type was replaced or deleted while a release was
lost) is stale: it resolves to nothing and may be taken over."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from sluice.models.errors import Conflict
from sluice.models.itemtype import ItemType
from sluice.store.clients import Clients
from sluice.store.dynamo import conditional_write

Lookup = Callable[[str], ItemType | None]  # an item type of the tenant by its name


def _key(tenant: str, alias: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": f"ITEMALIAS#{alias}"}}


def _holds(item_type: ItemType | None, alias: str) -> bool:
    return item_type is not None and alias in (item_type.definition.aliases or [])


class AliasStore:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table

    def owner(self, tenant: str, alias: str) -> str | None:
        """The name of the item type that claimed the alias (possibly a stale claim), or None."""
        item = self._db.get_item(TableName=self._table, Key=_key(tenant, alias), ConsistentRead=True).get("Item")
        return item["owner"]["S"] if item else None

    def resolve(self, tenant: str, alias: str, lookup: Lookup) -> ItemType | None:
        """The item type that holds the alias now, or None."""
        owner = self.owner(tenant, alias)
        found = lookup(owner) if owner else None
        return found if _holds(found, alias) else None

    def check_name(self, tenant: str, name: str, lookup: Lookup) -> None:
        """A new name may not be another item type's alias (seed clients would reach the wrong one)."""
        owner = self.owner(tenant, name)
        if owner and owner != name and _holds(lookup(owner), name):
            raise Conflict(f"'{name}' is an alias of item type '{owner}'; choose another name or remove the alias")

    def claim(self, tenant: str, name: str, aliases: list[str], lookup: Lookup) -> None:
        """Claims each alias for the item type `name`; Conflict naming the first one another item type holds."""
        for alias in aliases:
            if alias != name and lookup(alias) is not None:
                raise Conflict(f"alias '{alias}' is the name of another item type")
            seen: str | None = None
            for _ in range(3):
                condition = "attribute_not_exists(pk) OR #owner = :name" if seen is None else "#owner = :seen"
                values = {":name": {"S": name}} if seen is None else {":seen": {"S": seen}}
                written = conditional_write(
                    self._db, "PutItem", lambda current: current.get("owner") == {"S": name},
                    TableName=self._table, Item={**_key(tenant, alias), "owner": {"S": name}},
                    ConditionExpression=condition, ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues=values)
                if written is not None:
                    break
                seen = self.owner(tenant, alias)
                if seen is not None and _holds(lookup(seen), alias):
                    raise Conflict(f"alias '{alias}' belongs to item type '{seen}'; aliases are unique within a "
                                   "tenant")
            else:
                raise Conflict(f"alias '{alias}' is being claimed concurrently; try again")

    def release(self, tenant: str, name: str, aliases: list[str]) -> None:
        """Gives up aliases the item type no longer lists (only where it still holds the claim)."""
        for alias in aliases:
            with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
                self._db.delete_item(TableName=self._table, Key=_key(tenant, alias),
                                     ConditionExpression="#owner = :name", ExpressionAttributeNames={"#owner": "owner"},
                                     ExpressionAttributeValues={":name": {"S": name}})
