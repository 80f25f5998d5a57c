"""002 - LearningBuilder SetAttributeValues: `POST /API/WorkflowInstance/SetAttributeValues` with a JSON array of
`{"entityTypeAbbr", "wfiId", "values": [{"attrDefId", "val"}]}`, answered `{"successCount", "errorCount",
"errors": [...]}` with the seed's own messages.

A thin translator over `pipeline.attribute_updates.update_records` (what `POST /v1/attribute-updates` runs):
`entityTypeAbbr` names the item type (its name, else an alias), `wfiId` is the record key (a number as its
decimal text), `attrDefId` the field whose `id` it is. Counts are of values applied and not applied, as on /v1.
Request-level errors are ASP.NET Web API's shape, `{"Message": "..."}`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api.doors.common import seed_errors
from sluice.api.doors.learningbuilder import error
from sluice.api.request import json_body, json_response, principal
from sluice.models.errors import BadRequest, PayloadTooLarge
from sluice.models.itemtype import ItemType
from sluice.models.schemas import short
from sluice.pipeline.attribute_updates import (
    MAX_VALUES,
    AttributeValue,
    EntryOutcome,
    Problem,
    UpdateEntry,
    update_records,
)
from sluice.store.clients import get_clients
from sluice.store.itemtypes import ItemTypeStore

router = APIGatewayHttpRouter()
PATH = "/API/WorkflowInstance/SetAttributeValues"
PERMISSION = "SetAttributeValues"
SHAPE = '[{"entityTypeAbbr": "AI", "wfiId": 123, "values": [{"attrDefId": 555, "val": "some new value"}]}]'
UNEXPECTED = "An unexpected error occurred while updating the record."


@dataclass
class _Value:
    attr_def_id: Any  # as sent, echoed back
    val: Any
    field: str | None  # the field with that id; None: no such attribute


@dataclass
class _Entry:
    abbr: Any
    wfi_id: Any
    key: str
    values: list[_Value]
    item_type: ItemType | None = None


@router.post(PATH)
@seed_errors(error)
def set_attribute_values() -> Response:
    event = router.current_event
    caller = principal(event, PERMISSION, "records:write")
    body = json_body(event)
    if not isinstance(body, list):
        raise BadRequest(f"The request body must be a JSON array such as {SHAPE}")
    entries = [_entry(position, raw) for position, raw in enumerate(body, start=1)]
    total = sum(len(e.values) for e in entries)
    if total > MAX_VALUES:
        raise PayloadTooLarge(f"The request holds {total} attribute values; at most {MAX_VALUES} a request")
    clients = get_clients()
    item_types = ItemTypeStore(clients)
    known: dict[str, ItemType | None] = {}
    for entry in entries:
        abbr = str(entry.abbr)
        if abbr not in known:
            known[abbr] = item_types.resolve(caller.tenant, abbr)
        entry.item_type = known[abbr]
        if entry.item_type is not None:
            ids = {spec.id: name for name, spec in entry.item_type.definition.fields.items() if spec.id is not None}
            for value in entry.values:
                value.field = ids.get(_as_id(value.attr_def_id))
    sent = [e for e in entries if e.item_type is not None]
    outcomes = update_records(clients, caller.tenant, f"attribute-updates:{caller.key_id}", [
        UpdateEntry(itemType=e.item_type.name, key=e.key,  # type: ignore[union-attr]  # sent: item_type is set
                    values=[AttributeValue(attribute=v.field, value=v.val) for v in e.values if v.field])
        for e in sent])
    return json_response(_reply(entries, dict(zip((id(e) for e in sent), outcomes, strict=True))))


def _entry(position: int, raw: Any) -> _Entry:
    """One element of the array; property names match case-insensitively, as ASP.NET's JSON binding does."""
    if not isinstance(raw, dict):
        raise BadRequest(f"Element {position} of the array must be an object such as {SHAPE[1:-1]}")
    fields = {str(k).lower(): v for k, v in raw.items()}
    abbr, wfi_id, values = fields.get("entitytypeabbr"), fields.get("wfiid"), fields.get("values")
    if not isinstance(abbr, str | int) or isinstance(abbr, bool) or not str(abbr).strip():
        raise BadRequest(f"Element {position}: entityTypeAbbr is required (the entity type, such as \"AI\")")
    key = _key(wfi_id)
    if key is None:
        raise BadRequest(f"Element {position}: wfiId is required (the ID of the Workflow Instance)")
    if not isinstance(values, list):
        raise BadRequest(f"Element {position}: values must be an array of {{\"attrDefId\", \"val\"}}")
    parsed = []
    for index, value in enumerate(values, start=1):
        if not isinstance(value, dict):
            raise BadRequest(f"Element {position}, value {index}: must be an object {{\"attrDefId\", \"val\"}}")
        value_fields = {str(k).lower(): v for k, v in value.items()}
        if "attrdefid" not in value_fields:
            raise BadRequest(f"Element {position}, value {index}: attrDefId is required")
        parsed.append(_Value(value_fields["attrdefid"], value_fields.get("val"), None))
    return _Entry(abbr, wfi_id, key, parsed)


def _key(wfi_id: Any) -> str | None:
    """The record key a wfiId names: a number as its decimal text, text as it is."""
    if isinstance(wfi_id, bool) or wfi_id is None:
        return None
    if isinstance(wfi_id, float):
        return str(int(wfi_id)) if wfi_id.is_integer() else None
    text = str(wfi_id).strip()
    return text or None


def _as_id(attr_def_id: Any) -> int | None:
    if isinstance(attr_def_id, bool):
        return None
    if isinstance(attr_def_id, int):
        return attr_def_id
    if isinstance(attr_def_id, float) and attr_def_id.is_integer():
        return int(attr_def_id)
    if isinstance(attr_def_id, str) and attr_def_id.strip().isdigit():
        return int(attr_def_id.strip())
    return None


def _reply(entries: list[_Entry], outcomes: dict[int, EntryOutcome]) -> dict[str, Any]:
    success = errors = 0
    listed: list[dict[str, Any]] = []
    for entry in entries:
        outcome = outcomes.get(id(entry))
        entry_error = _entry_error(entry, outcome)
        sent_problems = iter(outcome.values if outcome else [])
        values = []
        failed = 0
        for value in entry.values:
            problem = next(sent_problems) if value.field else None
            value_error = None if entry_error else _value_error(entry, value, problem)
            failed += 1 if entry_error or value_error else 0
            shown: dict[str, Any] = {"attrDefId": value.attr_def_id, "val": short(value.val)
                                     if isinstance(value.val, str) else value.val}
            if value_error:
                shown["error"] = value_error
            values.append(shown)
        success += len(entry.values) - failed
        errors += failed
        if entry_error or failed:
            listed.append({"entityTypeAbbr": entry.abbr, "wfiId": entry.wfi_id,
                           **({"error": entry_error} if entry_error else {}), "values": values})
    return {"successCount": success, "errorCount": errors, "errors": listed}


def _entry_error(entry: _Entry, outcome: EntryOutcome | None) -> str | None:
    """The seed's entity- or instance-level message: no such entity type or record, or a failed write."""
    problem = outcome.problem if outcome else None
    if entry.item_type is None or (problem and problem.code in ("unknown_item_type", "not_found")):
        return f'Workflow Instance #{entry.wfi_id} was not found for entity "{entry.abbr}"'
    return UNEXPECTED if problem else None


def _value_error(entry: _Entry, value: _Value, problem: Problem | None) -> str | None:
    if value.field is None:
        return f'Attribute Definition #{value.attr_def_id} does not exist for entity "{entry.abbr}"'
    if problem is None:
        return None
    if problem.code == "key_attribute":
        return f"Attribute Definition #{value.attr_def_id} is an Intrinsic Attribute and is not supported"
    return problem.message  # the schema's own message for a value it rejects
