"""sqlQuery: one read-only SELECT over a table `records` that holds only this tenant's records of one item
type, in an embedded DuckDB with external access off and its memory and time bounded."""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from sluice.exports.writer import PartWriter
from sluice.models.errors import LimitReached, RejectedInput
from sluice.models.export import Export
from sluice.models.itemtype import ItemType
from sluice.store.clients import Clients
from sluice.store.records import RecordStore

SQL_MAX_SECONDS = 120
SQL_MEMORY = "512MB"

_DUCK_TYPES = {"string": "VARCHAR", "email": "VARCHAR", "enum": "VARCHAR", "integer": "BIGINT",
               "decimal": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMP"}


def run_sql(clients: Clients, export: Export, item_type: ItemType) -> PartWriter:
    import duckdb

    sql = (export.request.sqlQuery or "").strip().rstrip(";").strip()
    with tempfile.TemporaryDirectory(prefix="sluice-sql-") as directory:
        connection = duckdb.connect(":memory:", config={"memory_limit": SQL_MEMORY, "threads": 2,
                                                        "temp_directory": directory})
        try:
            try:
                statements = connection.extract_statements(sql)
            except duckdb.Error as exc:
                raise RejectedInput(f"sqlQuery cannot be parsed: {exc}") from None
            if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                raise RejectedInput("sqlQuery must be exactly one read-only SELECT statement over the table 'records'")
            fields = list(item_type.definition.fields.items())
            _check_column_names(["key", *(name for name, _ in fields)])
            columns = ", ".join(['"key" VARCHAR'] + [f'"{name}" {_DUCK_TYPES[spec.type]}' for name, spec in fields])
            connection.execute(f"CREATE TABLE records ({columns})")
            staged = Path(directory) / "records.csv"
            with staged.open("w", encoding="utf-8", newline="") as handle:
                out = csv.writer(handle)
                for record in RecordStore(clients).every(item_type):
                    out.writerow([record["key"]] + [_sql_text(record.get(name)) for name, _ in fields])
            try:
                connection.execute(f"COPY records FROM '{staged}' (FORMAT csv, HEADER false, NULLSTR '\\N')")
            except duckdb.Error as exc:
                raise RejectedInput("a stored record does not fit its item type's field types (was a field's type "
                                    f"changed after records were imported?): {_clean(exc, directory)}") from None
            staged.unlink()
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
            timer = threading.Timer(SQL_MAX_SECONDS, connection.interrupt)
            timer.start()
            try:
                cursor = connection.execute(sql)
                header = [d[0] for d in cursor.description or []]
                writer = PartWriter(clients, export, header)
                while True:
                    batch = cursor.fetchmany(1000)
                    if not batch:
                        break
                    for row in batch:
                        writer.write([_sql_value(v) for v in row])
                writer.finish()
                return writer
            except duckdb.InterruptException:
                raise LimitReached(f"sqlQuery ran longer than {SQL_MAX_SECONDS} s and was stopped") from None
            except duckdb.Error as exc:
                raise RejectedInput(f"sqlQuery failed: {_clean(exc, directory)}") from None
            finally:
                timer.cancel()
        finally:
            connection.close()


def _check_column_names(names: list[str]) -> None:
    """SQL names are case-insensitive: two fields differing only in case (or a field named like the `key`
    column) cannot both be columns."""
    seen: dict[str, str] = {}
    for name in names:
        folded = name.casefold()
        if folded in seen:
            raise RejectedInput(f"fields '{seen[folded]}' and '{name}' differ only in case, so sqlQuery cannot tell "
                                "them apart; export with filters and a template instead")
        seen[folded] = name


_INTERNALS = re.compile(r"(?i)\b(temp_directory|memory_limit|enable_external_access|lock_configuration|threads)\b")


def _clean(exc: Exception, directory: str) -> str:
    """DuckDB's message, first line only, without our paths or settings."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.replace(directory, "<temporary directory>")
    text = re.sub(r"/tmp/[^\s'\"]*", "<temporary file>", text)
    if _INTERNALS.search(text):
        return "the query uses something exports do not allow (files, extensions or settings)"
    return text[:500]


def _sql_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text[:-1] if text.endswith("Z") and "T" in text else text


def _sql_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
