"""What a job knows about each of its files: where the bytes are, how to read them, what reading found.

A single-file job (forms 1-3) has one spec; a staged job has one per file its control document declares.
Ingest opens each spec's object the way the spec says and records the file's facts; the worker looks up
the spec of the file a chunk came from."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from sluice.models.warnings import JobWarning, stored_warnings

FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$"


class SchemaSnapshot(BaseModel):
    """The item type's schema when the job was created: its rows are validated against this, not today's."""

    definition: str  # ItemTypeDefinition as JSON
    version: int
    shards: int


class FileSpec(BaseModel):
    """One file of a job and how to read it (the reader's options live here and nowhere else)."""

    name: str
    itemType: str
    snapshot: SchemaSnapshot | None = None  # None only for a job recorded as Rejected for an unknown item type
    objectKey: str
    merge: bool = False
    columns: dict[str, str] = Field(default_factory=dict)
    contentType: str | None = None
    fileName: str | None = None
    sheet: str | None = None
    headerRow: int = 1
    delimiter: str | None = None
    encoding: str | None = None
    unknownColumns: Literal["ignore", "warn", "reject"] = "warn"
    dateFormat: str | None = None  # the request's, over the item type's fields' own
    # date field -> pattern settled already: a retry reads its job's failed rows with the orders that job learnt
    learntDateFormats: dict[str, str] = Field(default_factory=dict)

    def schema_snapshot(self) -> SchemaSnapshot:
        if self.snapshot is None:
            raise ValueError(f"file {self.name} has no schema snapshot")
        return self.snapshot


class ReadingFacts(BaseModel):
    """How a file was read, as the job shows it."""

    format: str | None = None
    compression: str | None = None  # gzip, when the upload was compressed
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheetNames: list[str] | None = None


class FileFacts(ReadingFacts):
    """What ingest learned reading one file of a job."""

    name: str
    itemType: str
    digest: str
    size: int
    rows: int
    firstChunk: int
    chunkCount: int
    slices: int = 1  # ingest invocations that read this file
    header: list[str] = Field(default_factory=list)
    ignoredColumns: list[str] = Field(default_factory=list)
    blankRows: int = 0
    warnings: list[JobWarning] = Field(default_factory=list)
    dateFormats: dict[str, str] = Field(default_factory=dict)  # date field -> the pattern its values were read with

    @field_validator("warnings", mode="before")
    @classmethod
    def _stored_warnings(cls, value: Any) -> Any:
        return stored_warnings(value)


class StagedFile(BaseModel):
    """A file a staged job's control document declares, and whether it has arrived."""

    name: str
    itemType: str
    uploaded: bool = False
    digest: str | None = None
    size: int | None = None


DUPLICATE_FILE_SHIFT = 32


def first_seen_encode(file_index: int, row: int) -> int:
    """Where a key was first seen, as one number: the file's index and the row within it."""
    return (file_index << DUPLICATE_FILE_SHIFT) | row


def first_seen_decode(value: int) -> tuple[int, int]:
    return value >> DUPLICATE_FILE_SHIFT, value & ((1 << DUPLICATE_FILE_SHIFT) - 1)
