"""Who is calling: a key's tenant and permissions."""

from __future__ import annotations

from dataclasses import dataclass

# The seeds' own permission names (API.md, "Seed-compatible endpoints"): each opens exactly one seed route,
# which imports:write (000) or records:write (002) opens too. A key holding only these can do nothing else.
SEED_PERMISSIONS = frozenset({"BeginWorkflowImportProcess", "SetAttributeValues"})
PERMISSIONS = frozenset({
    "imports:write", "imports:read", "exports:write", "exports:read", "records:read", "records:write",
    "schemas:write", "keys:admin", "webhooks:admin", "*",
}) | SEED_PERMISSIONS
GENERAL_PERMISSIONS = PERMISSIONS - SEED_PERMISSIONS


@dataclass(frozen=True)
class Principal:
    tenant: str
    key_id: str
    permissions: frozenset[str]

    def allows(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions

    def cannot_grant(self, permissions: list[str]) -> list[str]:
        """Of the permissions, those this principal may not put on a new key: a key grants only what it holds
        itself, and `*` only if it holds `*`."""
        if "*" in self.permissions:
            return []
        return sorted({p for p in permissions if p == "*" or p not in self.permissions})
