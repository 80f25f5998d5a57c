"""A control document: the files a staged job will hold, each with its item type and how to read it."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sluice.models.fields import TextEncoding
from sluice.models.filespec import FILE_NAME_PATTERN

MAX_FILES = 20
MAX_CONTROL_BYTES = 256 * 1024
FORMAT_CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "xlsx": "xlsx", "xls": "xls",
                        "xlsb": "xlsb"}


class ControlFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    itemType: str = Field(max_length=64)
    format: str | None = Field(default=None, pattern="^(csv|jsonl|xlsx|xls|xlsb)$")
    columns: dict[str, str] = Field(default_factory=dict, max_length=1000)
    merge: bool = False
    sheet: str | None = Field(default=None, max_length=100)
    headerRow: int = Field(default=1, ge=1, le=1000)
    delimiter: str | None = Field(default=None, max_length=10)
    encoding: TextEncoding | None = None


class ControlDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: dict[str, ControlFile] = Field(min_length=1, max_length=MAX_FILES)

    @field_validator("files")
    @classmethod
    def _names(cls, files: dict[str, ControlFile]) -> dict[str, ControlFile]:
        bad = [name for name in files if not re.fullmatch(FILE_NAME_PATTERN, name)]
        if bad:
            raise ValueError(f"file names must match {FILE_NAME_PATTERN}: {', '.join(bad)}")
        return files
