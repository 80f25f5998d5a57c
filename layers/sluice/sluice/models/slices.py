"""Reading a job's files in slices: what one ingest invocation hands the next.

A slice reads at most `IngestSliceBytes` of text and always ends at the end of a record (never inside a quoted
field), so the next slice starts at that record's byte offset with the reader's state as it was: the file's
encoding, delimiter and header, the next row and line numbers, and the counts so far. The duplicate-key
registry travels beside this state (a file of its own). The state of slice k is written before slice k's
continuation message is sent and is never changed afterwards: a slice delivered twice starts from the same
state and cuts the same chunks."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field

from sluice.models.filespec import FileFacts


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
    warnings: list[str] = Field(default_factory=list)  # what the first pass found (a fallback encoding)
    firstChunk: int
    rowsSent: int = 0
    slices: int = 0
    position: TextPosition


class SliceState(BaseModel):
    """Everything slice `slice` of run `run` needs to carry on from where the slice before it stopped."""

    run: int
    slice: int
    chunk: int  # the next chunk number
    files: list[FileFacts] = Field(default_factory=list)  # files read to the end
    current: FileProgress | None = None  # None: the next file starts at its beginning
    nextFile: int = 0  # the index of the next file to open (when current is None)
    registry: bool = False  # a duplicate-key registry travels with this state
    redrive: bool = False  # a re-drive's run: sends only the chunks not counted yet, checkpoints no chunksSent

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, body: bytes) -> SliceState:
        return cls.model_validate(orjson.loads(body))


class SliceMessage(BaseModel):
    """The continuation on the IngestQueue: read slice `slice` of run `run` of this job (its state is stored)."""

    tenant: str
    jobId: str
    run: int
    slice: int

    def to_body(self) -> str:
        return orjson.dumps({"ingestSlice": self.model_dump()}).decode()

    @classmethod
    def from_body(cls, body: str) -> SliceMessage | None:
        """The continuation in a queue message's body, or None if the body is something else (an S3 event)."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(parsed, dict) or "ingestSlice" not in parsed:
            return None
        return cls.model_validate(parsed["ingestSlice"])
