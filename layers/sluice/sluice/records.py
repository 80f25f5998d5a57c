"""The record store: imported records, spread over several partition keys per item type.

A record's partition is `{tenant}#{itemType}#{shard}` with shard = crc32(key) mod the item type's
shard count, so one large import writes to many partitions; reads of a page query every shard and
merge them in key order."""

from __future__ import annotations

import heapq
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sluice import dynamo
from sluice.aws import Clients
from sluice.clock import iso_from_ms, now_ms
from sluice.dynamo import from_av, to_av
from sluice.itemtypes import ItemType
from sluice.jobs import Outcome


def shard_of(key: str, shards: int) -> int:
    return zlib.crc32(key.encode()) % shards


def partition(tenant: str, item_type: str, shard: int) -> str:
    return f"{tenant}#{item_type}#{shard:02d}"


@dataclass
class Candidate:
    """A valid row, ready to be applied."""

    row: int
    key: str
    attributes: dict[str, Any]


def _json_value(value: Any, as_text: bool) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value) if as_text else value


def record_view(item_type: str, item: dict[str, Any], decimal_fields: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A stored record as the API shows it: typed JSON, decimals as strings."""
    attributes = from_av(item["a"])
    return {
        "itemType": item_type,
        "key": item["sk"]["S"],
        "attributes": {k: _json_value(v, k in decimal_fields) for k, v in attributes.items()},
        "version": int(item["v"]["N"]),
        "createdAt": iso_from_ms(int(item["ca"]["N"])),
        "updatedAt": iso_from_ms(int(item["ua"]["N"])),
        "lastJobId": item.get("lj", {}).get("S"),
    }


class RecordStore:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.records_table
        self.calls = {"BatchGetItem": 0, "BatchWriteItem": 0}

    def _key(self, tenant: str, item_type: str, shards: int, key: str) -> dict[str, Any]:
        return {"pk": {"S": partition(tenant, item_type, shard_of(key, shards))}, "sk": {"S": key}}

    def apply(self, tenant: str, item_type: str, shards: int, job_id: str, candidates: list[Candidate],
              *, merge: bool, dry_run: bool) -> dict[int, Outcome]:
        """Classifies each candidate as created / updated / unchanged and writes the changes.

        Replays are recognised by the record's own stamp: a record last written by this job for this
        row was applied by an earlier attempt of this chunk, and keeps the outcome stamped on it."""
        keys = [self._key(tenant, item_type, shards, c.key) for c in candidates]
        existing: dict[str, dict[str, Any]] = {}
        if keys:
            for item in dynamo.batch_get(self._db, self._table, keys):
                existing[item["sk"]["S"]] = item
            self.calls["BatchGetItem"] += (len(keys) + dynamo.BATCH_GET_MAX - 1) // dynamo.BATCH_GET_MAX
        outcomes: dict[int, Outcome] = {}
        writes: list[dict[str, Any]] = []
        now = str(now_ms())
        for candidate, key in zip(candidates, keys, strict=True):
            current = existing.get(candidate.key)
            if current is not None and current.get("lj", {}).get("S") == job_id \
                    and current.get("lr", {}).get("N") == str(candidate.row):
                outcomes[candidate.row] = Outcome(current["lo"]["S"])
                continue
            if current is None:
                outcome, attributes, version, created = Outcome.CREATED, candidate.attributes, 1, now
            else:
                before = from_av(current["a"])
                attributes = {**before, **candidate.attributes} if merge else candidate.attributes
                if attributes == before:
                    outcomes[candidate.row] = Outcome.UNCHANGED
                    continue
                outcome, version, created = Outcome.UPDATED, int(current["v"]["N"]) + 1, current["ca"]["N"]
            outcomes[candidate.row] = outcome
            writes.append({
                **key,
                "a": to_av(attributes),
                "v": {"N": str(version)},
                "ca": {"N": created},
                "ua": {"N": now},
                "lj": {"S": job_id},
                "lr": {"N": str(candidate.row)},
                "lo": {"S": outcome.value},
            })
        if writes and not dry_run:
            self.calls["BatchWriteItem"] += dynamo.batch_write(self._db, self._table, writes)
        return outcomes

    def get(self, item_type: ItemType, key: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._table,
                                     Key=self._key(item_type.tenant, item_type.name, item_type.shards, key))
        item = response.get("Item")
        return record_view(item_type.name, item, item_type.decimal_fields) if item else None

    def page(self, item_type: ItemType, limit: int, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of records in key order across every shard; the last key returned to continue after."""
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
        return [record_view(item_type.name, i, item_type.decimal_fields) for i in page], next_after
