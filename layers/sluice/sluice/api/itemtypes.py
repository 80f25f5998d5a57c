"""Routes of item types (schemas)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api.audit import audit
from sluice.api.http import parse_bool
from sluice.api.jobs import job_response
from sluice.api.request import checked_item_type, json_body, json_response, principal, query
from sluice.models.errors import BadRequest, Conflict, NotFound
from sluice.models.schemas import ItemTypeDefinition, misplaced_bounds
from sluice.pipeline.revert import start_purge
from sluice.store.clients import get_clients
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.records import RecordStore

router = APIGatewayHttpRouter()
READERS = ("schemas:write", "imports:read", "imports:write")


@router.put("/v1/item-types/<item_type>")
def put_item_type(item_type: str) -> Response:
    event = router.current_event
    caller = principal(event, "schemas:write")
    body = json_body(event)
    if (misplaced := misplaced_bounds(body)) is not None:
        raise BadRequest(misplaced, code="invalid_request")
    definition = ItemTypeDefinition.model_validate(body)
    name = checked_item_type(item_type)
    clients = get_clients()
    existing = ItemTypeStore(clients).get(caller.tenant, name)
    rekeyed = existing is not None and (existing.definition.key or []) != (definition.key or [])
    if existing is not None and rekeyed and RecordStore(clients).any(existing):
        before = ", ".join(existing.definition.key or []) or "(none: generated ids)"
        after = ", ".join(definition.key or []) or "(none: generated ids)"
        raise Conflict(f"item type '{name}' has records keyed by {before}; changing its key to {after} would leave "
                       f"them under keys no row can name again. Purge it first (DELETE /v1/item-types/{name}"
                       "?purge=true, after an export if the records are needed) or create a new item type")
    stored, created = ItemTypeStore(clients).put(caller.tenant, name, definition)
    if rekeyed:
        audit(event, caller, "itemType.rekey", name, key=definition.key or [])
    return json_response(stored.view(), 201 if created else 200)


@router.delete("/v1/item-types/<item_type>")
def delete_item_type(item_type: str) -> Response:
    event = router.current_event
    caller = principal(event, "schemas:write")
    purge = parse_bool("purge", query(event, "purge").get("purge"))
    clients = get_clients()
    found = ItemTypeStore(clients).get(caller.tenant, checked_item_type(item_type))
    if found is None:
        raise NotFound(f"item type '{item_type}' not found")
    if RecordStore(clients).any(found):
        if not purge:
            raise Conflict(f"item type '{found.name}' has records; DELETE /v1/item-types/{found.name}?purge=true "
                           "deletes them (a delete job) and then the item type")
        job = start_purge(clients, caller, found)
        audit(event, caller, "itemType.purge", found.name, jobId=job.jobId)
        return job_response(job, 202, caller)
    ItemTypeStore(clients).delete(caller.tenant, found.name)
    audit(event, caller, "itemType.delete", found.name)
    return Response(status_code=204)


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
