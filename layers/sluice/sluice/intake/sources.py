"""Opening an uploaded object as rows, whatever it is: CSV (any delimiter, encoding, line endings),
JSON Lines, or a workbook. Text is streamed twice (a decoding check that also hashes the bytes, then
the parse); workbooks are spooled to local disk because calamine needs a seekable file. A later slice of a
text file (`resume_upload`) reads from a record's byte offset on, with the reader's state the slice before
it left (models/slices.py)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluice.intake.compression import Gunzip, GunzipIO, ZipMember, inner_content_type, inner_name, is_gzip, is_zip
from sluice.intake.readers import (
    DecodeCheck,
    LineCounter,
    LineLengthCheck,
    NumericDateSniff,
    RowSource,
    SourceRow,
    StreamingBodyIO,
    detect_format,
    parse_delimiter,
    read_csv,
    read_jsonl,
    resume_codec,
    sniff_delimiter,
    sniff_encoding,
    text_stream,
)
from sluice.intake.workbooks import read_workbook
from sluice.models.errors import RejectedInput
from sluice.models.filespec import FileSpec
from sluice.models.limits import MAX_COLUMNS, MAX_UPLOAD_BYTES, MAX_WORKBOOK_BYTES, row_too_large, shortened
from sluice.models.slices import TextPosition
from sluice.models.warnings import ENCODING_GUESSED, NUL_REMOVED, JobWarning
from sluice.store.blobs import Storage

HEAD_BYTES = 64 * 1024
BLOCK = 1 << 20
WORKBOOK_FORMATS = ("xlsx", "xls", "xlsb")
MAX_HEADER_ROW = 1000


@dataclass
class OpenedSource:
    source: RowSource
    file_format: str
    digest: str
    size: int
    facts: dict[str, Any] = field(default_factory=dict)
    warnings: list[JobWarning] = field(default_factory=list)
    lines: LineCounter | None = None  # text only: a text file can be read in slices
    codec: str = ""  # text: the codec that decodes it from a record boundary
    start: int = 0  # text: the byte offset this reading started at
    numeric_dates: bool = True  # may the file hold dates written day and month first (03/04/2024)?

    def position(self, rows_read: int) -> TextPosition:
        """Where the record after the last one read starts, and the reader's state there (text files)."""
        if self.lines is None:
            raise ValueError("only text files are read in slices")
        return TextPosition(offset=self.start + self.lines.bytes, codec=self.codec,
                            delimiter=self.facts.get("delimiter"), header=list(self.source.header), row=rows_read,
                            line=self.lines.lines, blankRows=self.source.blank_rows[0], nuls=self.lines.nuls)

    def bytes_read(self) -> int:
        return self.lines.bytes if self.lines is not None else self.size

    def final_warnings(self) -> list[JobWarning]:
        return list(self.warnings) + self.reading_warnings()

    def reading_warnings(self) -> list[JobWarning]:
        """What the parse found (so far, in a file read in slices: the count carries over)."""
        if self.lines is not None and self.lines.nuls:
            return [JobWarning(code=NUL_REMOVED, message=f"removed {self.lines.nuls} NUL character(s) from the text")]
        return []


def _digest_of(storage: Storage, key: str, sink: Any = None) -> str:
    """Reads the object once, in blocks; hashes it and hands each block to sink."""
    digest = hashlib.sha256()
    body = storage.open(key)
    while True:
        data = body.read(BLOCK)
        digest.update(data)
        if sink is not None:
            sink(data)
        if not data:
            return digest.hexdigest()


@contextlib.contextmanager
def open_upload(storage: Storage, spec: FileSpec) -> Iterator[OpenedSource]:
    """The spec's object, opened as rows the way its options say (format, sheet, header row, delimiter, encoding)."""
    key = spec.objectKey
    if not 1 <= spec.headerRow <= MAX_HEADER_ROW:
        raise RejectedInput(f"headerRow must be from 1 to {MAX_HEADER_ROW}")
    size = storage.size(key)
    if size > MAX_UPLOAD_BYTES:
        raise RejectedInput(f"the file is {size} bytes; files of at most {MAX_UPLOAD_BYTES} bytes are imported "
                            "(split it into several jobs)")
    head = storage.s3.get_object(Bucket=storage.bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")["Body"].read() \
        if size else b""
    name, content_type = spec.fileName or spec.name, spec.contentType
    gunzip = Gunzip() if is_gzip(head, name, content_type) else None
    if gunzip is not None:
        head = gunzip.head(head, HEAD_BYTES)
        name, content_type = inner_name(name), inner_content_type(content_type)
    zipped = ZipMember(storage.s3, storage.bucket, key, size) if gunzip is None and is_zip(head, name, content_type) \
        else None
    if zipped is not None:
        name, content_type = zipped.name, None
        head = _read_up_to(zipped.stream(), HEAD_BYTES)
    file_format = detect_format(content_type, name, head)
    if (gunzip is not None or zipped is not None) and file_format in WORKBOOK_FORMATS:
        raise RejectedInput("a compressed workbook is not read: upload the workbook itself (it is compressed "
                            "already)")
    if file_format in WORKBOOK_FORMATS:
        if size > MAX_WORKBOOK_BYTES:
            raise RejectedInput(f"the workbook is {size} bytes; workbooks of at most {MAX_WORKBOOK_BYTES} bytes are "
                                "read (save the sheet as CSV: text files are read up to "
                                f"{MAX_UPLOAD_BYTES} bytes)")
        with tempfile.TemporaryDirectory(prefix="sluice-") as directory:
            path = Path(directory) / f"upload.{file_format}"
            with path.open("wb") as spool:
                digest = _digest_of(storage, key, spool.write)
            source = _bounded(read_workbook(path, file_format, spec.sheet, spec.headerRow))
            yield OpenedSource(source, file_format, digest, size, {"format": file_format, **source.facts})
        return

    encoding = sniff_encoding(head, spec.encoding)
    check = DecodeCheck(encoding, fallback_allowed=spec.encoding is None and encoding.codec == "utf-8")
    line_lengths = LineLengthCheck()
    dates = NumericDateSniff()

    def first_pass(data: bytes) -> None:
        if gunzip is not None:  # the checks see the text, the digest the uploaded bytes
            if not data:
                gunzip.finish()
            else:
                data = gunzip.feed(data)
                if not data:
                    return
        check.feed(data)
        line_lengths.feed(data)
        dates.feed(data)

    if zipped is None:
        digest = _digest_of(storage, key, first_pass)
    else:  # the digest is the upload's; the checks read the file inside
        digest = _digest_of(storage, key)
        member = zipped.stream()
        while data := member.read(BLOCK):
            first_pass(data)
        first_pass(b"")
    encoding = check.result()
    facts: dict[str, Any] = {"format": file_format, "encoding": encoding.name}
    if gunzip is not None or zipped is not None:
        facts["compression"] = "gzip" if gunzip is not None else "zip"
    codec, start = resume_codec(encoding.codec, head)
    raw: io.RawIOBase = StreamingBodyIO(storage.open(key))
    if gunzip is not None:
        raw = GunzipIO(storage.open(key))
    elif zipped is not None:
        raw = zipped.stream()
    lines = LineCounter(text_stream(raw, encoding.codec), codec)
    if file_format == "csv":
        delimiter = parse_delimiter(spec.delimiter)
        if delimiter is None:
            head_text = head.decode(encoding.codec, errors="replace").lstrip("\ufeff")
            head_lines = head_text.replace("\x00", "").splitlines() or [""]
            delimiter = sniff_delimiter(head_lines[min(spec.headerRow, len(head_lines)) - 1])
        facts["delimiter"] = delimiter
        source = read_csv(lines, delimiter, spec.headerRow)
    else:
        if spec.headerRow != 1:
            raise RejectedInput("headerRow applies to CSV files and workbooks, not JSON Lines")
        source = read_jsonl(lines)
    noted = [JobWarning(code=ENCODING_GUESSED, message=encoding.note)] if encoding.note else []
    # the sniff reads bytes as ASCII digits: in UTF-16 and UTF-32 they are not, so such files are read ahead
    numeric_dates = dates.found or encoding.codec.startswith(("utf-16", "utf-32"))
    yield OpenedSource(_bounded(source), file_format, digest, size, facts, noted, lines, codec, start, numeric_dates)


@contextlib.contextmanager
def resume_upload(storage: Storage, spec: FileSpec, position: TextPosition, digest: str, size: int,
                  facts: dict[str, Any]) -> Iterator[OpenedSource]:
    """The rest of a text file from a record boundary on: no first pass (the first slice made it), the reader
    set up as the slice before left it."""
    raw: io.RawIOBase
    if facts.get("compression") == "gzip":  # no way into the middle of a gzip stream: decompress and skip
        raw = GunzipIO(storage.open(spec.objectKey), skip=position.offset)
    elif facts.get("compression") == "zip":
        raw = ZipMember(storage.s3, storage.bucket, spec.objectKey, size).stream(skip=position.offset)
    elif position.offset < size:
        raw = StreamingBodyIO(storage.s3.get_object(Bucket=storage.bucket, Key=spec.objectKey,
                                                    Range=f"bytes={position.offset}-")["Body"])
    else:
        raw = StreamingBodyIO(io.BytesIO(b""))
    lines = LineCounter(text_stream(raw, position.codec), position.codec, position.line, position.nuls)
    if facts.get("format") == "csv":
        source = read_csv(lines, position.delimiter or ",", header=position.header, rows_before=position.row,
                          lines_before=position.line, blank_before=position.blankRows)
    else:
        source = read_jsonl(lines, header=position.header, rows_before=position.row, lines_before=position.line,
                            blank_before=position.blankRows)
    yield OpenedSource(_bounded(source), str(facts.get("format")), digest, size, dict(facts), [], lines,
                       position.codec, position.offset)


def _read_up_to(stream: io.RawIOBase, size: int) -> bytes:
    data = b""
    while len(data) < size and (block := stream.read(size - len(data))):
        data += block
    return data


def _bounded(source: RowSource) -> RowSource:
    """Holds a source to the limits: too many columns rejects the file, a row too large is a row error."""
    if len(source.header) > MAX_COLUMNS:
        raise RejectedInput(f"the header has {len(source.header)} columns; files of at most {MAX_COLUMNS} "
                            "columns are imported")

    inner = source.rows

    def rows() -> Iterator[SourceRow]:
        for row in inner:
            if row.error is None and (too_large := row_too_large(row.values)):
                yield SourceRow(row.row, shortened(row.values), too_large, row.line)
            else:
                yield row

    source.rows = rows()
    return source
