"""JSON text read without losing a digit. orjson reads integers past 64 bits and long decimals as doubles
(rounded); a text holding a long run of digits is read by the json module instead, and numbers no 64-bit
integer or double can carry become their exact text, which the schema then parses or refuses."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

_LONG_NUMBER = re.compile(rb"[0-9.]{16,}")


def loads(data: str | bytes) -> Any:
    """Like orjson.loads (ValueError on bad JSON), but exact for every number."""
    raw = data.encode() if isinstance(data, str) else data
    if _LONG_NUMBER.search(raw):
        return _exact(json.loads(raw, parse_float=Decimal))
    return orjson.loads(raw)


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal) or (isinstance(value, int) and not -(2**63) <= value < 2**63):
        return str(value)
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value
