"""DynamoDB plumbing: a small attribute-value codec, batched reads and writes with retries, cursors."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import orjson

from sluice.models.errors import BadRequest

BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
_MAX_ATTEMPTS = 10

Item = dict[str, Any]


def to_av(value: Any) -> dict[str, Any]:
    """Python value -> DynamoDB attribute value (strings, numbers, bools, lists, maps, null)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, Decimal):
        return {"N": format(value, "f")}
    if isinstance(value, float):
        return {"N": repr(value)}
    if isinstance(value, dict):
        return {"M": {k: to_av(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_av(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {"NS": [str(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def _number(text: str) -> int | Decimal:
    if "." in text or "e" in text or "E" in text:
        return Decimal(text)
    return int(text)


def from_av(av: dict[str, Any]) -> Any:
    (kind, value), = av.items()
    if kind == "S":
        return value
    if kind == "N":
        return _number(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_av(v) for k, v in value.items()}
    if kind == "L":
        return [from_av(v) for v in value]
    if kind == "NS":
        return {_number(v) for v in value}
    if kind == "SS":
        return set(value)
    raise TypeError(f"unsupported attribute type {kind}")


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: to_av(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> Item:
    return {k: from_av(v) for k, v in item.items()}


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * (2**attempt), 2.0))


def batch_write(client: Any, table: str, puts: Iterable[dict[str, Any]]) -> int:
    """Write items (already in attribute-value form) 25 a call; retries UnprocessedItems with backoff.

    Returns the number of BatchWriteItem calls made."""
    return _write_in_batches(client, table, ({"PutRequest": {"Item": item}} for item in puts))


def batch_delete(client: Any, table: str, keys: Iterable[dict[str, Any]]) -> int:
    """Delete items by key, 25 a call (deleting an absent item is no error). Returns the calls made."""
    return _write_in_batches(client, table, ({"DeleteRequest": {"Key": key}} for key in keys))


def _write_in_batches(client: Any, table: str, requests: Iterable[dict[str, Any]]) -> int:
    calls = 0
    batch: list[dict[str, Any]] = []
    for request in requests:
        batch.append(request)
        if len(batch) == BATCH_WRITE_MAX:
            calls += _write_with_retry(client, table, batch)
            batch = []
    if batch:
        calls += _write_with_retry(client, table, batch)
    return calls


def _write_with_retry(client: Any, table: str, requests: list[dict[str, Any]]) -> int:
    pending: dict[str, Any] = {table: requests}
    for attempt in range(_MAX_ATTEMPTS):
        response = client.batch_write_item(RequestItems=pending)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return attempt + 1
        _backoff(attempt)
    raise RuntimeError(f"BatchWriteItem left {len(pending.get(table, []))} items unprocessed after retries")


def batch_get(client: Any, table: str, keys: list[dict[str, Any]], consistent: bool = True) -> list[Item]:
    """Read items by key, 100 a call, retrying UnprocessedKeys with backoff. Returns raw items."""
    found: list[Item] = []
    for start in range(0, len(keys), BATCH_GET_MAX):
        pending: dict[str, Any] = {
            table: {"Keys": keys[start : start + BATCH_GET_MAX], "ConsistentRead": consistent}
        }
        for attempt in range(_MAX_ATTEMPTS):
            response = client.batch_get_item(RequestItems=pending)
            found.extend(response.get("Responses", {}).get(table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            _backoff(attempt)
        else:
            raise RuntimeError("BatchGetItem left keys unprocessed after retries")
    return found


def query_pages(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a query, page after page."""
    while True:
        response = client.query(**kwargs)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


BAD_CURSOR = "cursor is not valid; pass back nextCursor exactly as returned"


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception as exc:  # any malformed cursor is the client's mistake
        raise BadRequest(BAD_CURSOR) from exc


def conditional_write(client: Any, operation: str, mine: Callable[[Item], bool], **params: Any) -> Item | None:
    """A conditional PutItem or UpdateItem that survives its own retry.

    When a write lands but its reply is lost (a timeout), botocore sends it again and the retry fails
    the condition the first attempt made false. The item as it stands comes back with that failure;
    `mine(item)` says whether it carries this very write (a token or timestamp only this caller wrote).
    Returns the item after the write (UpdateItem with ReturnValues=ALL_NEW) or {} (PutItem) when it
    was written, None when the condition failed for a real reason."""
    call = client.put_item if operation == "PutItem" else client.update_item
    try:
        response = call(ReturnValuesOnConditionCheckFailure="ALL_OLD", **params)
    except client.exceptions.ConditionalCheckFailedException as failure:
        current = failure.response.get("Item")
        if current is not None and mine(current):
            return current
        return None
    return response.get("Attributes") or {}
