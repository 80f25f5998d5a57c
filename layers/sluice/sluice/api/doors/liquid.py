"""003 - Liquid Decisions batch: `POST /ls/api/batch/import`, `/status` and `/export`, each answered with the
Batch Status Response exactly as the seed shows it (`submitTime` as `2015-05-26T13:35:25+0000`,
`recordsProcessed` and `runTime` as strings of integers).

A thin translator over `intake.submit.submit_inline` (multipart `POST /v1/jobs`), `exports.submit.create_export`
(`POST /v1/exports`) and the job and export stores (`GET /v1/jobs/{id}`, `GET /v1/exports/{id}`). Liquid's
clients send dicts as their Python text (`str(filters)`): those are read with `ast.literal_eval`, never `eval`.
Errors are `{"status": "Rejected", "reason": ...}` for a request that created nothing, `{"jobId", "reason"}` for
a status query."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import orjson
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sluice.api.doors.common import form, ignored_fields, item_type, seed_errors
from sluice.api.http import raw_body
from sluice.api.idempotency import idempotent
from sluice.api.request import base_url, json_response, principal
from sluice.exports.links import download_links
from sluice.exports.submit import create_export
from sluice.intake import submit
from sluice.models.errors import BadRequest, NotFound, PayloadTooLarge
from sluice.models.export import Export, ExportRequest
from sluice.models.ids import is_job_id
from sluice.models.job import Job, JobOptions, Status
from sluice.models.principal import Principal
from sluice.store.clients import Clients, get_clients
from sluice.store.exports import ExportStore
from sluice.store.jobs import JobStore

router = APIGatewayHttpRouter()
BASE = "/ls/api/batch"
LIQUID_IMPORT_FIELDS = {"itemType", "contentType", "template", "jobName", "merge", "notificationEmail", "file"}
MAX_LITERAL = 20_000  # characters of a filters or template value
# contentType values Liquid clients send -> what the job or export is given
IMPORT_TYPES = {"application/json": "application/json", "plain/text": "text/plain", "text/plain": "text/plain",
                "text/csv": "text/csv"}
EXPORT_TYPES = {"application/json": "application/json", "plain/text": "text/csv", "text/plain": "text/csv",
                "text/csv": "text/csv"}
# the seed's own descriptions of each status, the reason shown when Sluice has none of its own
REASONS = {
    Status.INITIALIZED: "A new job has been received and is being accepted",
    Status.ACCEPTED: "The job has been accepted and is ready to run",
    Status.PROCESSING: "The job has begun processing",
    Status.COMPLETED: "The job has been completed",
    Status.REJECTED: "There was an error with the job parameters or file that caused the job to be rejected",
    Status.CANCELING: "A request to cancel the job has been received and the job will be canceled next time it is "
                      "up for processing",
    Status.CANCELED: "The job has been canceled",
    Status.FAILED: "During processing there was an error with the job that caused the job to fail to complete",
}
_VELOCITY_REFERENCE = re.compile(r"\$!?\{?[A-Za-z_]\w*\.([A-Za-z][A-Za-z0-9_-]{0,63})")


def rejected(status: int, message: str, headers: dict[str, str]) -> Response:
    """An import or export request that created nothing."""
    return json_response({"status": Status.REJECTED.value, "reason": message}, status, headers or None)


def status_error(status: int, message: str, headers: dict[str, str]) -> Response:
    return json_response({"jobId": None, "reason": message}, status, headers or None)


def liquid_time(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def job_status(job: Job) -> dict[str, Any]:
    """An import job as the Batch Status Response."""
    counts = job.counts
    reason = job.reason
    if reason is None and job.status == Status.ACCEPTED:
        reason = "The file has been stored and the job is ready for processing"  # the seed's own example
    elif reason is None and job.status == Status.COMPLETED:
        reason = (f"The job has been completed: {counts.processed} records processed ({counts.created} created, "
                  f"{counts.updated} updated, {counts.unchanged} unchanged, {counts.failed} failed)")
    return {"submitTime": liquid_time(job.submitMs), "jobId": job.jobId, "notificationEmail": job.notificationEmail,
            "jobName": job.jobName, "contentType": job.contentType, "itemType": job.itemType,
            "recordsProcessed": str(counts.processed), "runTime": str(job.run_time_ms()), "status": job.status.value,
            "reason": reason or REASONS[job.status]}


def export_status(export: Export, links: list[str] | None) -> dict[str, Any]:
    """An export as the Batch Status Response; once Completed with its download links (valid one week)."""
    request = export.request
    reason = export.reason
    if reason is None and export.status == Status.COMPLETED:
        reason = f"The job has been completed: {export.recordsProcessed} records exported"
    body = {"submitTime": liquid_time(export.submitMs), "jobId": export.exportId,
            "notificationEmail": request.notificationEmail, "jobName": export.jobName,
            "contentType": request.contentType, "itemType": request.itemType,
            "recordsProcessed": str(export.recordsProcessed), "runTime": str(export.run_time_ms()),
            "status": export.status.value, "reason": reason or REASONS[export.status]}
    if export.status == Status.COMPLETED:
        body["links"] = links or []
    return body


def _links(clients: Clients, export: Export) -> list[str] | None:
    if export.status != Status.COMPLETED:
        return None
    return download_links(clients, export, base_url(router.current_event))


@router.post(f"{BASE}/import")
@seed_errors(rejected)
def batch_import() -> Response:
    event = router.current_event
    caller = principal(event, "imports:write")
    return idempotent(event, caller, lambda: _import(event, caller))


def _import(event: APIGatewayProxyEventV2, caller: Principal) -> Response:
    clients = get_clients()
    size = len(raw_body(event.raw_event))
    if size > clients.settings.inline_body_max:
        raise PayloadTooLarge(f"The request is {size} bytes; files of at most {clients.settings.inline_body_max} "
                              "bytes are imported through this API (larger ones: POST /v1/jobs for an upload URL)")
    fields, files = form(event)
    upload = files.get("file")
    if upload is None:
        raise BadRequest("The file to import is required: send it as the multipart part 'file'")
    target = item_type(clients, caller.tenant, fields.get("itemType", "").strip(), _unknown_item_type)
    content_type = _content_type(fields.get("contentType"), IMPORT_TYPES)
    data = upload.data
    if content_type in ("application/json", None):  # a JSON array of objects, or JSON Lines (or CSV, untouched)
        data = _json_lines(data, declared=content_type is not None)
    columns = _mapping(fields.get("template"))
    unknown = sorted({f for f in columns.values() if f not in target.definition.fields})
    if unknown:
        raise BadRequest(f"template maps columns to unknown fields of {target.name}: {', '.join(unknown)}")
    file_name = _base_name(upload.name)
    options = JobOptions(itemType=target.name, jobName=fields.get("jobName") or None,
                         merge=_flag("merge", fields.get("merge"), default=False),
                         notificationEmail=fields.get("notificationEmail") or None, contentType=content_type,
                         fileName=file_name)
    ignored = ignored_fields({**fields, **files}, LIQUID_IMPORT_FIELDS)
    job = submit.submit_inline(clients, caller, options, data, columns=columns, requestWarnings=ignored)
    return json_response(job_status(job))


@router.post(f"{BASE}/status")
@seed_errors(status_error)
def batch_status() -> Response:
    event = router.current_event
    caller = principal(event, "imports:read", "exports:read")
    fields, _ = form(event)
    job_id = fields.get("jobId", "").strip()
    if not job_id:
        raise BadRequest("jobId is required: the id the import or export request answered with")
    clients = get_clients()
    if is_job_id(job_id):
        job = JobStore(clients).get(caller.tenant, job_id) if caller.allows("imports:read") else None
        if job is not None:
            return json_response(job_status(job))
        export = ExportStore(clients).get(caller.tenant, job_id) if caller.allows("exports:read") else None
        if export is not None:
            return json_response(export_status(export, _links(clients, export)))
    raise NotFound(f"Job {job_id[:40]} was not found")


@router.post(f"{BASE}/export")
@seed_errors(rejected)
def batch_export() -> Response:
    event = router.current_event
    caller = principal(event, "exports:write")
    return idempotent(event, caller, lambda: _export(event, caller))


def _export(event: APIGatewayProxyEventV2, caller: Principal) -> Response:
    clients = get_clients()
    fields, _ = form(event)
    target = item_type(clients, caller.tenant, fields.get("itemType", "").strip(), _unknown_item_type)
    sql = fields.get("sqlQuery", "").strip() or None
    # "If both a sqlQuery and filters are provided the filters will be disregarded"
    filters = None if sql else _literal("filters", fields.get("filters"), dict)
    request = ExportRequest(
        itemType=target.name, contentType=_content_type(fields.get("contentType"), EXPORT_TYPES) or "text/csv",
        rowHeader=_flag("rowHeader", fields.get("rowHeader"), default=True), filters=filters or None, sqlQuery=sql,
        template=_template(fields.get("template")), jobName=fields.get("jobName") or None,
        notificationEmail=fields.get("notificationEmail") or None,
    )
    export = create_export(clients, caller, request)
    return json_response(export_status(export, _links(clients, export)))


def _unknown_item_type(reference: str) -> BadRequest:
    if not reference:
        return BadRequest("itemType is required: the item type as per the schema")
    return BadRequest(f"Item type '{reference[:100]}' is not defined")


def _content_type(value: str | None, accepted: dict[str, str]) -> str | None:
    if value is None or not value.strip():
        return None  # imports: from the file name, else sniffed; exports: CSV
    found = accepted.get(value.split(";")[0].strip().lower())
    if found is None:
        raise BadRequest(f"contentType '{value[:60]}' is not supported; one of: {', '.join(accepted)}")
    return found


def _flag(name: str, value: str | None, *, default: bool) -> bool:
    """True/False in any case (Python's str(True) is 'True'); also 1/0 and yes/no."""
    if value is None or not value.strip():
        return default
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name} must be True or False, got '{value[:40]}'")


def _literal(name: str, text: str | None, kind: type) -> Any:
    """A dict or list sent as JSON or as Python's text of it (`str(filters)`), read without evaluating code."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_LITERAL:
        raise BadRequest(f"{name} is {len(text)} characters long; at most {MAX_LITERAL}")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise BadRequest(f"{name} could not be read: send it as JSON or as a Python dict's text, such as "
                             "{'userId': 'a@b.org'}") from None
    if not isinstance(value, kind):
        raise BadRequest(f"{name} must be a {'dict (a JSON object)' if kind is dict else 'list'}, "
                         f"got {type(value).__name__}")
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        raise BadRequest(f"{name} keys must be field names (text)")
    return value


def _mapping(text: str | None) -> dict[str, str]:
    """An import template: CSV headers -> fields."""
    mapping = _literal("template", text, dict) or {}
    if not all(isinstance(v, str) for v in mapping.values()):
        raise BadRequest("template must map each CSV header to a field name (text)")
    return dict(mapping)


def _template(text: str | None) -> list[str] | dict[str, str] | None:
    """An export template: the fields to export (a list, or {field: header}), as JSON or Python text; or a
    Velocity template, of which the fields it references ($item.userId, ${item.name}) are exported in order."""
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if stripped[0] in "[{" and not stripped.startswith("${"):
        value = _literal("template", stripped, list if stripped[0] == "[" else dict)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return value
        raise BadRequest("template must be a list of field names or an object of field -> column header")
    referenced = list(dict.fromkeys(_VELOCITY_REFERENCE.findall(stripped[:MAX_LITERAL])))
    if not referenced:
        raise BadRequest("template could not be read: give the fields to export as a JSON list or object, or a "
                         "Velocity template referencing them ($item.field)")
    return referenced


def _json_lines(data: bytes, declared: bool) -> bytes:
    """A JSON array of objects becomes JSON Lines (what the pipeline reads); anything else passes as it is.
    declared: the client said application/json, so an array that does not parse is refused here."""
    text = data.removeprefix(b"\xef\xbb\xbf")
    if not text.lstrip().startswith(b"["):
        return data
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if not declared:
            return data
        raise BadRequest(f"The file is not a valid JSON array of objects: {exc}") from None
    if not isinstance(items, list):
        return data
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


def _base_name(name: str | None) -> str | None:
    if not name:
        return None
    return PureWindowsPath(PurePosixPath(name).name).name[:255] or None
