"""Reading a job's files in slices: what one ingest invocation hands the next.

A slice reads at most `IngestSliceBytes` of text and always ends at the end of a record (never inside a quoted
field), so the next slice starts at that record's byte offset with the reader's state as it was: the file's
encoding, delimiter and header, the next row and line numbers, and the counts so far. The duplicate-key
registry travels beside this state (a file of its own). The state of slice k is written before slice k's
continuation message is sent and is never changed afterwards: a slice delivered twice starts from the same
state and cuts the same chunks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from sluice.models.continuations import Continuation, StoredState
from sluice.models.filespec import FileFacts
from sluice.models.warnings import JobWarning, stored_warnings


class TextPosition(BaseModel):
    """Where the next slice of a text file starts, and the reader's state there."""

    offset: int  # byte offset of the next record
    codec: str  # the codec that decodes from here (no byte-order mark: utf-8, utf-16-le, ...)
    delimiter: str | None = None  # CSV
    header: list[str]  # CSV: the header row; JSON Lines: the keys seen so far, in first-seen order
    row: int  # rows read so far (the next row is row + 1)
    line: int  # physical lines read so far
    blankRows: int = 0
    nuls: int = 0


class FileProgress(BaseModel):
    """The file being read, as far as the slices before this one got."""

    index: int
    digest: str
    size: int
    facts: dict[str, Any] = Field(default_factory=dict)  # format, encoding, delimiter
    warnings: list[JobWarning] = Field(default_factory=list)  # what the first pass found (a fallback encoding)
    dateFormats: dict[str, str] = Field(default_factory=dict)  # date field -> pattern, settled before the first slice

    @field_validator("warnings", mode="before")
    @classmethod
    def _stored_warnings(cls, value: Any) -> Any:
        return stored_warnings(value)  # a slice state stored when warnings were texts
    firstChunk: int
    rowsSent: int = 0
    slices: int = 0
    position: TextPosition


class ByteScan(BaseModel):
    """The first pass over a text file's bytes (sha256, decoding check, line lengths, numeric-date sniff), as far as
    one or more slices got: it reads the file before any row of the job is sent, so a bad byte anywhere rejects the
    job with nothing applied, and it is carried on across invocations like the rows are."""

    offset: int = 0  # bytes fed so far
    sha256: str  # the running hash's state (intake/sha256.py)
    decoderPending: str = ""  # base64: the bytes of a character the last slice cut in two
    decoderFlag: int = 0  # the incremental decoder's flag (a UTF-16 file's byte order once its mark is read)
    fallback: bool = False  # the bytes so far also decode as the fallback encoding
    error: str | None = None  # the first undecodable byte, if any
    line: int = 1  # the line the line-length check is in
    lineBytes: int = 0  # bytes of it so far
    datesFound: bool = False
    dateTail: str = ""  # base64: the last bytes, where a date may continue


class ScannedText(BaseModel):
    """What the first pass found in a text file: its open needs no second pass."""

    digest: str
    codec: str
    encoding: str
    note: str | None = None  # the encoding was guessed
    numericDates: bool = True  # may hold dates written day and month first (a date read-ahead may be needed)


class DateReadAhead(BaseModel):
    """Reading a file's rows ahead, before any is sent, for what only all of them tell: the order of its numeric
    dates, and (JSON Lines) every key. Carried across slices like the rows."""

    position: TextPosition
    facts: dict[str, Any] = Field(default_factory=dict)  # format, delimiter, compression: how to read on
    columns: list[dict[str, Any]] = Field(default_factory=list)  # intake/dates.DateColumn, as seen so far


class FileCheck(BaseModel):
    """One file read ahead before any row of the job is sent: its bytes' first pass, then, when its date columns
    need it, its rows. Each part may take several slices."""

    scan: ByteScan | None = None  # the first pass, while it runs (plain text files)
    scanned: ScannedText | None = None  # its findings (None for workbooks and compressed text until opened)
    dates: DateReadAhead | None = None  # the date read-ahead, while it runs
    dateFormats: dict[str, str] | None = None  # date field -> pattern, once settled
    done: bool = False
    etag: str | None = None  # the object the check read: another one under its key rejects the job
    slices: int = 0  # invocations that read it for its check
    lastSlice: int = -1  # the last of them


class SliceState(StoredState):
    """Everything slice `slice` of run `run` needs to carry on from where the slice before it stopped."""

    run: int
    slice: int
    chunk: int  # the next chunk number
    files: list[FileFacts] = Field(default_factory=list)  # files read to the end
    current: FileProgress | None = None  # None: the next file starts at its beginning
    nextFile: int = 0  # the index of the next file to open (when current is None)
    registry: bool = False  # a duplicate-key registry travels with this state
    redrive: bool = False  # a re-drive's run: sends only the chunks not counted yet, checkpoints no chunksSent
    checks: list[FileCheck] = Field(default_factory=list)  # the files read ahead so far, in order (the last may
    # be in progress); rows are sent once every file's check is done


class SliceMessage(Continuation):
    """The continuation on the IngestQueue: read slice `slice` of run `run` of this job (its state is stored)."""

    KEY = "ingestSlice"

    run: int
    slice: int
