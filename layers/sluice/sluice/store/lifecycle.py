"""What jobs and exports share in the jobs table: one item per job under its tenant, a sparse index of the
unfinished ones (so the sweeper finds them without a scan), and status changes made by conditional writes
that recognise their own retried write.

A store never tells the outside world itself: whoever builds it may hand it a listener (see `notify/`),
which hears every status it writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import orjson
from pydantic import BaseModel

from sluice import observability
from sluice.models.clock import now_ms
from sluice.models.errors import BadRequest, Conflict
from sluice.models.job import Status, Tracked
from sluice.store import dynamo
from sluice.store.clients import Clients
from sluice.store.dynamo import (
    BAD_CURSOR,
    Item,
    conditional_write,
    decode_cursor,
    encode_cursor,
    from_item,
    to_av,
    to_item,
)

M = TypeVar("M", bound=Tracked)
M_contra = TypeVar("M_contra", bound=Tracked, contravariant=True)
_STORE_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "lastCommit")


class StatusListener(Protocol[M_contra]):
    def changed(self, item: M_contra) -> None: ...

    def finished(self, item: M_contra) -> None: ...


def tenant_pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


def plain(value: Any) -> Any:
    """Model values -> what the attribute-value codec takes."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", exclude_none=True)
    if isinstance(value, Status):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class LifecycleStore(Generic[M]):
    prefix: ClassVar[str]  # sort key prefix: JOB, EXPORT
    open_index: ClassVar[str]  # the sparse index partition listing the unfinished ones
    metric_prefix: ClassVar[str]  # Jobs, Exports: the metric counting each final status
    model: type[M]

    def __init__(self, clients: Clients, listener: StatusListener[M] | None = None) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table
        self._retention_ms = clients.settings.retention_days * 86_400_000
        self._listener = listener

    # --- the item <-> model mapping -------------------------------------------------------------

    def _key(self, tenant: str, item_id: str) -> dict[str, Any]:
        return {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": f"{self.prefix}#{item_id}"}}

    # Nested fields nothing queries are stored as one JSON string each: an attribute value tree costs every
    # reader and writer (botocore's parser, DynamoDB's item size accounting) per node.
    json_fields: ClassVar[frozenset[str]] = frozenset()

    def _stored(self, name: str, value: Any) -> Any:
        value = plain(value)
        return orjson.dumps(value).decode() if name in self.json_fields else value

    def _to_values(self, model: M) -> dict[str, Any]:
        return {name: self._stored(name, value) for name, value in model if value is not None}

    def _from_values(self, values: dict[str, Any]) -> dict[str, Any]:
        return values

    def load(self, item: Item) -> M:
        values = {k: v for k, v in from_item(item).items() if k not in _STORE_ATTRIBUTES}
        for name in self.json_fields & values.keys():
            values[name] = orjson.loads(values[name])
        return self.model.model_validate(self._from_values(values))

    def _announce(self, model: M, finished: bool = False) -> None:
        if self._listener is not None:
            self._listener.changed(model)
            if finished:
                self._listener.finished(model)

    # --- reads and writes ------------------------------------------------------------------------

    def create(self, model: M) -> None:
        values: dict[str, Any] = self._to_values(model)
        tenant, item_id = model.tenant, model.item_id
        open_entry = {"gsi1pk": self.open_index, "gsi1sk": f"{values['submitMs']:013d}#{tenant}#{item_id}"}
        item = to_item({"pk": tenant_pk(tenant), "sk": f"{self.prefix}#{item_id}", **open_entry, **values})
        written = conditional_write(self._db, "PutItem", lambda current: current.get("submitMs") == item["submitMs"],
                                    TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        if written is None:
            raise Conflict(f"{self.prefix.lower()} {item_id} exists already")
        self._announce(model)

    def get(self, tenant: str, item_id: str) -> M | None:
        response = self._db.get_item(TableName=self._table, Key=self._key(tenant, item_id), ConsistentRead=True)
        item = response.get("Item")
        return self.load(item) if item else None

    def update(self, tenant: str, item_id: str, values: dict[str, Any], *,
               allowed_from: frozenset[Status] | set[Status] | None = None) -> M | None:
        """SETs fields of the model, optionally only while the status is one of allowed_from. Returns the model
        after the update, or None when the condition did not hold."""
        updated = self._write(tenant, item_id, values, allowed_from, ())
        if updated is not None and "status" in values:
            self._announce(updated)
        return updated

    def _write(self, tenant: str, item_id: str, values: dict[str, Any],
               allowed_from: frozenset[Status] | set[Status] | None, remove: tuple[str, ...]) -> M | None:
        unknown = set(values) - set(self.model.model_fields)
        if unknown:
            raise TypeError(f"{self.model.__name__} has no field(s) {sorted(unknown)}")
        stored = {name: self._stored(name, value) for name, value in values.items()}
        names = {f"#f{i}": name for i, name in enumerate(stored)}
        attr_values = {f":v{i}": to_av(value) for i, value in enumerate(stored.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(stored)))
        if remove:
            names.update({f"#r{i}": name for i, name in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        condition = "attribute_exists(pk)"
        if allowed_from:
            names["#status"] = "status"
            placeholders = []
            for i, status in enumerate(sorted(allowed_from)):
                attr_values[f":s{i}"] = {"S": status.value}
                placeholders.append(f":s{i}")
            condition += f" AND #status IN ({', '.join(placeholders)})"
        wanted = {name: to_av(value) for name, value in stored.items()}

        def mine(current: Item) -> bool:  # this very update landed, and only its reply was lost
            return all(current.get(n) == v for n, v in wanted.items()) and not any(n in current for n in remove)

        written = conditional_write(
            self._db, "UpdateItem", mine,
            TableName=self._table, Key=self._key(tenant, item_id), UpdateExpression=expression,
            ConditionExpression=condition, ExpressionAttributeNames=names, ExpressionAttributeValues=attr_values,
            ReturnValues="ALL_NEW",
        )
        return None if written is None else self.load(written)

    def finish(self, model: M, status: Status, reason: str | None,
               allowed_from: frozenset[Status] | set[Status]) -> M | None:
        """The final status, once: also leaves the index of unfinished ones and starts the retention clock."""
        tenant, item_id, started_ms = model.tenant, model.item_id, model.startMs or model.submitMs
        finished = now_ms()
        values: dict[str, Any] = {
            "status": status, "finishMs": finished, "runTimeMs": max(0, finished - (started_ms or finished)),
            "expiresAt": (finished + self._retention_ms) // 1000,
        }
        if reason is not None:
            values["reason"] = reason
        done = self._write(tenant, item_id, values, allowed_from, ("gsi1pk", "gsi1sk"))
        if done is not None:
            observability.count(f"{self.metric_prefix}{status.value}")
            self._announce(done, finished=True)
        return done

    def page(self, tenant: str, limit: int, cursor: str | None, keep: Callable[[M], bool] = lambda _: True,
             max_reads: int = 20) -> tuple[list[M], str | None]:
        """A tenant's items newest first, those `keep` accepts, `limit` at most; and the cursor to the next page."""
        start = decode_cursor(cursor) if cursor else None
        if start is not None and (not isinstance(start, dict) or set(start) != {"pk", "sk"}
                                  or start.get("pk") != {"S": tenant_pk(tenant)}
                                  or not str(start["sk"].get("S", "")).startswith(f"{self.prefix}#")):
            raise BadRequest(BAD_CURSOR)
        items: list[M] = []
        for _ in range(max_reads):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": tenant_pk(tenant)}, ":prefix": {"S": f"{self.prefix}#"}},
                "ScanIndexForward": False,
                "Limit": limit,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._db.query(**kwargs)
            start = response.get("LastEvaluatedKey")
            for stored in response.get("Items", []):
                model = self.load(stored)
                if keep(model):
                    items.append(model)
                    if len(items) == limit:
                        return items, encode_cursor(self._key(tenant, model.item_id))
            if not start:
                break
        return items, encode_cursor(start) if start else None

    def open_items(self, decode: Callable[[Item], M] | None = None) -> list[M]:
        """Every unfinished one of every tenant (the sweeper's worklist), oldest first."""
        items = dynamo.query_pages(self._db, TableName=self._table, IndexName="gsi1",
                                   KeyConditionExpression="gsi1pk = :open",
                                   ExpressionAttributeValues={":open": {"S": self.open_index}})
        return [(decode or self.load)(i) for i in items]
