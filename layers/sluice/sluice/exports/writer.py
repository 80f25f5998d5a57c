"""Writing an export's rows to local files, a part at a time, each uploaded to S3 when full."""

from __future__ import annotations

import csv
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from sluice.models.csvsafe import neutralise
from sluice.models.errors import LimitReached
from sluice.models.export import Export
from sluice.models.limits import EXPORT_MAX_BYTES, EXPORT_MAX_SECONDS
from sluice.store.blobs import Storage, export_part_key
from sluice.store.clients import Clients


def csv_cell(value: Any) -> Any:
    """Text is neutralised; numbers (a spreadsheet never runs a number), dates and booleans are written as
    values, so a negative number stays a number."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


class PartWriter:
    """Writes rows to local files, a new part every `part_rows`, each uploaded when full."""

    def __init__(self, clients: Clients, export: Export, header: list[str]) -> None:
        self.clients = clients
        self.export = export
        self.fmt = export.request.file_format
        self.header = header
        self.row_header = export.request.rowHeader
        self.part_rows = clients.settings.export_part_rows
        self.deadline = time.monotonic() + EXPORT_MAX_SECONDS
        self.parts = 0
        self.rows = 0
        self.bytes_before_part = 0  # output of the parts already closed
        self._in_part = 0
        self._directory = tempfile.TemporaryDirectory(prefix="sluice-export-")
        self._file: Any = None
        self._writer: Any = None

    def _open(self) -> None:
        self.parts += 1
        self._in_part = 0
        path = Path(self._directory.name) / f"part-{self.parts}"
        self._file = path.open("w", encoding="utf-8", newline="")
        if self.fmt == "csv":
            self._writer = csv.writer(self._file, lineterminator="\r\n")
            if self.row_header:
                self._writer.writerow([neutralise(h) for h in self.header])

    def write(self, values: list[Any]) -> None:
        if self._file is None or self._in_part >= self.part_rows:
            self._close()
            self._open()
        if self.fmt == "csv":
            self._writer.writerow([csv_cell(v) for v in values])
        else:
            obj = {h: v for h, v in zip(self.header, values, strict=True) if v is not None}
            self._file.write(orjson.dumps(obj, default=str).decode() + "\n")
        self._in_part += 1
        self.rows += 1
        if self.rows % 1000 == 0:
            self._check_limits()

    def _check_limits(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitReached(f"the export ran longer than {EXPORT_MAX_SECONDS} s and was stopped after "
                               f"{self.rows} records; narrow it with filters or sqlQuery")
        if self.bytes_before_part + self._file.tell() > EXPORT_MAX_BYTES:
            raise LimitReached(f"the export's output passed {EXPORT_MAX_BYTES} bytes and was stopped after "
                               f"{self.rows} records; narrow it with filters or sqlQuery")

    def _close(self) -> None:
        if self._file is None:
            return
        self.bytes_before_part += self._file.tell()
        self._file.close()
        storage = Storage(self.clients)
        key = export_part_key(self.export.tenant, self.export.exportId, self.parts, self.fmt)
        content_type = "text/csv; charset=utf-8" if self.fmt == "csv" else "application/x-ndjson"
        storage.s3.upload_file(self._file.name, storage.bucket, key, ExtraArgs={"ContentType": content_type})
        self._file = None

    def finish(self) -> None:
        if self._file is None and self.parts == 0:
            self._open()  # an empty export is one part holding (at most) the header
        self._close()
        self._directory.cleanup()
