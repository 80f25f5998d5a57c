"""An item type: a tenant's named schema, its version and how its records are spread."""

from __future__ import annotations

from typing import Any

from sluice.models.clock import iso_from_ms
from sluice.models.schemas import ItemTypeDefinition


class ItemType:
    def __init__(self, tenant: str, name: str, definition: ItemTypeDefinition, version: int, shards: int,
                 created_ms: int, updated_ms: int) -> None:
        self.tenant = tenant
        self.name = name
        self.definition = definition
        self.version = version
        self.shards = shards
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.decimal_fields = frozenset(n for n, spec in definition.fields.items() if spec.type == "decimal")

    def view(self) -> dict[str, Any]:
        return {
            "itemType": self.name,
            **self.definition.model_dump(mode="json", exclude_none=True),
            "version": self.version,
            "createdAt": iso_from_ms(self.created_ms),
            "updatedAt": iso_from_ms(self.updated_ms),
        }

    def snapshot(self) -> dict[str, Any]:
        """What a job keeps so that its rows are validated against the schema it was submitted under."""
        return {"definition": self.definition.model_dump_json(exclude_none=True), "version": self.version,
                "shards": self.shards}
