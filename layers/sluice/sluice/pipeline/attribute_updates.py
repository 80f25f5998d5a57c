"""Synchronous bulk attribute updates: set a few attributes on many existing records, now.

Each record changes by one conditional PutItem on its bookkeeping (`m`, which holds the version): if
another writer got there first, the record is read again and the values re-applied, so concurrent
updates never lose a value. Records are read 100 at a time; writes go out in parallel."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sluice.models.clock import now_ms
from sluice.models.errors import PayloadTooLarge
from sluice.models.itemtype import ItemType
from sluice.models.schemas import FieldError, compile_field, is_blank, short
from sluice.store import dynamo
from sluice.store.clients import Clients
from sluice.store.dynamo import conditional_write
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.records import RecordMeta, decode_attributes, encode_attributes, partition, shard_of

MAX_VALUES = 1000
WRITE_THREADS = 16
MAX_ATTEMPTS = 8


class AttributeValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attribute: str = Field(max_length=64)
    value: Any = None


class UpdateEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    itemType: str = Field(max_length=64)
    key: str = Field(max_length=1024)
    values: list[AttributeValue]


@dataclass
class _Record:
    """The values aimed at one record, in request order, and what became of each."""

    item_type: ItemType
    key: str
    values: list[tuple[int, AttributeValue]] = field(default_factory=list)  # (position in request, value)
    coerced: dict[str, Any] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    value_errors: dict[int, Problem] = field(default_factory=dict)
    error: Problem | None = None


@dataclass(frozen=True)
class Problem:
    """Why an entry or a value was not applied: a stable code (for the seed doors' own messages) and the text."""

    code: Literal["unknown_item_type", "not_found", "conflict", "unknown_attribute", "key_attribute", "required",
                  "invalid"]
    message: str


@dataclass(frozen=True)
class EntryOutcome:
    """What became of one entry of a request: its own problem, if any, and each value's, in request order."""

    entry: UpdateEntry
    problem: Problem | None
    values: list[Problem | None]


def apply_updates(clients: Clients, tenant: str, source: str, entries: list[UpdateEntry]) -> dict[str, Any]:
    """POST /v1/attribute-updates: applies the entries and answers with the counts and the errors."""
    return _reply(update_records(clients, tenant, source, entries))


def update_records(clients: Clients, tenant: str, source: str, entries: list[UpdateEntry]) -> list[EntryOutcome]:
    """Applies what can be applied; says, entry by entry and value by value, what was not and why."""
    total = sum(len(e.values) for e in entries)
    if total > MAX_VALUES:
        raise PayloadTooLarge(f"the request holds {total} attribute values; at most {MAX_VALUES} a request")
    item_types = ItemTypeStore(clients)
    known: dict[str, ItemType | None] = {}
    records: dict[tuple[str, str], _Record] = {}
    failed_entries: list[tuple[UpdateEntry, Problem]] = []
    position = 0
    for entry in entries:
        if entry.itemType not in known:
            known[entry.itemType] = item_types.get(tenant, entry.itemType)
        item_type = known[entry.itemType]
        if item_type is None:
            failed_entries.append((entry, Problem("unknown_item_type", f"unknown item type '{entry.itemType}'")))
            position += len(entry.values)
            continue
        record = records.setdefault((entry.itemType, entry.key), _Record(item_type, entry.key))
        for value in entry.values:
            record.values.append((position, value))
            position += 1
    for record in records.values():
        _validate(record)
    _load_and_write(clients, tenant, source, list(records.values()))
    return _outcomes(entries, records, failed_entries)


def _validate(record: _Record) -> None:
    definition = record.item_type.definition
    key_fields = set(definition.key or [])
    for position, value in record.values:
        spec = definition.fields.get(value.attribute)
        if spec is None:
            record.value_errors[position] = Problem("unknown_attribute", f"unknown attribute '{value.attribute}' "
                                                                         f"for item type {record.item_type.name}")
        elif value.attribute in key_fields:
            record.value_errors[position] = Problem("key_attribute", "is part of the record key and cannot be changed")
        elif is_blank(value.value):
            if spec.required:
                record.value_errors[position] = Problem("required", "is required")
            else:
                record.removed.add(value.attribute)
                record.coerced.pop(value.attribute, None)
        else:
            try:
                record.coerced[value.attribute] = compile_field(spec)(value.value)
                record.removed.discard(value.attribute)
            except FieldError as exc:
                record.value_errors[position] = Problem("invalid", str(exc))


def _load_and_write(clients: Clients, tenant: str, source: str, records: list[_Record]) -> None:
    table = clients.settings.records_table
    db = clients.dynamodb

    def key_of(record: _Record) -> dict[str, Any]:
        shard = shard_of(record.key, record.item_type.shards)
        return {"pk": {"S": partition(tenant, record.item_type.name, shard)}, "sk": {"S": record.key}}

    current: dict[tuple[str, str], dict[str, Any]] = {}
    for item in dynamo.batch_get(db, table, [key_of(r) for r in records]):
        current[(item["pk"]["S"], item["sk"]["S"])] = item

    def write(record: _Record) -> None:
        key = key_of(record)
        item = current.get((key["pk"]["S"], key["sk"]["S"]))
        for _ in range(MAX_ATTEMPTS):
            if item is None:
                record.error = Problem("not_found", f"no {record.item_type.name} record with key '{record.key}'")
                return
            if not (record.coerced or record.removed):
                return
            attributes = {k: v for k, v in decode_attributes(item["a"]).items() if k not in record.removed}
            attributes.update(record.coerced)
            meta = RecordMeta.decode(item["m"]["S"])
            stamp = RecordMeta(meta.version + 1, meta.created_ms, now_ms(), meta.job_id, meta.row, meta.outcome,
                               source)
            written = {**key, "a": encode_attributes(attributes), "m": {"S": stamp.encode()}}
            if conditional_write(db, "PutItem", lambda current: current == written,  # noqa: B023 (called at once)
                                 TableName=table, Item=written, ConditionExpression="m = :seen",
                                 ExpressionAttributeValues={":seen": item["m"]}) is not None:
                return
            item = db.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        record.error = Problem("conflict", "the record kept changing while being updated; try again")

    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        list(pool.map(write, records))


def _outcomes(entries: list[UpdateEntry], records: dict[tuple[str, str], _Record],
              failed_entries: list[tuple[UpdateEntry, Problem]]) -> list[EntryOutcome]:
    entry_problems = {id(entry): problem for entry, problem in failed_entries}
    out: list[EntryOutcome] = []
    position = 0
    for entry in entries:
        problem = entry_problems.get(id(entry))
        record = records.get((entry.itemType, entry.key))
        if problem is None and record is not None and record.error:
            problem = record.error
        values: list[Problem | None] = []
        for _ in entry.values:
            values.append(problem or (record.value_errors.get(position) if record else None))
            position += 1
        out.append(EntryOutcome(entry, problem, values))
    return out


def _reply(outcomes: list[EntryOutcome]) -> dict[str, Any]:
    success = errors = 0
    out: list[dict[str, Any]] = []
    for outcome in outcomes:
        entry = outcome.entry
        failed_values = [{"attribute": value.attribute, "value": _shown(value.value), "error": problem.message}
                         for value, problem in zip(entry.values, outcome.values, strict=True) if problem]
        errors += len(failed_values)
        success += len(entry.values) - len(failed_values)
        if failed_values:
            out.append({"itemType": entry.itemType, "key": entry.key,
                        "error": outcome.problem.message if outcome.problem
                        else f"{len(failed_values)} of {len(entry.values)} values not applied",
                        "values": failed_values})
    return {"successCount": success, "errorCount": errors, "errors": out}


def _shown(value: Any) -> Any:
    return short(value) if isinstance(value, str) else value

