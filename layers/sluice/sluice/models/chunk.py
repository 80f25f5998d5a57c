"""The chunk message: many rows of one job, carried from ingest to the worker on the ChunkQueue."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel


class ChunkRow(NamedTuple):
    """One row on its way to the worker (a JSON array on the wire)."""

    row: int  # data row number in its file, from 1
    duplicate_of: int  # where the same key was first seen (filespec.first_seen_encode), 0: nowhere before
    values: list[Any]  # aligned with the message's header
    error: str | None  # why the row could not be read, if so
    line: int  # physical line (text) or sheet row (workbook) where the row starts


class ChunkMessage(BaseModel):
    tenant: str
    jobId: str
    chunk: int
    file: int = 0  # which of the job's files (its fileSpecs) the rows come from
    header: list[str]
    fields: list[str | None]  # the schema field each header column feeds, if any
    rows: list[ChunkRow]
    dateFormats: dict[str, str] = {}  # date field -> the pattern its values are read with (ingest settled it)
    keyed: bool = False  # each row's only value is a record key (purges and reverts), not a source row
    source: int | None = None  # a revert's chunk: the chunk of the reverted job whose changes it undoes

    def to_body(self) -> str:
        return orjson.dumps(self.model_dump()).decode()

    @classmethod
    def from_body(cls, body: str) -> ChunkMessage:
        return cls.model_validate(orjson.loads(body))
