"""What a job knows about each of its files: where the bytes are, how to read them, what they hold.

A single-file job (forms 1-3) has one spec; a staged job has one per file its control document declares.
Ingest reads the specs in order; the worker looks up the spec of the file a chunk came from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sluice.sources import ReadOptions

FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$"


class FileSpec(BaseModel):
    name: str
    itemType: str
    snapshot: dict[str, Any]  # the item type's schema when the job was created (ItemType.snapshot())
    objectKey: str
    merge: bool = False
    columns: dict[str, str] = Field(default_factory=dict)
    contentType: str | None = None
    fileName: str | None = None
    sheet: str | None = None
    headerRow: int = 1
    delimiter: str | None = None
    encoding: str | None = None

    def read_options(self) -> ReadOptions:
        return ReadOptions(self.contentType, self.fileName or self.name, self.sheet, self.headerRow, self.delimiter,
                           self.encoding)


def specs_of(job: dict[str, Any]) -> list[FileSpec]:
    return [FileSpec.model_validate(spec) for spec in job.get("fileSpecs", [])]


def spec_of(job: dict[str, Any], index: int) -> FileSpec:
    return FileSpec.model_validate(job["fileSpecs"][index])


DUPLICATE_FILE_SHIFT = 32


def first_seen_encode(file_index: int, row: int) -> int:
    """Where a key was first seen, as one number: the file's index and the row within it."""
    return (file_index << DUPLICATE_FILE_SHIFT) | row


def first_seen_decode(value: int) -> tuple[int, int]:
    return value >> DUPLICATE_FILE_SHIFT, value & ((1 << DUPLICATE_FILE_SHIFT) - 1)
