"""Checked types for values clients send in options (not row values: those are checked by the schema)."""

from __future__ import annotations

import codecs
import re
from typing import Annotated

from pydantic import AfterValidator, Field

# RFC 5322 addr-spec, dot-atom form (no quoted local parts, no comments); nothing else, so no CR, LF or other
# control character can reach an email header.
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
# Text encodings a file may declare. Codecs that are not text encodings (bz2, zlib, base64, hex, rot13, ...)
# would expand or garble the upload; anything not listed is refused at submit.
TEXT_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "ascii", "latin-1",
                  "iso8859-2", "iso8859-15", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1257",
                  "mac-roman", "koi8-r", "shift_jis", "cp932", "euc-jp", "gb18030", "gbk", "big5", "euc-kr")
_CANONICAL = {codecs.lookup(name).name for name in TEXT_ENCODINGS}


def _address(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise ValueError("is not an email address (name@domain, no spaces or control characters)")
    return value


def _encoding(value: str) -> str:
    try:
        canonical = codecs.lookup(value).name
    except LookupError:
        canonical = ""
    if canonical not in _CANONICAL:
        raise ValueError(f"'{value}' is not an accepted text encoding; one of: {', '.join(TEXT_ENCODINGS)}")
    return value


def is_text_encoding(value: str) -> bool:
    try:
        _encoding(value)
    except ValueError:
        return False
    return True


EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(_address)]
TextEncoding = Annotated[str, Field(max_length=40), AfterValidator(_encoding)]
