"""Staged jobs: a control document declares several files; an open job collects them by name; scheduling
(dry-run or commit) starts them as one job. A finished dry run can be committed without uploading again.

Staged files wait under staging/ (no notification fires there); scheduling writes a marker object under
uploads/{tenant}/{jobId}/, whose event starts the one ingest that reads every file in control order."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sluice.access import validation_message
from sluice.auth import Principal
from sluice.aws import Clients
from sluice.clock import iso_from_ms, now_ms
from sluice.dynamo import Item, conditional_write, from_item, to_item
from sluice.errors import BadRequest, Conflict, NotFound
from sluice.filespecs import FILE_NAME_PATTERN, FileSpec, specs_of
from sluice.ids import new_sortable_id
from sluice.itemtypes import ItemTypeStore
from sluice.jobs import FINISHED, JobStore, Status
from sluice.limits import MAX_UPLOAD_BYTES
from sluice.schemas import normalise_header
from sluice.storage import Storage

MAX_FILES = 20
MAX_CONTROL_BYTES = 256 * 1024
OPEN_JOB_HOURS = 24  # default; the template's OpenJobHours sets it
SCHEDULE_MARKER = "schedule"


class ControlFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    itemType: str = Field(max_length=64)
    format: str | None = Field(default=None, pattern="^(csv|jsonl|xlsx|xls|xlsb)$")
    columns: dict[str, str] = Field(default_factory=dict, max_length=1000)
    merge: bool = False
    sheet: str | None = Field(default=None, max_length=100)
    headerRow: int = Field(default=1, ge=1, le=1000)
    delimiter: str | None = Field(default=None, max_length=10)
    encoding: str | None = Field(default=None, max_length=40)


class ControlDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: dict[str, ControlFile] = Field(min_length=1, max_length=MAX_FILES)

    @field_validator("files")
    @classmethod
    def _names(cls, files: dict[str, ControlFile]) -> dict[str, ControlFile]:
        bad = [name for name in files if not re.match(FILE_NAME_PATTERN, name)]
        if bad:
            raise ValueError(f"file names must match {FILE_NAME_PATTERN}: {', '.join(bad)}")
        return files


_FORMAT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "xlsx": "xlsx", "xls": "xls", "xlsb": "xlsb"}


def _control_pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


def staging_key(tenant: str, job_id: str, index: int) -> str:
    return f"staging/{tenant}/{job_id}/{index}"


def marker_key(tenant: str, job_id: str) -> str:
    return f"uploads/{tenant}/{job_id}/{SCHEDULE_MARKER}"


def store_control(clients: Clients, tenant: str, data: bytes, comment: str | None) -> tuple[str, bool]:
    """Checks and stores a control document by the sha256 of its bytes; (digest, newly stored)."""
    if len(data) > MAX_CONTROL_BYTES:
        raise BadRequest(f"a control document is at most {MAX_CONTROL_BYTES} bytes")
    try:
        document = ControlDocument.model_validate(orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the control document is not valid JSON: {exc}") from None
    except ValidationError as exc:
        raise validation_message(exc) from None
    item_types = ItemTypeStore(clients)
    for name, spec in document.files.items():
        item_type = item_types.get(tenant, spec.itemType)
        if item_type is None:
            raise BadRequest(f"file '{name}' names unknown item type '{spec.itemType}'", code="unknown_item_type")
        targets: dict[str, str] = {}
        for column, target in spec.columns.items():
            if target not in item_type.definition.fields:
                raise BadRequest(f"file '{name}': column '{column}' maps to '{target}', which item type "
                                 f"'{spec.itemType}' does not have")
            folded = normalise_header(column)
            if folded in targets:
                raise BadRequest(f"file '{name}': columns '{targets[folded]}' and '{column}' are the same header")
            targets[folded] = column
    digest = hashlib.sha256(data).hexdigest()
    item = to_item({"pk": _control_pk(tenant), "sk": f"CONTROL#{digest}", "document": data.decode(),
                    "comment": (comment or "")[:500], "createdMs": now_ms()})
    written = conditional_write(clients.dynamodb, "PutItem", lambda current: current["createdMs"] == item["createdMs"],
                                TableName=clients.settings.jobs_table, Item=item,
                                ConditionExpression="attribute_not_exists(pk)")
    return digest, written is not None


def load_control(clients: Clients, tenant: str, digest: str) -> ControlDocument:
    key = {"pk": {"S": _control_pk(tenant)}, "sk": {"S": f"CONTROL#{digest}"}}
    item = clients.dynamodb.get_item(TableName=clients.settings.jobs_table, Key=key).get("Item")
    if item is None:
        raise BadRequest(f"no control document with digest '{digest}'; upload it with POST /v1/controls",
                         code="unknown_control")
    return ControlDocument.model_validate(orjson.loads(from_item(item)["document"]))


def open_job(clients: Clients, principal: Principal, digest: str, comment: str | None,
             options: dict[str, Any]) -> Item:
    """POST /v1/jobs {"control": digest}: an open (Initialized) job waiting for its files."""
    document = load_control(clients, principal.tenant, digest)
    item_types = ItemTypeStore(clients)
    submitted = now_ms()
    job_id = new_sortable_id(submitted)
    specs = []
    for index, (name, declared) in enumerate(document.files.items()):
        item_type = item_types.get(principal.tenant, declared.itemType)
        if item_type is None:
            raise BadRequest(f"file '{name}' names unknown item type '{declared.itemType}'", code="unknown_item_type")
        specs.append(FileSpec(
            name=name, itemType=declared.itemType, snapshot=item_type.snapshot(),
            objectKey=staging_key(principal.tenant, job_id, index), merge=declared.merge, columns=declared.columns,
            contentType=_FORMAT_TYPES.get(declared.format or ""), fileName=name, sheet=declared.sheet,
            headerRow=declared.headerRow, delimiter=declared.delimiter, encoding=declared.encoding,
        ).model_dump())
    item_type_names = sorted({s["itemType"] for s in specs})
    creation_path = options.get("creationPath")
    job = {
        "tenant": principal.tenant, "jobId": job_id, "staged": True, "control": digest,
        "jobName": options.get("jobName") or comment or f"staged import of {len(specs)} file(s)",
        "comment": comment, "itemType": item_type_names[0] if len(item_type_names) == 1 else None,
        "itemTypes": item_type_names, "status": Status.INITIALIZED.value,
        "creationPath": "API" if not creation_path else f"API:{creation_path}", "mode": "commit",
        "merge": False, "notificationEmail": options.get("notificationEmail"), "submitMs": submitted,
        "submittedBy": principal.key_id, "fileSpecs": specs,
        "stagedFiles": [{"name": s["name"], "itemType": s["itemType"], "uploaded": False} for s in specs],
        "openUntilMs": submitted + clients.settings.open_job_hours * 3_600_000,
        "expiresAt": submitted // 1000 + clients.settings.retention_days * 86_400 * 2,
    }
    JobStore(clients).create(job)
    return job


def _open_staged_job(clients: Clients, tenant: str, job_id: str) -> Item:
    job = JobStore(clients).get(tenant, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    if not job.get("staged"):
        raise Conflict(f"job {job_id} was not created from a control document; it takes no named files")
    if job["status"] != Status.INITIALIZED:
        raise Conflict(f"job {job_id} is {job['status']}: files can be added only before it is scheduled")
    return job


def _file_index(job: Item, name: str) -> int:
    for index, spec in enumerate(specs_of(job)):
        if spec.name == name:
            return index
    declared = ", ".join(s.name for s in specs_of(job))
    raise BadRequest(f"the control document declares no file '{name}'; it declares: {declared}")


def add_file(clients: Clients, tenant: str, job_id: str, name: str, data: bytes) -> dict[str, Any]:
    """Stores (or replaces) a declared file of an open job; returns its sha256 digest."""
    job = _open_staged_job(clients, tenant, job_id)
    index = _file_index(job, name)
    storage = Storage(clients)
    storage.put(staging_key(tenant, job_id, index), data)
    digest = hashlib.sha256(data).hexdigest()
    _mark_uploaded(clients, job, index, {"digest": digest, "size": len(data)})
    return {"name": name, "digest": digest, "size": len(data)}


def file_upload_url(clients: Clients, tenant: str, job_id: str, name: str) -> dict[str, Any]:
    """A presigned PUT for a declared file too large to send through the API."""
    job = _open_staged_job(clients, tenant, job_id)
    index = _file_index(job, name)
    seconds = clients.settings.upload_url_seconds
    storage, key = Storage(clients), staging_key(tenant, job_id, index)
    return {"name": name, "uploadUrl": storage.presign_put(key, seconds),
            "uploadForm": storage.presign_post(key, seconds, MAX_UPLOAD_BYTES),
            "uploadExpiresAt": iso_from_ms(now_ms() + seconds * 1000)}


def _mark_uploaded(clients: Clients, job: Item, index: int, facts: dict[str, Any]) -> None:
    staged = list(job.get("stagedFiles") or [])
    staged[index] = {**staged[index], "uploaded": True, **facts}
    if JobStore(clients).update(job["tenant"], job["jobId"], {"stagedFiles": staged},
                                allowed_from={Status.INITIALIZED}) is None:
        raise Conflict(f"job {job['jobId']} was scheduled or canceled meanwhile; the file was not added")


def schedule(clients: Clients, tenant: str, job_id: str, mode: str) -> Item:
    if mode not in ("dry-run", "commit"):
        raise BadRequest("mode must be 'dry-run' or 'commit'")
    job = _open_staged_job(clients, tenant, job_id)
    storage = Storage(clients)
    missing = []
    for spec in specs_of(job):
        try:
            storage.size(spec.objectKey)
        except storage.s3.exceptions.ClientError:
            missing.append(spec.name)
    if missing:
        raise Conflict(f"declared file(s) not uploaded yet: {', '.join(missing)}")
    scheduled = JobStore(clients).update(tenant, job_id, {"status": Status.ACCEPTED.value, "mode": mode},
                                         allowed_from={Status.INITIALIZED})
    if scheduled is None:
        raise Conflict(f"job {job_id} was scheduled or canceled meanwhile")
    storage.put(marker_key(tenant, job_id), b"")
    return scheduled


def commit_dry_run(clients: Clients, principal: Principal, job_id: str) -> Item:
    """A commit job over the same bytes as a finished dry run: nothing is uploaded again."""
    store = JobStore(clients)
    dry = store.get(principal.tenant, job_id)
    if dry is None:
        raise NotFound(f"job {job_id} not found")
    if dry.get("mode") != "dry-run" or dry["status"] != Status.COMPLETED:
        raise Conflict(f"job {job_id} is not a completed dry run (mode {dry.get('mode')}, {dry['status']})")
    submitted = now_ms()
    new_id = new_sortable_id(submitted)
    item_types = ItemTypeStore(clients)
    specs = []
    for spec in specs_of(dry):
        current = item_types.get(principal.tenant, spec.itemType)
        if current is None:
            raise Conflict(f"item type '{spec.itemType}' no longer exists")
        if current.version != spec.snapshot.get("version"):
            raise Conflict(f"item type '{spec.itemType}' changed since the dry run (version "
                           f"{spec.snapshot.get('version')} -> {current.version}); run the dry run again")
        specs.append(spec.model_dump())
    job = {k: v for k, v in dry.items() if k in (
        "tenant", "staged", "control", "comment", "itemType", "itemTypes", "creationPath", "merge",
        "notificationEmail", "contentType", "fileName", "sheet", "headerRow", "delimiter", "encoding")}
    job.update({
        "jobId": new_id, "jobName": f"{dry.get('jobName') or job_id} (commit)"[:200], "status": Status.ACCEPTED.value,
        "mode": "commit", "commitOf": job_id, "submitMs": submitted, "submittedBy": principal.key_id,
        "fileSpecs": specs, "expiresAt": submitted // 1000 + clients.settings.retention_days * 86_400 * 2,
    })
    store.create(job)
    Storage(clients).put(marker_key(principal.tenant, new_id), b"")
    return job


def is_stale_open_job(job: Item, now: int, hours: int = OPEN_JOB_HOURS) -> bool:
    """An open staged job nobody scheduled within `hours` of opening it: the sweeper cancels it."""
    return job.get("status") == Status.INITIALIZED and now > int(job.get("submitMs", now)) + hours * 3_600_000


def cancel_stale_open_job(clients: Clients, job: Item, now: int | None = None,
                          hours: int = OPEN_JOB_HOURS) -> Item | None:
    """Ends an open job that was never scheduled; None if it is not stale (or moved on meanwhile)."""
    now = now_ms() if now is None else now
    if not is_stale_open_job(job, now, hours) or job.get("status") in FINISHED:
        return None
    store = JobStore(clients)
    closed = store.update(job["tenant"], job["jobId"], {"total": 0}, allowed_from={Status.INITIALIZED})
    if closed is None:
        return None
    hours = (now - int(job["submitMs"])) // 3_600_000
    return store.finish(closed, Status.CANCELED, f"canceled: opened {hours} h ago and never scheduled",
                        {Status.INITIALIZED})
