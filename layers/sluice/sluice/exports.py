"""Exports: a tenant's records of one item type out as CSV or JSON Lines, in parts, behind 7-day links.

Records are read shard by shard and merged in key order, filtered (field equality; a list means any of),
shaped by a template (select, order, rename columns), or run through one read-only SQL SELECT in an
embedded DuckDB that holds only this tenant's records of this item type, with external access off and
its memory and time bounded. Output is streamed to local disk, part by part, and uploaded.

Download links are ours, not S3's: a presigned URL lives only as long as the credentials that signed it
(a Lambda role's last hours, not days), so each link carries an HMAC-signed token valid 7 days and
answers with a redirect to a fresh, five-minute presigned URL."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import heapq
import hmac
import tempfile
import threading
from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from sluice import dynamo
from sluice.auth import Principal
from sluice.aws import Clients
from sluice.clock import iso_from_ms, now_ms
from sluice.csvsafe import neutralise
from sluice.dynamo import Item, from_av
from sluice.errors import BadRequest, NotFound, RejectedInput
from sluice.ids import new_sortable_id
from sluice.itemtypes import ItemType, ItemTypeStore
from sluice.jobs import FINISHED, JobStore, Status
from sluice.records import RecordMeta, partition
from sluice.storage import Storage

LINK_DAYS = 7
LINK_MS = LINK_DAYS * 86_400_000
REDIRECT_SECONDS = 300
SQL_MAX_SECONDS = 120
SQL_MEMORY = "512MB"
CONTENT_TYPES = {"text/csv": "csv", "application/json": "jsonl", "application/x-ndjson": "jsonl",
                 "application/jsonl": "jsonl"}


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    itemType: str = Field(max_length=64)
    contentType: Literal["text/csv", "application/json", "application/x-ndjson", "application/jsonl"] = "text/csv"
    rowHeader: bool = True
    filters: dict[str, Any] | None = Field(default=None, max_length=50)
    sqlQuery: str | None = Field(default=None, max_length=20_000)
    template: list[str] | dict[str, str] | None = None  # fields in order, or {field: column header} in order
    jobName: str | None = Field(default=None, max_length=200)
    notificationEmail: str | None = Field(default=None, max_length=254)


def _store(clients: Clients) -> JobStore:
    return JobStore(clients, prefix="EXPORT")


def _columns(item_type: ItemType, template: list[str] | dict[str, str] | None) -> list[tuple[str, str]]:
    """(field, header) pairs: the template's selection and names, else every field in schema order."""
    known = ["key", *item_type.definition.fields]
    if template is None:
        return [(name, name) for name in item_type.definition.fields]
    pairs = [(name, name) for name in template] if isinstance(template, list) else list(template.items())
    unknown = [field for field, _ in pairs if field not in known]
    if unknown:
        raise BadRequest(f"template names unknown fields: {', '.join(unknown)}; known: {', '.join(known)}")
    if not pairs:
        raise BadRequest("template selects no columns")
    return pairs


def create_export(clients: Clients, principal: Principal, request: ExportRequest) -> Item:
    item_type = ItemTypeStore(clients).get(principal.tenant, request.itemType)
    if item_type is None:
        raise BadRequest(f"unknown item type '{request.itemType}'", code="unknown_item_type")
    if request.filters and not request.sqlQuery:
        unknown = [f for f in request.filters if f != "key" and f not in item_type.definition.fields]
        if unknown:
            raise BadRequest(f"filters name unknown fields: {', '.join(unknown)}")
    _columns(item_type, request.template)
    submitted = now_ms()
    export = {
        "tenant": principal.tenant, "jobId": new_sortable_id(submitted), "kind": "export",
        "jobName": request.jobName or f"{request.itemType} export", "itemType": request.itemType,
        "status": Status.ACCEPTED.value, "submitMs": submitted, "submittedBy": principal.key_id,
        "request": request.model_dump_json(exclude_none=True), "contentType": request.contentType,
        "notificationEmail": request.notificationEmail, "creationPath": "API",
        "expiresAt": submitted // 1000 + clients.settings.retention_days * 86_400 * 2,
    }
    _store(clients).create(export)
    message = {"tenant": principal.tenant, "exportId": export["jobId"]}
    clients.sqs.send_message(QueueUrl=clients.settings.export_queue_url, MessageBody=orjson.dumps(message).decode())
    return export


def find_export(clients: Clients, tenant: str, export_id: str) -> Item:
    export = _store(clients).get(tenant, export_id)
    if export is None:
        raise NotFound(f"export {export_id} not found")
    return export


def export_view(clients: Clients, export: Item, base_url: str = "") -> dict[str, Any]:
    finish = export.get("finishMs")
    start = export.get("startMs")
    run_time = export.get("runTimeMs")
    if run_time is None:
        run_time = max(0, now_ms() - int(start)) if start else 0
    view: dict[str, Any] = {
        "exportId": export["jobId"], "jobId": export["jobId"], "jobName": export.get("jobName"),
        "itemType": export.get("itemType"), "contentType": export.get("contentType"), "status": export.get("status"),
        "reason": export.get("reason"), "submitTime": iso_from_ms(export.get("submitMs")),
        "startTime": iso_from_ms(start), "finishTime": iso_from_ms(finish), "dateFinished": int(finish or 0),
        "finished": export.get("status") in FINISHED, "runTime": int(run_time),
        "recordsProcessed": int(export.get("recordsProcessed", 0)), "parts": int(export.get("parts", 0)),
        "notificationEmail": export.get("notificationEmail"),
        "links": {"self": f"/v1/exports/{export['jobId']}"},
    }
    if export.get("status") == Status.COMPLETED:
        view["links"]["download"] = download_links(clients, export, base_url)
        view["expiresAt"] = iso_from_ms(int(finish or 0) + LINK_MS)
    return view


# --- links ---------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _secret(clients: Clients) -> bytes:
    if not clients.settings.link_secret_arn:
        raise RuntimeError("LINK_SECRET_ARN is not set")
    return str(clients.secrets.get_secret_value(SecretId=clients.settings.link_secret_arn)["SecretString"]).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def part_key(tenant: str, export_id: str, part: int, extension: str) -> str:
    return f"exports/{tenant}/{export_id}/part-{part:04d}.{extension}"


def download_links(clients: Clients, export: Item, base_url: str | None = None) -> list[str]:
    """The export's parts as signed links of this API (base_url: the API's address; default PUBLIC_API_URL)."""
    base = (clients.settings.public_api_url if base_url is None else base_url).rstrip("/")
    expires = int(export.get("finishMs") or now_ms()) + LINK_MS
    extension = CONTENT_TYPES.get(str(export.get("contentType")), "csv")
    links = []
    for part in range(1, int(export.get("parts", 0)) + 1):
        payload = _b64(orjson.dumps({"k": part_key(export["tenant"], export["jobId"], part, extension), "x": expires}))
        signature = _b64(hmac.new(_secret(clients), payload.encode(), hashlib.sha256).digest())
        links.append(f"{base}/v1/export-links/{payload}.{signature}")
    return links


def resolve_link(clients: Clients, token: str) -> str:
    """A signed link -> a fresh short-lived S3 URL; NotFound for anything forged, altered or expired."""
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(_secret(clients), payload.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(expected, signature):
        raise NotFound("this download link is not valid")
    try:
        claims = orjson.loads(_unb64(payload))
    except (ValueError, orjson.JSONDecodeError):
        raise NotFound("this download link is not valid") from None
    if now_ms() > int(claims["x"]):
        raise NotFound(f"this download link expired {LINK_DAYS} days after its export finished; export again")
    return Storage(clients).presign_get(str(claims["k"]), REDIRECT_SECONDS)


# --- running an export -------------------------------------------------------------------------


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


def _records(clients: Clients, item_type: ItemType) -> Iterator[dict[str, Any]]:
    """Every record of the item type, in key order across shards, as the records API shows attributes."""

    def shard(number: int) -> Iterator[dict[str, Any]]:
        key = {":pk": {"S": partition(item_type.tenant, item_type.name, number)}}
        yield from dynamo.query_pages(clients.dynamodb, TableName=clients.settings.records_table,
                                      KeyConditionExpression="pk = :pk", ExpressionAttributeValues=key)

    for item in heapq.merge(*(shard(n) for n in range(item_type.shards)), key=lambda i: i["sk"]["S"]):
        attributes = from_av(item["a"])
        meta = RecordMeta.decode(item["m"]["S"])
        yield {"key": item["sk"]["S"], **attributes, "_version": meta.version}


def _matches(record: dict[str, Any], filters: dict[str, Any]) -> bool:
    for field, wanted in filters.items():
        value = record.get(field)
        options = wanted if isinstance(wanted, list) else [wanted]
        if not any(_equal(value, option) for option in options):
            return False
    return True


def _equal(value: Any, wanted: Any) -> bool:
    if value is None or wanted is None:
        return value is wanted
    if isinstance(value, bool) or isinstance(wanted, bool):
        return str(value).lower() == str(wanted).lower()
    return str(value) == str(wanted)


class PartWriter:
    """Writes rows to local files, a new part every `part_rows`, each uploaded when full."""

    def __init__(self, clients: Clients, export: Item, fmt: str, header: list[str], row_header: bool) -> None:
        self.clients = clients
        self.export = export
        self.fmt = fmt
        self.header = header
        self.row_header = row_header
        self.part_rows = clients.settings.export_part_rows
        self.parts = 0
        self.rows = 0
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

    def _close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        storage = Storage(self.clients)
        key = part_key(self.export["tenant"], self.export["jobId"], self.parts, self.fmt)
        content_type = "text/csv; charset=utf-8" if self.fmt == "csv" else "application/x-ndjson"
        storage.s3.upload_file(self._file.name, storage.bucket, key, ExtraArgs={"ContentType": content_type})
        self._file = None

    def finish(self) -> None:
        if self._file is None and self.parts == 0:
            self._open()  # an empty export is one part holding (at most) the header
        self._close()
        self._directory.cleanup()


def run_export(clients: Clients, tenant: str, export_id: str) -> str:
    store = _store(clients)
    export = store.get(tenant, export_id)
    if export is None:
        return "no-export"
    if export["status"] in FINISHED:
        return "finished"
    started = store.update(tenant, export_id, {"status": Status.PROCESSING.value,
                                               "startMs": export.get("startMs") or now_ms()},
                           allowed_from={Status.ACCEPTED, Status.PROCESSING})
    if started is None:
        return "state-changed"
    request = ExportRequest.model_validate_json(started["request"])
    item_type = ItemTypeStore(clients).get(tenant, request.itemType)
    try:
        if item_type is None:
            raise RejectedInput(f"item type '{request.itemType}' no longer exists")
        fmt = CONTENT_TYPES[request.contentType]
        if request.sqlQuery:
            writer = _run_sql(clients, started, item_type, request, fmt)
        else:
            columns = _columns(item_type, request.template)
            writer = PartWriter(clients, started, fmt, [h for _, h in columns], request.rowHeader)
            for record in _records(clients, item_type):
                if request.filters and not _matches(record, request.filters):
                    continue
                writer.write([record.get(field) for field, _ in columns])
            writer.finish()
    except RejectedInput as rejected:
        store.finish(started, Status.REJECTED, rejected.reason, {Status.PROCESSING})
        return "rejected"
    store.update(tenant, export_id, {"recordsProcessed": writer.rows, "parts": writer.parts},
                 allowed_from={Status.PROCESSING})
    finished = store.get(tenant, export_id) or started
    store.finish(finished, Status.COMPLETED, None, {Status.PROCESSING})
    return "completed"


_DUCK_TYPES = {"string": "VARCHAR", "email": "VARCHAR", "enum": "VARCHAR", "integer": "BIGINT",
               "decimal": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMP"}


def _run_sql(clients: Clients, export: Item, item_type: ItemType, request: ExportRequest, fmt: str) -> PartWriter:
    import duckdb

    sql = (request.sqlQuery or "").strip().rstrip(";").strip()
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
            columns = ", ".join(['"key" VARCHAR'] + [f'"{name}" {_DUCK_TYPES[spec.type]}' for name, spec in fields])
            connection.execute(f"CREATE TABLE records ({columns})")
            staged = Path(directory) / "records.csv"
            with staged.open("w", encoding="utf-8", newline="") as handle:
                out = csv.writer(handle)
                for record in _records(clients, item_type):
                    out.writerow([record["key"]] + [_sql_text(record.get(name)) for name, _ in fields])
            connection.execute(f"COPY records FROM '{staged}' (FORMAT csv, HEADER false, NULLSTR '\\N')")
            staged.unlink()
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
            timer = threading.Timer(SQL_MAX_SECONDS, connection.interrupt)
            timer.start()
            try:
                cursor = connection.execute(sql)
                header = [d[0] for d in cursor.description or []]
                writer = PartWriter(clients, export, fmt, header, request.rowHeader)
                while True:
                    batch = cursor.fetchmany(1000)
                    if not batch:
                        break
                    for row in batch:
                        writer.write([_sql_value(v) for v in row])
                writer.finish()
                return writer
            except duckdb.InterruptException:
                raise RejectedInput(f"sqlQuery ran longer than {SQL_MAX_SECONDS} s and was stopped") from None
            except duckdb.Error as exc:
                raise RejectedInput(f"sqlQuery failed: {str(exc).splitlines()[0]}") from None
            finally:
                timer.cancel()
        finally:
            connection.close()


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

