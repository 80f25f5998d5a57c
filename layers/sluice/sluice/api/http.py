"""HTTP request parsing shared by the API routes: bodies, multipart forms, booleans, limits."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from sluice.models.errors import BadRequest, PayloadTooLarge
from sluice.models.limits import MAX_FORM_FIELD_BYTES, MAX_FORM_PARTS


@dataclass
class UploadedFile:
    name: str | None
    content_type: str | None
    data: bytes


def raw_body(event: Any) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Form fields and files of a multipart/form-data body (at most MAX_FORM_PARTS parts, counted before the
    parse; text fields of at most MAX_FORM_FIELD_BYTES)."""
    if "boundary=" not in content_type:
        raise BadRequest("multipart/form-data needs a boundary parameter in Content-Type")
    boundary = content_type.split("boundary=", 1)[1].split(";", 1)[0].strip().strip('"').encode("latin-1")
    parts = body.count(b"--" + boundary) - 1 if boundary else 0
    if parts > MAX_FORM_PARTS:
        raise PayloadTooLarge(f"the form has {parts} parts; a form has at most {MAX_FORM_PARTS}")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise BadRequest("the multipart body cannot be parsed")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        assert isinstance(payload, bytes)
        file_name = part.get_filename()
        if file_name is not None or name == "file":
            files[name] = UploadedFile(file_name, part.get_content_type() if part.get("content-type") else None,
                                       payload)
        else:
            if len(payload) > MAX_FORM_FIELD_BYTES:
                raise PayloadTooLarge(f"form field '{name[:64]}' is {len(payload)} bytes; text fields are at most "
                                      f"{MAX_FORM_FIELD_BYTES} bytes")
            try:
                fields[name] = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"form field '{name}' is not UTF-8 text") from None
    return fields, files


def parse_bool(name: str, value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise BadRequest(f"'{name}' must be true or false, got '{value}'")


def parse_limit(value: str | None, default: int = 50, maximum: int = 1000) -> int:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        raise BadRequest(f"'limit' must be a whole number from 1 to {maximum}") from None
    if not 1 <= limit <= maximum:
        raise BadRequest(f"'limit' must be a whole number from 1 to {maximum}")
    return limit
