"""Routes about the API itself: health, its OpenAPI document, and who the caller is."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api import openapi
from sluice.api.request import principal
from sluice.models.errors import Forbidden
from sluice.models.principal import GENERAL_PERMISSIONS
from sluice.store.clients import get_clients
from sluice.store.keys import KeyStore

router = APIGatewayHttpRouter()


@router.get("/v1/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/v1/openapi.json")
def openapi_document() -> dict[str, Any]:
    return openapi.document()


@router.get("/v1/whoami")
def whoami() -> dict[str, Any]:
    """What the calling key may do (any valid key but one holding only seed permissions, which open exactly their
    seed route): the console greys out what it may not."""
    caller = principal(router.current_event)
    if not caller.permissions & GENERAL_PERMISSIONS:
        raise Forbidden(f"this key holds only {', '.join(sorted(caller.permissions))}, which opens its seed route "
                        "and nothing else")
    described = KeyStore(get_clients()).describe(caller.tenant, caller.key_id)
    return {"tenant": caller.tenant, "keyId": caller.key_id, "name": described.get("name") if described else None,
            "permissions": sorted(caller.permissions)}
