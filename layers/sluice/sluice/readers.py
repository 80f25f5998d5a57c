"""Streaming readers: a file object in, (row number, header, values) out, never the whole file in memory."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from sluice.errors import RejectedInput

csv.field_size_limit(1024 * 1024)

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".json": "jsonl", ".xlsx": "xlsx", ".xls": "xls", ".xlsb": "xlsb"}
_CONTENT_TYPES = {"text/csv": "csv", "application/csv": "csv", "text/plain": "csv",
                  "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
                  "application/json": "jsonl", "application/x-jsonlines": "jsonl",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
                  "application/vnd.ms-excel": "xls"}


def detect_format(content_type: str | None, file_name: str | None, head: bytes) -> str:
    """The file's format: an explicit content type, else the file name's extension, else sniffed."""
    if content_type:
        base = content_type.split(";")[0].strip().lower()
        if base in _CONTENT_TYPES:
            return _CONTENT_TYPES[base]
        if base in FORMATS:
            return base
        raise RejectedInput(f"unsupported contentType '{content_type}'; use text/csv or application/x-ndjson")
    if file_name:
        lowered = file_name.lower()
        for extension, fmt in _EXTENSIONS.items():
            if lowered.endswith(extension):
                return fmt
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if stripped.startswith(b"{") else "csv"


class StreamingBodyIO(io.RawIOBase):
    """Adapts botocore's StreamingBody (read(n) only) to a raw stream io can buffer."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def check_utf8(stream: Any, block: int = 1 << 20) -> None:
    """Reads the whole stream once, in blocks, and rejects it if it is not UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while True:
        data = stream.read(block)
        pending = len(decoder.getstate()[0])  # bytes of a sequence begun in the previous block
        try:
            decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise RejectedInput(
                f"the file is not UTF-8 text: undecodable byte 0x{exc.object[exc.start]:02x} "
                f"at byte offset {offset - pending + exc.start}; save it as UTF-8"
            ) from None
        if not data:
            return
        offset += len(data)


def text_stream(stream: io.RawIOBase) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BufferedReader(stream, 1 << 16), encoding="utf-8-sig", newline="")


@dataclass
class SourceRow:
    row: int
    values: list[Any]
    error: str | None = None  # the row cannot be read at all (e.g. a line that is not a JSON object)


@dataclass
class RowSource:
    header: list[str]
    rows: Iterator[SourceRow]
    blank_rows: list[int] = field(default_factory=lambda: [0])


def read_csv(text: io.TextIOWrapper) -> RowSource:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise RejectedInput("the file is empty: expected a header row") from None
    except csv.Error as exc:
        raise RejectedInput(f"the header row cannot be read: {exc}") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise RejectedInput("the header row is empty")
    blank = [0]

    def rows() -> Iterator[SourceRow]:
        number = 0
        width = len(header)
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                yield SourceRow(number, [], f"cannot be read as CSV: {exc}")
                continue
            if not values or not any(v.strip() for v in values):
                blank[0] += 1
                continue
            number += 1
            if len(values) != width:
                yield SourceRow(number, values, f"expected {width} columns, got {len(values)}")
                continue
            yield SourceRow(number, values)

    return RowSource(header=header, rows=rows(), blank_rows=blank)


def read_jsonl(text: io.TextIOWrapper) -> RowSource:
    """JSON Lines: the header is the union of keys in first-seen order, growing as rows are read."""
    header: list[str] = []
    positions: dict[str, int] = {}
    blank = [0]

    def rows() -> Iterator[SourceRow]:
        number = 0
        for line in text:
            if not line.strip():
                blank[0] += 1
                continue
            number += 1
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield SourceRow(number, [line.rstrip("\r\n")], f"is not valid JSON: {exc}")
                continue
            if not isinstance(obj, dict):
                yield SourceRow(number, [line.rstrip("\r\n")], "is not a JSON object")
                continue
            values: list[Any] = [None] * len(header)
            for key, value in obj.items():
                position = positions.get(key)
                if position is None:
                    position = positions[key] = len(header)
                    header.append(key)
                    values.append(None)
                values[position] = value
            yield SourceRow(number, values)

    return RowSource(header=header, rows=rows(), blank_rows=blank)
