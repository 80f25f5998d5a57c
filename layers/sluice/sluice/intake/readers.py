"""Text readers: decoding (BOMs, UTF-8, UTF-16, a declared or fallback legacy encoding), CSV dialects and
JSON Lines, streamed: rows come out one at a time with their row and physical line numbers."""

from __future__ import annotations

import base64
import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sluice.models import jsontext
from sluice.models.errors import RejectedInput
from sluice.models.fields import TEXT_ENCODINGS, is_text_encoding
from sluice.models.limits import MAX_COLUMNS, MAX_LINE_BYTES
from sluice.models.slices import ByteScan

csv.field_size_limit(1024 * 1024)

FORMATS = ("csv", "jsonl", "xlsx", "xls", "xlsb")
DELIMITERS = (",", ";", "\t", "|")
FALLBACK_ENCODING = "cp1252"
_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".json": "jsonl", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".xlsb": "xlsb"}
_CONTENT_TYPES = {"text/csv": "csv", "application/csv": "csv", "text/plain": "csv",
                  "text/tab-separated-values": "csv",
                  "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
                  "application/json": "jsonl", "application/x-jsonlines": "jsonl",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
                  "application/vnd.ms-excel": "xls",
                  "application/vnd.ms-excel.sheet.binary.macroenabled.12": "xlsb"}


def detect_format(content_type: str | None, file_name: str | None, head: bytes) -> str:
    """The file's format: an explicit content type, else the file name's extension, else sniffed."""
    if content_type:
        base = content_type.split(";")[0].strip().lower()
        if base in _CONTENT_TYPES:
            return _CONTENT_TYPES[base]
        if base in FORMATS:
            return base
        raise RejectedInput(f"unsupported contentType '{content_type}'; use text/csv, application/x-ndjson, "
                            "or a spreadsheet type (xlsx, xls)")
    if file_name:
        lowered = file_name.lower()
        for extension, fmt in _EXTENSIONS.items():
            if lowered.endswith(extension):
                return fmt
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            head = head[len(bom):].decode(encoding, errors="ignore").encode()
            break
    return "jsonl" if head.lstrip(b" \t\r\n\x00").startswith(b"{") else "csv"


class StreamingBodyIO(io.RawIOBase):
    """Adapts botocore's StreamingBody (read(n) only) to a raw stream io can buffer."""

    def __init__(self, body: Any, tap: Any = None) -> None:
        self._body = body
        self._tap = tap

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        if self._tap is not None:
            self._tap(data)
        buffer[: len(data)] = data
        return len(data)


# --- decoding ---------------------------------------------------------------------------------


@dataclass
class TextEncoding:
    """How a text file is decoded, and what the job should say about it."""

    codec: str
    name: str
    note: str | None = None


def sniff_encoding(head: bytes, declared: str | None) -> TextEncoding:
    """The encoding from a BOM, a declaration, or the pattern of NUL bytes of BOM-less UTF-16."""
    if head.startswith(codecs.BOM_UTF8):
        return TextEncoding("utf-8-sig", "utf-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return TextEncoding("utf-16", "utf-16")
    if declared:
        if not is_text_encoding(declared):  # checked at submit too; a job stored before the check ends here
            raise RejectedInput(f"'{declared}' is not an accepted text encoding; one of: {', '.join(TEXT_ENCODINGS)}")
        return TextEncoding(codecs.lookup(declared).name, declared)
    sample = head[:4096]
    if len(sample) >= 8:
        even_nuls = sample[0::2].count(0) / len(sample[0::2])
        odd_nuls = sample[1::2].count(0) / len(sample[1::2])
        if odd_nuls > 0.3 and even_nuls < 0.05:
            return TextEncoding("utf-16-le", "utf-16-le", "no byte-order mark; read as UTF-16 little-endian")
        if even_nuls > 0.3 and odd_nuls < 0.05:
            return TextEncoding("utf-16-be", "utf-16-be", "no byte-order mark; read as UTF-16 big-endian")
    return TextEncoding("utf-8", "utf-8")


class DecodeCheck:
    """Fed every byte of the file once: does it decode, and if UTF-8 fails, does the fallback?"""

    def __init__(self, encoding: TextEncoding, fallback_allowed: bool) -> None:
        self.encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding.codec)()
        self._fallback = codecs.getincrementaldecoder(FALLBACK_ENCODING)() if fallback_allowed else None
        self._offset = 0
        self.error: str | None = None

    def feed(self, data: bytes) -> str:
        """Returns the text these bytes decode to (in the file's encoding; "" once it failed)."""
        final = not data
        text = ""
        if self.error is None:
            pending = len(self._decoder.getstate()[0])
            try:
                text = self._decoder.decode(data, final=final)
            except UnicodeDecodeError as exc:
                byte = exc.object[exc.start] if exc.start < len(exc.object) else 0
                self.error = (f"undecodable byte 0x{byte:02x} at byte offset {self._offset - pending + exc.start}"
                              f" for {self.encoding.name}")
        if self._fallback is not None:
            try:
                self._fallback.decode(data, final=final)
            except UnicodeDecodeError:
                self._fallback = None
        self._offset += len(data)
        if self.error is not None and self._fallback is None:
            self.result()  # nothing can decode the file: rejected now, not after reading the rest of it
        return text

    def carry_to(self, scan: ByteScan) -> None:
        pending, flag = self._decoder.getstate()
        scan.decoderPending, scan.decoderFlag = base64.b64encode(pending).decode(), flag
        scan.fallback, scan.error = self._fallback is not None, self.error

    def carry_from(self, scan: ByteScan) -> None:
        """Picks up where an earlier invocation's check of the same bytes stopped (at byte scan.offset)."""
        self._decoder.setstate((base64.b64decode(scan.decoderPending), scan.decoderFlag))
        if not scan.fallback:
            self._fallback = None
        self.error, self._offset = scan.error, scan.offset

    def result(self) -> TextEncoding:
        if self.error is None:
            return self.encoding
        if self._fallback is not None:
            return TextEncoding(FALLBACK_ENCODING, FALLBACK_ENCODING,
                                f"not valid UTF-8 ({self.error}); read as {FALLBACK_ENCODING} (Windows Western "
                                "European). Pass `encoding` if that is wrong")
        raise RejectedInput(f"the file is not {self.encoding.name} text: {self.error}; save it as UTF-8 "
                            "or pass `encoding`")


def resume_codec(codec: str, head: bytes) -> tuple[str, int]:
    """The codec that decodes the file from a record boundary on (no byte-order mark to expect), and the length
    of the byte-order mark the file starts with."""
    if codec == "utf-8-sig":
        return "utf-8", len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    for family, marks in (("utf-32", ((codecs.BOM_UTF32_LE, "-le"), (codecs.BOM_UTF32_BE, "-be"))),
                          ("utf-16", ((codecs.BOM_UTF16_LE, "-le"), (codecs.BOM_UTF16_BE, "-be")))):
        if codec == family:
            for mark, suffix in marks:
                if head.startswith(mark):
                    return family + suffix, len(mark)
            return family + "-le", 0
    return codec, 0


def text_stream(stream: io.RawIOBase, codec: str = "utf-8-sig") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BufferedReader(stream, 1 << 16), encoding=codec, newline="")


class LineLengthCheck:
    """Fed a text file's bytes in blocks (the first pass), rejects it at the first line longer than
    MAX_LINE_BYTES, naming the line: the parse never meets a line it would have to hold whole."""

    def __init__(self) -> None:
        self.line = 1
        self._run = 0  # bytes since the last newline

    def feed(self, data: bytes) -> None:
        first, last = data.find(b"\n"), data.rfind(b"\n")
        # A block whose lines are all short (the usual case) is settled by a few C-speed scans; only a block that
        # may hold a long line is walked line by line, to name the line
        if first >= 0 and self._run + first <= MAX_LINE_BYTES and len(data) - last - 1 <= MAX_LINE_BYTES and (
                last - first - 1 <= MAX_LINE_BYTES
                or max(map(len, data[first + 1:last].split(b"\n"))) <= MAX_LINE_BYTES):
            self.line += data.count(b"\n")
            self._run = len(data) - last - 1
            return
        self._walk(data)

    def _walk(self, data: bytes) -> None:
        start = 0
        while True:
            newline = data.find(b"\n", start)
            length = (len(data) if newline < 0 else newline) - start
            if self._run + length > MAX_LINE_BYTES:
                raise RejectedInput(f"line {self.line} is longer than {MAX_LINE_BYTES} bytes; lines of at most "
                                    f"{MAX_LINE_BYTES} bytes are read (is a line ending or a quote missing?)")
            if newline < 0:
                self._run += length
                return
            self._run = 0
            self.line += 1
            start = newline + 1

    def carry_to(self, scan: ByteScan) -> None:
        scan.line, scan.lineBytes = self.line, self._run

    def carry_from(self, scan: ByteScan) -> None:
        self.line, self._run = scan.line, scan.lineBytes


class NumericDateSniff:
    """Fed a text file's bytes (the first pass): does anything in it look like a date written day and month first
    (03/04/2024)? If not, its date columns need no reading ahead to learn their order."""

    # separators: / . - and JSON's escaped slash (25\/04\/2024, as PHP's json_encode writes dates)
    _PATTERN = re.compile(rb"(?<![0-9])[0-9]{1,2}(?:[/.-]|\\/)[0-9]{1,2}(?:[/.-]|\\/)(?:[0-9]{4}|[0-9]{2})(?![0-9])")
    # a digit, a separator, a digit: every match has one at its first separator, and this scans ~5x faster
    _HINT = re.compile(rb"[0-9](?:[/.-]|\\/)[0-9]")

    def __init__(self) -> None:
        self.found = False
        self._tail = b""

    def feed(self, data: bytes) -> None:
        if self.found:
            return
        window = self._tail + data
        # the tail's first byte is only there for the look-behind: a match starts after it
        start = 1 if self._tail else 0
        hint = self._HINT.search(window, start)
        # a match starts at most one byte before the first hint (two digits, then the hint's separator)
        match = self._PATTERN.search(window, max(start, hint.start() - 1)) if hint is not None else None
        # a match at the very end of a block may go on in the next (1/2/20|245): decided with the next block,
        # whose window starts with this tail (b"" ends the text)
        self.found = match is not None and (match.end() < len(window) or not data)
        self._tail = window[-20:]

    def carry_to(self, scan: ByteScan) -> None:
        scan.datesFound, scan.dateTail = self.found, base64.b64encode(self._tail).decode()

    def carry_from(self, scan: ByteScan) -> None:
        self.found, self._tail = scan.datesFound, base64.b64decode(scan.dateTail)


class LineCounter:
    """Yields a text file's physical lines with stray NUL characters removed, counting both. Lines are read at
    most MAX_LINE_BYTES characters at a time (LineLengthCheck rejected longer ones already)."""

    def __init__(self, lines: Iterable[str] | io.TextIOBase, byte_codec: str | None = None, lines_before: int = 0,
                 nuls_before: int = 0) -> None:
        self._source = lines
        self.nuls = nuls_before
        self.lines = lines_before
        # with byte_codec, `bytes` counts the encoded bytes of the lines read: a record's end as a byte offset
        self._byte_codec = None if byte_codec in (None, "utf-8") else byte_codec
        self._count_bytes = byte_codec is not None
        self.bytes = 0

    def _raw_lines(self) -> Iterator[str]:
        if not isinstance(self._source, io.TextIOBase):
            yield from self._source
            return
        while line := self._source.readline(MAX_LINE_BYTES + 1):
            yield line

    def __iter__(self) -> Iterator[str]:
        for line in self._raw_lines():
            self.lines += 1
            if self._count_bytes:
                self.bytes += len(line.encode(self._byte_codec) if self._byte_codec else line.encode())
            if len(line) > MAX_LINE_BYTES:
                raise RejectedInput(f"line {self.lines} is longer than {MAX_LINE_BYTES} characters")
            if "\x00" in line:
                self.nuls += line.count("\x00")
                line = line.replace("\x00", "")
            yield line


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter that splits the header line most often, outside quotes (else a comma)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_delimiter(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    delimiter = named.get(value.lower(), value)
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise RejectedInput(f"delimiter must be one character (or tab, comma, semicolon, pipe), got '{value}'")
    return delimiter


# --- rows -------------------------------------------------------------------------------------


@dataclass
class SourceRow:
    row: int
    values: list[Any]
    error: str | None = None  # the row cannot be read at all (e.g. a line that is not a JSON object)
    line: int = 0  # physical line (text) or sheet row (workbook) where the row starts


@dataclass
class RowSource:
    header: list[str]
    rows: Iterator[SourceRow]
    blank_rows: list[int] = field(default_factory=lambda: [0])
    facts: dict[str, Any] = field(default_factory=dict)  # what the job should show about the reading
    handed_out: int = 0  # rows read from `rows` so far (counted by intake/sources.py)
    ended: bool = False  # `rows` was read to its end


def _skip_to_header(reader: Any, header_row: int) -> list[str]:
    for _ in range(header_row - 1):
        try:
            next(reader)
        except StopIteration:
            raise RejectedInput(f"the file has fewer than {header_row} rows; headerRow is {header_row}") from None
    try:
        return list(next(reader))
    except StopIteration:
        raise RejectedInput("the file is empty: expected a header row") from None


class _RowText:
    """The physical lines the CSV reader took for the row it is reading (to tell an unclosed quote)."""

    def __init__(self, text: Iterable[str]) -> None:
        self._text = iter(text)
        self.lines: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._text)
        self.lines.append(line)
        return line


def _unclosed_quote(lines: list[str], values: list[str]) -> bool:
    """A row that ran to the end of the file inside a quoted value: its quotes do not pair up and it spans
    several lines (a lone quote inside an unquoted value, 5" say, is read as it is)."""
    return len(lines) > 1 and sum(line.count('"') for line in lines) % 2 == 1 and any("\n" in v for v in values)


def read_csv(text: Iterable[str], delimiter: str = ",", header_row: int = 1, *, header: list[str] | None = None,
             rows_before: int = 0, lines_before: int = 0, blank_before: int = 0) -> RowSource:
    """CSV rows; with `header`, the text starts at a record boundary after the header (a later slice of the
    file), and row and line numbers carry on from rows_before and lines_before."""
    row_text = _RowText(text)
    reader = csv.reader(row_text, delimiter=delimiter)
    if header is None:
        try:
            header = _skip_to_header(reader, header_row)
        except csv.Error as exc:
            raise RejectedInput(f"the header row cannot be read: {exc}") from None
        header = [h.strip() for h in header]
        if not any(header):
            raise RejectedInput("the header row is empty")
    blank = [blank_before]

    def rows() -> Iterator[SourceRow]:
        number = rows_before
        width = len(header)
        while True:
            line = lines_before + reader.line_num + 1
            row_text.lines = []
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                problem = (f"a value starting on line {line} or after is longer than {csv.field_size_limit()} "
                           "characters (is a closing quote missing?)" if "field limit" in str(exc) else str(exc))
                yield SourceRow(number, [], f"cannot be read as CSV: {problem}", line)
                continue
            if not values or not any(v.strip() for v in values):
                blank[0] += 1
                continue
            number += 1
            if _unclosed_quote(row_text.lines, values):
                opened = line + next(i for i, text in enumerate(row_text.lines) if text.count('"') % 2 == 1)
                yield SourceRow(number, [v[:100] for v in values],
                                f"a quoted value opened on line {opened} is never closed: the rest of the file "
                                f"(lines {opened} to {lines_before + reader.line_num}) was read into it", line)
                continue
            if len(values) != width:
                yield SourceRow(number, values, f"expected {width} columns, got {len(values)}", line)
                continue
            yield SourceRow(number, values, None, line)

    return RowSource(header=header, rows=rows(), blank_rows=blank)


def read_jsonl(text: Iterable[str], *, header: list[str] | None = None, rows_before: int = 0,
               lines_before: int = 0, blank_before: int = 0) -> RowSource:
    """JSON Lines: the header is the union of keys in first-seen order, growing as rows are read (a later slice
    of the file starts with the keys seen before it)."""
    header = list(header or [])
    positions: dict[str, int] = {key: position for position, key in enumerate(header)}
    blank = [blank_before]

    def rows() -> Iterator[SourceRow]:
        number = rows_before
        for line_number, line in enumerate(text, start=lines_before + 1):
            if not line.strip():
                blank[0] += 1
                continue
            number += 1
            if number == 1 and line.lstrip("\ufeff \t").startswith("["):
                raise RejectedInput("the file is a JSON array, but JSON Lines is one JSON object per line: write each "
                                    "element on its own line, without the brackets and commas")
            try:
                obj = jsontext.loads(line)
            except ValueError as exc:
                yield SourceRow(number, [line.rstrip("\r\n")], f"is not valid JSON: {exc}", line_number)
                continue
            if not isinstance(obj, dict):
                yield SourceRow(number, [line.rstrip("\r\n")], "is not a JSON object", line_number)
                continue
            if len(header) + sum(key not in positions for key in obj) > MAX_COLUMNS:
                yield SourceRow(number, [line.rstrip("\r\n")[:200]],
                                f"brings the file's keys beyond the {MAX_COLUMNS} columns a file may have",
                                line_number)
                continue
            values: list[Any] = [None] * len(header)
            for key, value in obj.items():
                position = positions.get(key)
                if position is None:
                    position = positions[key] = len(header)
                    header.append(key)
                    values.append(None)
                values[position] = value
            yield SourceRow(number, values, None, line_number)

    return RowSource(header=header, rows=rows(), blank_rows=blank)
