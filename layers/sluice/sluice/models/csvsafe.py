"""Cells of the CSVs we write (exports, result files) that a spreadsheet would run as formulas.

A text cell beginning with = + - @ or a tab/CR gets a leading apostrophe (OWASP's CSV injection advice).
A cell that is a plain number ("-5", "+3.25", "1e3") is left alone: spreadsheets read it as a number, never
a formula, and a failed row with a negative number must still import as it was when uploaded again."""

from __future__ import annotations

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: str) -> str:
    if value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value
