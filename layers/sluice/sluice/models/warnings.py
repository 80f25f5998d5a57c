"""Warnings on jobs: `{"code", "message", ...}` objects for what was accepted but may not do what was meant."""

from __future__ import annotations

from typing import Any


def warning(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **details}
