"""Identifiers: time-sortable job ids, random key ids, validated names."""

from __future__ import annotations

import re
import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
JOB_ID_PATTERN = re.compile(r"^[0-9A-Z]{26}$")


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_sortable_id(now_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time then 80 random bits, so ids sort by creation time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return _encode(ms, 10) + _encode(secrets.randbits(80), 16)


def new_key_id() -> str:
    return secrets.token_hex(8)


def is_name(value: str) -> bool:
    return bool(NAME_PATTERN.fullmatch(value))


def is_tenant(value: str) -> bool:
    return bool(TENANT_PATTERN.fullmatch(value))


def is_job_id(value: str) -> bool:
    return bool(JOB_ID_PATTERN.fullmatch(value))
