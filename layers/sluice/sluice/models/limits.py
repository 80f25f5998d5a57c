"""The sizes Sluice accepts, in one place. Each is enforced with an error that names it."""

from __future__ import annotations

from typing import Any

import orjson

MAX_FORM_UPLOAD_BYTES = 2 * 1024**3  # the presigned POST form (S3 refuses more); larger files: a multipart upload
MAX_WORKBOOK_BYTES = 2 * 1024**3  # a workbook is copied whole to the function's disk before it is read
# a multipart upload (form 3 with "parts"): S3's own part rules, and at most 1,000 parts so that the job carrying
# a presigned URL per part (~350 bytes each, ~1.3 KB with a Lambda role's session token: ~1.3 MB) stays well inside
# Lambda's 6 MB response; presigning 1,000 takes ~1 s (measured here), on every GET of a waiting job
MAX_UPLOAD_PARTS = 1000
MIN_UPLOAD_PART_BYTES = 5 * 1024**2  # every part but the last (S3)
MAX_UPLOAD_PART_BYTES = 5 * 1024**3  # (S3)
# one uploaded file: what a multipart upload holds (~4.9 TiB; S3's own largest object is 5 TiB). Every pass over a
# text file (the first pass, a date read-ahead, the rows) runs in slices of IngestSliceBytes, so no limit of ours
# is below it
MAX_UPLOAD_BYTES = MAX_UPLOAD_PARTS * MAX_UPLOAD_PART_BYTES
# what one invocation's first pass reads whole: a gzip-compressed file, decompressed, and a zip's one member (no
# way into the middle of a compressed stream), at ~40 MB/s (~7 minutes); the same bound for a plain text file
# where the hash's state cannot be carried between invocations (intake/sha256.py: not on Lambda's runtime)
MAX_DECOMPRESSED_BYTES = 16 * 1024**3
MAX_INLINE_LINES = 100_000  # lines in a request body (CSV or JSON Lines); larger jobs upload a file
MAX_COLUMNS = 1000  # columns in a file's header (keys across a JSON Lines file)
MAX_SHEET_ROWS = 1_048_576  # a worksheet's last row (Excel's own limit)
MAX_SHEET_COLUMNS = MAX_COLUMNS  # a worksheet's last column
MAX_SHEET_CELLS = 10_000_000  # rows x columns of a worksheet, empty cells included: the reader holds ~30 bytes each
MAX_FORM_PARTS = 50  # parts of one multipart/form-data request (413 beyond, counted before parsing)
MAX_FORM_FIELD_BYTES = 64 * 1024  # one text field of a form (413 beyond)
MAX_LINE_BYTES = 1024 * 1024  # one physical line of a text file: longer rejects the file, naming the line
MAX_KEY_BYTES = 1024  # a record key, UTF-8 (DynamoDB's sort key limit): longer is a row error
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1  # integer fields: 64-bit, as the JSON encoder and SQL exports hold them
MAX_DECIMAL_DIGITS = 38  # significant digits of a decimal field (DynamoDB numbers are exact to 38 digits)
EXPORT_MAX_SECONDS = 600  # an export (or its SQL) running longer ends Failed, well inside the function's 15 min
EXPORT_MAX_BYTES = 5 * 1024**3  # an export's output across its parts: beyond, it ends Failed
FILTER_MAX_OPTIONS = 100  # values one export filter may list
FILTER_MAX_VALUE_CHARS = 1000  # one filter value
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
