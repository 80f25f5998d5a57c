"""Routes of records and synchronous attribute updates."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api.audit import audit
from sluice.api.http import parse_limit
from sluice.api.request import checked_item_type, json_body, principal, query
from sluice.models.errors import BadRequest, NotFound
from sluice.models.itemtype import ItemType
from sluice.models.limits import MAX_KEY_BYTES
from sluice.pipeline.attribute_updates import UpdateEntry, apply_updates
from sluice.store.clients import get_clients
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.records import RecordStore

router = APIGatewayHttpRouter()


def _item_type(tenant: str, name: str) -> ItemType:
    found = ItemTypeStore(get_clients()).get(tenant, checked_item_type(name))
    if found is None:
        raise NotFound(f"item type '{name}' not found")
    return found


@router.get("/v1/records/<item_type>")
def list_records(item_type: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "records:read")
    found = _item_type(caller.tenant, item_type)
    params = query(event, "limit", "cursor")
    limit = parse_limit(params.get("limit"), default=100, maximum=1000)
    items, cursor = RecordStore(get_clients()).page(found, limit, params.get("cursor"))
    return {"items": items, "nextCursor": cursor}


def _record_key(item_type: ItemType, key: str) -> str:
    """The path's key; one longer than any key can be (DynamoDB would refuse to look it up) names no record."""
    text = unquote(key)
    if len(text.encode()) > MAX_KEY_BYTES:
        raise NotFound(f"no {item_type.name} record with that key: keys are at most {MAX_KEY_BYTES} bytes")
    return text


@router.get("/v1/records/<item_type>/<key>")
def get_record(item_type: str, key: str) -> dict[str, Any]:
    caller = principal(router.current_event, "records:read")
    found = _item_type(caller.tenant, item_type)
    record = RecordStore(get_clients()).get(found, _record_key(found, key))
    if record is None:
        raise NotFound(f"no {found.name} record with key '{unquote(key)}'")
    return record


@router.delete("/v1/records/<item_type>/<key>")
def delete_record(item_type: str, key: str) -> Response:
    event = router.current_event
    caller = principal(event, "records:write")
    found = _item_type(caller.tenant, item_type)
    if not RecordStore(get_clients()).delete_one(found, _record_key(found, key)):
        raise NotFound(f"no {found.name} record with key '{unquote(key)}'")
    audit(event, caller, "record.delete", f"{found.name}/{unquote(key)}")
    return Response(status_code=204)


@router.post("/v1/attribute-updates")
def attribute_updates() -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "records:write")
    body = json_body(event)
    if not isinstance(body, list):
        raise BadRequest("the body must be a JSON array of {\"itemType\", \"key\", \"values\": [...]} entries")
    entries = [UpdateEntry.model_validate(entry) for entry in body]
    return apply_updates(get_clients(), caller.tenant, f"attribute-updates:{caller.key_id}", entries)
