"""Routes of item types (schemas)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api.request import checked_item_type, json_body, json_response, principal
from sluice.models.errors import NotFound
from sluice.models.schemas import ItemTypeDefinition
from sluice.store.clients import get_clients
from sluice.store.itemtypes import ItemTypeStore

router = APIGatewayHttpRouter()
READERS = ("schemas:write", "imports:read", "imports:write")


@router.put("/v1/item-types/<item_type>")
def put_item_type(item_type: str) -> Response:
    caller = principal(router.current_event, "schemas:write")
    definition = ItemTypeDefinition.model_validate(json_body(router.current_event))
    stored, created = ItemTypeStore(get_clients()).put(caller.tenant, checked_item_type(item_type), definition)
    return json_response(stored.view(), 201 if created else 200)


@router.get("/v1/item-types")
def list_item_types() -> dict[str, Any]:
    caller = principal(router.current_event, *READERS)
    return {"items": [t.view() for t in ItemTypeStore(get_clients()).list(caller.tenant)]}


@router.get("/v1/item-types/<item_type>")
def get_item_type(item_type: str) -> dict[str, Any]:
    caller = principal(router.current_event, *READERS)
    found = ItemTypeStore(get_clients()).get(caller.tenant, checked_item_type(item_type))
    if found is None:
        raise NotFound(f"item type '{item_type}' not found")
    return found.view()
