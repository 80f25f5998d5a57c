"""The record store: imported records, spread over several partition keys per item type.

A record's partition is `{tenant}#{itemType}#{shard}` with shard = crc32(key) mod the item type's
shard count, so one large import writes to many partitions; reads of a page query every shard and
merge them in key order."""

from __future__ import annotations

import heapq
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.errors import BadRequest
from sluice.models.itemtype import ItemType
from sluice.models.job import Outcome
from sluice.store import dynamo
from sluice.store.clients import Clients
from sluice.store.dynamo import BAD_CURSOR, decode_cursor, encode_cursor, from_av
from sluice.store.undo import StoredItem, UndoEntry


def shard_of(key: str, shards: int) -> int:
    return zlib.crc32(key.encode()) % shards


def partition(tenant: str, item_type: str, shard: int) -> str:
    return f"{tenant}#{item_type}#{shard:02d}"


def _exact_number(value: Any) -> orjson.Fragment:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"cannot store {type(value).__name__}")


def encode_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """A record's attributes as stored: one JSON text attribute `a`, numbers exact (a decimal keeps every
    digit). One string rather than a map of typed attributes: the client serialises and DynamoDB parses one
    value per record instead of one per field, which is most of the cost of a write (see docs/benchmarks.md)."""
    return {"S": orjson.dumps(attributes, default=_exact_number).decode()}


def decode_attributes(stored: dict[str, Any]) -> dict[str, Any]:
    """`a` as read: JSON text (integers as int, other numbers as Decimal), or a map of typed attributes as
    records written before 2026-12 hold them."""
    if "S" in stored:
        return dict(json.loads(stored["S"], parse_float=Decimal))
    return dict(from_av(stored))


@dataclass(frozen=True)
class RecordMeta:
    """A record's bookkeeping, stored as one string attribute `m`: the version, when it was created and
    last written, and which job and row wrote it with what outcome (how a replayed chunk knows its own
    writes). One attribute rather than six keeps items small and cheap to write."""

    version: int
    created_ms: int
    updated_ms: int
    job_id: str
    row: int
    outcome: str
    source: str = "import"  # what wrote last: an import job, or "attribute-updates:<keyId>"

    def encode(self) -> str:
        return (f"{self.version}|{self.created_ms}|{self.updated_ms}|{self.job_id}|{self.row}|{self.outcome}"
                f"|{self.source}")

    @classmethod
    def decode(cls, text: str) -> RecordMeta:
        version, created, updated, job_id, row, outcome, source = text.split("|", 6)
        return cls(int(version), int(created), int(updated), job_id, int(row), outcome, source)


@dataclass
class Candidate:
    """A valid row, ready to be applied."""

    row: int
    key: str
    attributes: dict[str, Any]


def stored(item: dict[str, Any]) -> StoredItem:
    """A stored record without its table keys."""
    return {"a": item["a"], "m": item["m"]}


def _json_value(value: Any, as_text: bool) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value) if as_text else value


def record_view(item_type: str, item: dict[str, Any], decimal_fields: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A stored record as the API shows it: typed JSON, decimals as strings."""
    attributes = decode_attributes(item["a"])
    meta = RecordMeta.decode(item["m"]["S"])
    return {
        "itemType": item_type,
        "key": item["sk"]["S"],
        "attributes": {k: _json_value(v, k in decimal_fields) for k, v in attributes.items()},
        "version": meta.version,
        "createdAt": iso_from_ms(meta.created_ms),
        "updatedAt": iso_from_ms(meta.updated_ms),
        "lastJobId": meta.job_id or None,
        "lastUpdateSource": meta.source,
    }


class RecordStore:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.records_table
        self.calls = {"BatchGetItem": 0, "BatchWriteItem": 0}

    def _key(self, tenant: str, item_type: str, shards: int, key: str) -> dict[str, Any]:
        return {"pk": {"S": partition(tenant, item_type, shard_of(key, shards))}, "sk": {"S": key}}

    def apply(self, tenant: str, item_type: str, shards: int, job_id: str, candidates: list[Candidate],
              *, merge: bool, dry_run: bool, keep_before: Callable[[list[UndoEntry]], None] | None = None
              ) -> dict[int, Outcome]:
        """Classifies each candidate as created / updated / unchanged and writes the changes.

        Replays are recognised by the record's own stamp: a record last written by this job for this
        row was applied by an earlier attempt of this chunk, and keeps the outcome stamped on it.
        keep_before: given the records as they were before the writes (read anyway to classify the rows),
        called before anything is written."""
        keys = [self._key(tenant, item_type, shards, c.key) for c in candidates]
        existing: dict[str, dict[str, Any]] = {}
        if keys:
            for item in dynamo.batch_get(self._db, self._table, keys):
                existing[item["sk"]["S"]] = item
            self.calls["BatchGetItem"] += (len(keys) + dynamo.BATCH_GET_MAX - 1) // dynamo.BATCH_GET_MAX
        outcomes: dict[int, Outcome] = {}
        writes: list[dict[str, Any]] = []
        befores: list[UndoEntry] = []
        now = now_ms()
        for candidate, key in zip(candidates, keys, strict=True):
            current = existing.get(candidate.key)
            meta = RecordMeta.decode(current["m"]["S"]) if current is not None else None
            if meta is not None and meta.job_id == job_id and meta.row == candidate.row:
                outcomes[candidate.row] = Outcome(meta.outcome)
                continue
            if current is None or meta is None:
                outcome, attributes, version, created = Outcome.CREATED, candidate.attributes, 1, now
            else:
                before = decode_attributes(current["a"])
                attributes = {**before, **candidate.attributes} if merge else candidate.attributes
                if attributes == before:
                    outcomes[candidate.row] = Outcome.UNCHANGED
                    continue
                outcome, version, created = Outcome.UPDATED, meta.version + 1, meta.created_ms
            outcomes[candidate.row] = outcome
            stamp = RecordMeta(version, created, now, job_id, candidate.row, outcome.value)
            writes.append({**key, "a": encode_attributes(attributes), "m": {"S": stamp.encode()}})
            befores.append({"row": candidate.row, "key": candidate.key, "outcome": outcome.value, "version": version,
                            "before": stored(current) if current is not None else None})
        if writes and not dry_run and keep_before is not None:
            keep_before(befores)
        if writes and not dry_run:
            self.calls["BatchWriteItem"] += dynamo.batch_write(self._db, self._table, writes)
        return outcomes

    def read(self, tenant: str, item_type: str, shards: int, keys: list[str]) -> dict[str, StoredItem]:
        """The stored records of these keys (absent keys are missing from the answer)."""
        wanted = [self._key(tenant, item_type, shards, key) for key in dict.fromkeys(keys)]
        if not wanted:
            return {}
        self.calls["BatchGetItem"] += (len(wanted) + dynamo.BATCH_GET_MAX - 1) // dynamo.BATCH_GET_MAX
        return {item["sk"]["S"]: stored(item) for item in dynamo.batch_get(self._db, self._table, wanted)}

    def put_stored(self, tenant: str, item_type: str, shards: int, items: dict[str, StoredItem]) -> None:
        """Writes records exactly as given (a revert's restored before-images)."""
        if items:
            puts = [{**self._key(tenant, item_type, shards, key), **item} for key, item in items.items()]
            self.calls["BatchWriteItem"] += dynamo.batch_write(self._db, self._table, puts)

    def delete(self, tenant: str, item_type: str, shards: int, keys: list[str]) -> None:
        if keys:
            wanted = [self._key(tenant, item_type, shards, key) for key in keys]
            self.calls["BatchWriteItem"] += dynamo.batch_delete(self._db, self._table, wanted)

    def delete_one(self, item_type: ItemType, key: str) -> bool:
        """Deletes one record; False when there was none."""
        response = self._db.delete_item(TableName=self._table,
                                        Key=self._key(item_type.tenant, item_type.name, item_type.shards, key),
                                        ReturnValues="ALL_OLD")
        return bool(response.get("Attributes"))

    def any(self, item_type: ItemType) -> bool:
        """Whether the item type has at least one record (one small query a shard)."""
        for shard in range(item_type.shards):
            response = self._db.query(TableName=self._table, KeyConditionExpression="pk = :pk", Limit=1,
                                      ExpressionAttributeValues={":pk": {"S": partition(item_type.tenant,
                                                                                          item_type.name, shard)}},
                                      ProjectionExpression="sk")
            if response.get("Items"):
                return True
        return False

    def keys(self, item_type: ItemType) -> Iterator[str]:
        """Every record key of the item type, shard after shard (a purge's worklist)."""
        for shard in range(item_type.shards):
            yield from (item["sk"]["S"] for item in dynamo.query_pages(
                self._db, TableName=self._table, KeyConditionExpression="pk = :pk", ProjectionExpression="sk",
                ExpressionAttributeValues={":pk": {"S": partition(item_type.tenant, item_type.name, shard)}}))

    def existing(self, tenant: str, item_type: str, shards: int, keys: list[str]) -> set[str]:
        """Which of the keys have a stored record."""
        wanted = [self._key(tenant, item_type, shards, key) for key in dict.fromkeys(keys)]
        if not wanted:
            return set()
        self.calls["BatchGetItem"] += (len(wanted) + dynamo.BATCH_GET_MAX - 1) // dynamo.BATCH_GET_MAX
        return {item["sk"]["S"] for item in dynamo.batch_get(self._db, self._table, wanted)}

    def get(self, item_type: ItemType, key: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._table,
                                     Key=self._key(item_type.tenant, item_type.name, item_type.shards, key))
        item = response.get("Item")
        return record_view(item_type.name, item, item_type.decimal_fields) if item else None

    def page(self, item_type: ItemType, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of records in key order across every shard, and the cursor to the next page."""
        after = decode_cursor(cursor) if cursor else None
        if after is not None and not isinstance(after, str):
            raise BadRequest(BAD_CURSOR)
        streams = []
        for shard in range(item_type.shards):
            values: dict[str, Any] = {":pk": {"S": partition(item_type.tenant, item_type.name, shard)}}
            condition = "pk = :pk"
            if after is not None:
                condition += " AND sk > :after"
                values[":after"] = {"S": after}
            response = self._db.query(TableName=self._table, KeyConditionExpression=condition,
                                      ExpressionAttributeValues=values, Limit=limit)
            items = response.get("Items", [])
            streams.append(items)
        merged = list(heapq.merge(*streams, key=lambda i: i["sk"]["S"]))
        page = merged[:limit]
        more = len(merged) > limit or any(len(s) == limit for s in streams)
        next_after = page[-1]["sk"]["S"] if page and more else None
        views = [record_view(item_type.name, i, item_type.decimal_fields) for i in page]
        return views, encode_cursor(next_after) if next_after else None

    def every(self, item_type: ItemType) -> Iterator[dict[str, Any]]:
        """Every record of the item type in key order across shards: `key`, its attributes (as stored) and
        `_version`."""

        def shard(number: int) -> Iterator[dict[str, Any]]:
            key = {":pk": {"S": partition(item_type.tenant, item_type.name, number)}}
            yield from dynamo.query_pages(self._db, TableName=self._table, KeyConditionExpression="pk = :pk",
                                          ExpressionAttributeValues=key)

        for item in heapq.merge(*(shard(n) for n in range(item_type.shards)), key=lambda i: i["sk"]["S"]):
            version = RecordMeta.decode(item["m"]["S"]).version
            yield {"key": item["sk"]["S"], **decode_attributes(item["a"]), "_version": version}
