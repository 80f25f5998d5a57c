"""The sizes Sluice accepts, in one place. Each is enforced with an error that names it."""

from __future__ import annotations

from typing import Any

import orjson

MAX_UPLOAD_BYTES = 2 * 1024**3  # one uploaded file; ingest reads ~45k rows/s, so this fits its 15 minutes
MAX_INLINE_LINES = 100_000  # lines in a request body (CSV or JSON Lines); larger jobs upload a file
MAX_COLUMNS = 1000  # columns in a file's header (keys across a JSON Lines file)
MAX_ROW_BYTES = 128 * 1024  # one row's values, encoded: a record must fit a DynamoDB item and an SQS message
_CHEAP_ROW_CHARS = MAX_ROW_BYTES // 8  # below this many characters a row cannot reach MAX_ROW_BYTES


def row_too_large(values: list[Any]) -> str | None:
    """The row error for a row too large to carry and store, else None (rows are checked cheaply first)."""
    if sum(len(v) if isinstance(v, str) else 8 for v in values) < _CHEAP_ROW_CHARS:
        return None
    size = len(orjson.dumps(values, default=str))
    if size <= MAX_ROW_BYTES:
        return None
    return f"the row is {size} bytes; rows of at most {MAX_ROW_BYTES} bytes are imported"


def shortened(values: list[Any], keep: int = 100) -> list[Any]:
    """A too-large row's values, cut so the row can still travel to the failed-rows file."""
    return [v[:keep] + "…" if isinstance(v, str) and len(v) > keep else v for v in values]
