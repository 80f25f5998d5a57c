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
from sluice.intake.firstpass import TextChecks
from sluice.intake.readers import (
    LineCounter,
    RowSource,
    SourceRow,
    StreamingBodyIO,
    TextEncoding,
    detect_format,
    parse_delimiter,
    read_csv,
    read_jsonl,
    resume_codec,
    sniff_delimiter,
    sniff_encoding,
    text_stream,
)
from sluice.intake.sha256 import RESUMABLE, ResumableSha256
from sluice.intake.workbooks import read_workbook
from sluice.models.errors import RejectedInput
from sluice.models.filespec import FileSpec
from sluice.models.limits import (
    MAX_COLUMNS,
    MAX_DECOMPRESSED_BYTES,
    MAX_UPLOAD_BYTES,
    MAX_WORKBOOK_BYTES,
    row_too_large,
    shortened,
)
from sluice.models.slices import ByteScan, ScannedText, TextPosition
from sluice.models.warnings import ENCODING_GUESSED, NUL_REMOVED, JobWarning, no_rows
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
    scanned: ScannedText | None = None  # text: what its first pass found
    rows_before: int = 0  # text read in slices: the rows earlier slices read

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
        found = []
        if self.lines is not None and self.lines.nuls:
            found.append(JobWarning(code=NUL_REMOVED,
                                    message=f"removed {self.lines.nuls} NUL character(s) from the text"))
        if self.source.ended and self.rows_before + self.source.handed_out == 0:
            found.append(no_rows(bool(self.source.header)))
        return found


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


@dataclass
class Upload:
    """An uploaded object as its first 64 KiB show it: its format, and how it is compressed."""

    key: str
    size: int
    etag: str  # which object this is: one uploaded again under the key has another
    head: bytes  # the first bytes of the text (decompressed) or the workbook
    file_format: str
    gunzip: Gunzip | None = None
    zipped: ZipMember | None = None

    @property
    def plain_text(self) -> bool:
        """Uncompressed CSV or JSON Lines: its first pass may be read in slices from any byte offset."""
        return self.file_format not in WORKBOOK_FORMATS and self.gunzip is None and self.zipped is None

    def encoding(self, spec: FileSpec) -> TextEncoding:
        return sniff_encoding(self.head, spec.encoding)


def inspect_upload(storage: Storage, spec: FileSpec) -> Upload:
    """Reads the object's head (and a zip's directory): what it is. Rejects what is refused before reading."""
    key = spec.objectKey
    if not 1 <= spec.headerRow <= MAX_HEADER_ROW:
        raise RejectedInput(f"headerRow must be from 1 to {MAX_HEADER_ROW}")
    size, etag = storage.head(key)
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
    if (gunzip is not None or zipped is not None) and size > MAX_DECOMPRESSED_BYTES:
        raise RejectedInput(f"the compressed file is {size} bytes; compressed files of at most "
                            f"{MAX_DECOMPRESSED_BYTES} bytes are read (upload the text itself: it is read in slices)")
    if (gunzip is not None or zipped is not None) and file_format in WORKBOOK_FORMATS:
        raise RejectedInput("a compressed workbook is not read: upload the workbook itself (it is compressed "
                            "already)")
    if file_format in WORKBOOK_FORMATS and size > MAX_WORKBOOK_BYTES:
        raise RejectedInput(f"the workbook is {size} bytes; workbooks of at most {MAX_WORKBOOK_BYTES} bytes are "
                            "read (save the sheet as CSV: text files are read up to "
                            f"{MAX_UPLOAD_BYTES} bytes)")
    return Upload(key, size, etag, head, file_format, gunzip, zipped)


def pass_over(storage: Storage, spec: FileSpec, upload: Upload, scan: ByteScan | None, budget: int
              ) -> tuple[ByteScan | ScannedText, int]:
    """Carries the first pass over an uncompressed text file (`upload.plain_text`: workbooks and compressed text
    are passed over when opened) on from `scan` (None: from its start) for at most `budget` bytes. Returns what it
    found once the file ends (ScannedText), else how far it got (ByteScan), with the bytes read."""
    if not upload.plain_text:
        raise ValueError("only an uncompressed text file's first pass is carried in steps")
    checks = TextChecks.for_file(upload.encoding(spec), spec.encoding)
    if not RESUMABLE:  # the running hash cannot be carried: the whole file in this invocation, as one pass, from
        # its start (even if an invocation that could hash in steps began it)
        if upload.size > MAX_DECOMPRESSED_BYTES:
            raise RejectedInput(f"the file is {upload.size} bytes; here files of at most {MAX_DECOMPRESSED_BYTES} "
                                "bytes are read (the first pass cannot be carried across invocations)")
        scan, budget = None, upload.size
    if scan is None:
        scan = ByteScan(sha256=ResumableSha256().state() if RESUMABLE else "")
    else:
        checks.carry_from(scan)
    digest = ResumableSha256(scan.sha256) if RESUMABLE else hashlib.sha256()
    start = scan.offset
    end = min(upload.size, start + max(budget, 1))
    if start < end:
        body = storage.s3.get_object(Bucket=storage.bucket, Key=upload.key, Range=f"bytes={start}-{end - 1}")["Body"]
        while data := body.read(BLOCK):
            digest.update(data)
            checks.feed(data)
    if end < upload.size:
        assert isinstance(digest, ResumableSha256)
        carried = scan.model_copy(update={"offset": end, "sha256": digest.state()})
        checks.carry_to(carried)
        return carried, end - start
    checks.feed(b"")
    return checks.finish(digest.hexdigest()), end - start


@contextlib.contextmanager
def open_upload(storage: Storage, spec: FileSpec, scanned: ScannedText | None = None,
                upload: Upload | None = None) -> Iterator[OpenedSource]:
    """The spec's object, opened as rows the way its options say (format, sheet, header row, delimiter, encoding).
    Text is passed over first (digest, checks), unless `scanned` holds what an earlier pass over it found.
    `upload`: the object as inspected already."""
    upload = upload or inspect_upload(storage, spec)
    key, size, head, file_format = upload.key, upload.size, upload.head, upload.file_format
    gunzip, zipped = upload.gunzip, upload.zipped
    if file_format in WORKBOOK_FORMATS:
        with tempfile.TemporaryDirectory(prefix="sluice-") as directory:
            path = Path(directory) / f"upload.{file_format}"
            with path.open("wb") as spool:
                digest = _digest_of(storage, key, spool.write)
            source = _bounded(read_workbook(path, file_format, spec.sheet, spec.headerRow))
            yield OpenedSource(source, file_format, digest, size, {"format": file_format, **source.facts})
        return

    if scanned is None:
        scanned = _first_pass(storage, spec, upload)
    encoding = TextEncoding(scanned.codec, scanned.encoding, scanned.note)
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
    yield OpenedSource(_bounded(source), file_format, scanned.digest, size, facts, noted, lines, codec, start,
                       scanned.numericDates, scanned)


def _first_pass(storage: Storage, spec: FileSpec, upload: Upload) -> ScannedText:
    """The first pass in one go: the digest of the uploaded bytes, the checks of the text (decompressed)."""
    gunzip, zipped = upload.gunzip, upload.zipped
    if gunzip is None and zipped is None:
        scanned, _ = pass_over(storage, spec, upload, None, upload.size)
        assert isinstance(scanned, ScannedText)
        return scanned
    checks = TextChecks.for_file(upload.encoding(spec), spec.encoding)

    def gunzipped(data: bytes) -> None:
        assert gunzip is not None
        if not data:
            gunzip.finish()
            checks.feed(b"")
        elif text := gunzip.feed(data):
            checks.feed(text)

    if gunzip is not None:
        digest = _digest_of(storage, upload.key, gunzipped)
    else:
        assert zipped is not None
        digest = _digest_of(storage, upload.key)
        member = zipped.stream()
        while data := member.read(BLOCK):
            checks.feed(data)
        checks.feed(b"")
    return checks.finish(digest)


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
                       position.codec, position.offset, rows_before=position.row)


def _read_up_to(stream: io.RawIOBase, size: int) -> bytes:
    data = b""
    while len(data) < size and (block := stream.read(size - len(data))):
        data += block
    return data


def _bounded(source: RowSource) -> RowSource:
    """Holds a source to the limits: too many columns rejects the file, a row too large is a row error. Counts
    the rows read, and notes the end of them (a file without a row says so)."""
    if len(source.header) > MAX_COLUMNS:
        raise RejectedInput(f"the header has {len(source.header)} columns; files of at most {MAX_COLUMNS} "
                            "columns are imported")

    inner = source.rows

    def rows() -> Iterator[SourceRow]:
        for row in inner:
            source.handed_out += 1
            if row.error is None and (too_large := row_too_large(row.values)):
                yield SourceRow(row.row, shortened(row.values), too_large, row.line)
            else:
                yield row
        source.ended = True

    source.rows = rows()
    return source
