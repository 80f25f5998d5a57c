"""Who is calling: a key's tenant and permissions."""

from __future__ import annotations

from dataclasses import dataclass

PERMISSIONS = frozenset({
    "imports:write", "imports:read", "exports:write", "exports:read", "records:read", "records:write",
    "schemas:write", "keys:admin", "*",
})


@dataclass(frozen=True)
class Principal:
    tenant: str
    key_id: str
    permissions: frozenset[str]

    def allows(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions
