"""Routes of an item type's named column mappings (API.md, "Mappings")."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api.bodies import MappingRequest
from sluice.api.request import body_as, checked_item_type, json_response, principal
from sluice.models.errors import BadRequest, NotFound
from sluice.models.ids import is_name
from sluice.models.itemtype import ItemType
from sluice.store.clients import get_clients
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.mappings import MappingStore

router = APIGatewayHttpRouter()
READERS = ("schemas:write", "imports:read", "imports:write")


def _item_type(tenant: str, name: str) -> ItemType:
    found = ItemTypeStore(get_clients()).get(tenant, checked_item_type(name))
    if found is None:
        raise NotFound(f"item type '{name}' not found")
    return found


def _checked_name(name: str) -> str:
    if not is_name(name):
        raise BadRequest("mapping names match [A-Za-z][A-Za-z0-9_-]{0,63}")
    return name


@router.put("/v1/item-types/<item_type>/mappings/<name>")
def put_mapping(item_type: str, name: str) -> Response:
    event = router.current_event
    caller = principal(event, "schemas:write")
    found = _item_type(caller.tenant, item_type)
    wanted = body_as(event, MappingRequest, "{\"columns\": {\"<source header>\": \"<field>\"}}")
    unknown = sorted({f for f in wanted.columns.values() if f not in found.definition.fields})
    if unknown:
        raise BadRequest(f"columns map to fields item type '{found.name}' does not have: {', '.join(unknown)}")
    view, created = MappingStore(get_clients()).put(caller.tenant, found.name, _checked_name(name), wanted.columns)
    return json_response(view, 201 if created else 200)


@router.get("/v1/item-types/<item_type>/mappings")
def list_mappings(item_type: str) -> dict[str, Any]:
    caller = principal(router.current_event, *READERS)
    found = _item_type(caller.tenant, item_type)
    return {"items": MappingStore(get_clients()).list(caller.tenant, found.name)}


@router.get("/v1/item-types/<item_type>/mappings/<name>")
def get_mapping(item_type: str, name: str) -> dict[str, Any]:
    caller = principal(router.current_event, *READERS)
    found = _item_type(caller.tenant, item_type)
    view = MappingStore(get_clients()).view(caller.tenant, found.name, _checked_name(name))
    if view is None:
        raise NotFound(f"item type '{found.name}' has no mapping '{name}'")
    return view


@router.delete("/v1/item-types/<item_type>/mappings/<name>")
def delete_mapping(item_type: str, name: str) -> Response:
    caller = principal(router.current_event, "schemas:write")
    found = _item_type(caller.tenant, item_type)
    if not MappingStore(get_clients()).delete(caller.tenant, found.name, _checked_name(name)):
        raise NotFound(f"item type '{found.name}' has no mapping '{name}'")
    return Response(status_code=204, body="")
