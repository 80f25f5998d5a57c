"""Who is calling: the principal the authorizer resolved, and the permission check every route makes."""

from __future__ import annotations

from typing import Any

from sluice.models.errors import Forbidden, ServiceUnavailable, Unauthorized
from sluice.models.principal import Principal

UNAVAILABLE = "unavailable"  # the authorizer's authError when the key store could not be read


def principal_from_context(context: dict[str, Any] | None) -> Principal | None:
    """The authorizer's context (simple response) -> Principal; None when the key was not accepted."""
    if not context or not context.get("tenant"):
        return None
    permissions = frozenset(p for p in str(context.get("permissions", "")).split(",") if p)
    return Principal(str(context["tenant"]), str(context.get("keyId", "")), permissions)


def require(context: dict[str, Any] | None, *any_of: str) -> Principal:
    """The caller, if its key holds one of the permissions (none named: any valid key)."""
    principal = principal_from_context(context)
    if principal is None and context and context.get("authError") == UNAVAILABLE:
        raise ServiceUnavailable("the key could not be checked just now; try again shortly", retry_after=2)
    if principal is None:
        raise Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'")
    if any_of and not any(principal.allows(p) for p in any_of):
        raise Forbidden(f"this key lacks the permission {' or '.join(any_of)}")
    return principal
