"""Staged jobs: a control document declares several files; an open job collects them by name; scheduling
(dry-run or commit) starts them as one job. A finished dry run can be committed without uploading again.

Staged files wait under staging/ (no notification fires there); scheduling writes a marker object under
uploads/{tenant}/{jobId}/, whose event starts the one ingest that reads every file in control order."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import ValidationError

from sluice.intake.submit import upload_link
from sluice.models.clock import now_ms
from sluice.models.control import FORMAT_CONTENT_TYPES, MAX_CONTROL_BYTES, ControlDocument
from sluice.models.errors import BadRequest, Conflict, NotFound, validation_message
from sluice.models.filespec import FileSpec
from sluice.models.job import Job, Status, UploadLink
from sluice.models.principal import Principal
from sluice.models.schemas import normalise_header
from sluice.notify.announcer import announced_jobs
from sluice.store.blobs import Storage, marker_key, staging_key
from sluice.store.clients import Clients
from sluice.store.controls import ControlStore
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.jobs import JobStore

OPEN_JOB_HOURS = 24  # default; the template's OpenJobHours sets it


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
        item_type = item_types.resolve(tenant, spec.itemType)  # a name, else an alias (seed clients' ids)
        if item_type is None:
            raise BadRequest(f"file '{name}' names unknown item type '{spec.itemType}'", code="unknown_item_type")
        targets: dict[str, str] = {}
        for column, target in spec.columns.items():
            if target not in item_type.definition.fields:
                raise BadRequest(f"file '{name}': column '{column}' maps to '{target}', which item type "
                                 f"'{item_type.name}' does not have")
            folded = normalise_header(column)
            if folded in targets:
                raise BadRequest(f"file '{name}': columns '{targets[folded]}' and '{column}' are the same header")
            targets[folded] = column
    digest = hashlib.sha256(data).hexdigest()
    return digest, ControlStore(clients).put(tenant, digest, data, comment)


def open_job(clients: Clients, principal: Principal, digest: str, comment: str | None,
             options: dict[str, Any]) -> Job:
    """POST /v1/jobs {"control": digest}: an open (Initialized) job waiting for its files."""
    document = ControlStore(clients).get(principal.tenant, digest)
    if document is None:
        raise BadRequest(f"no control document with digest '{digest}'; upload it with POST /v1/controls",
                         code="unknown_control")
    item_types = ItemTypeStore(clients)
    specs = []
    for name, declared in document.files.items():
        item_type = item_types.resolve(principal.tenant, declared.itemType)
        if item_type is None:
            raise BadRequest(f"file '{name}' names unknown item type '{declared.itemType}'", code="unknown_item_type")
        specs.append(FileSpec(
            name=name, itemType=item_type.name, snapshot=item_type.snapshot(), objectKey="",
            merge=declared.merge, columns=declared.columns,
            contentType=FORMAT_CONTENT_TYPES.get(declared.format or ""), fileName=name, sheet=declared.sheet,
            headerRow=declared.headerRow, delimiter=declared.delimiter, encoding=declared.encoding,
            unknownColumns=options.get("unknownColumns", "warn"), dateFormat=options.get("dateFormat"),
        ))
    item_type_names = sorted({s.itemType for s in specs})
    creation_path = options.get("creationPath")
    submitted = now_ms()
    job = Job.begin(
        tenant=principal.tenant, submitted_by=principal.key_id, status=Status.INITIALIZED,
        creation_path="API" if not creation_path else f"API:{creation_path}", file_specs=specs,
        retention_days=clients.settings.retention_days, submitted_ms=submitted, staged=True, control=digest,
        jobName=options.get("jobName") or comment or f"staged import of {len(specs)} file(s)", comment=comment,
        itemType=item_type_names[0] if len(item_type_names) == 1 else None, itemTypes=item_type_names,
        notificationEmail=options.get("notificationEmail"), requestWarnings=options.get("requestWarnings", []),
        unknownColumns=options.get("unknownColumns", "warn"), maxFailedRows=options.get("maxFailedRows"),
        maxFailedPercent=options.get("maxFailedPercent"), dateFormat=options.get("dateFormat"),
        stagedFiles=[{"name": s.name, "itemType": s.itemType, "uploaded": False} for s in specs],
        openUntilMs=submitted + clients.settings.open_job_hours * 3_600_000,
    )
    for index, spec in enumerate(job.fileSpecs):
        spec.objectKey = staging_key(principal.tenant, job.jobId, index)
    announced_jobs(clients).create(job)
    return job


def _open_staged_job(clients: Clients, tenant: str, job_id: str) -> Job:
    job = JobStore(clients).get(tenant, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    if not job.staged:
        raise Conflict(f"job {job_id} was not created from a control document; it takes no named files")
    if job.status != Status.INITIALIZED:
        raise Conflict(f"job {job_id} is {job.status.value}: files can be added only before it is scheduled")
    return job


def _file_index(job: Job, name: str) -> int:
    for index, spec in enumerate(job.fileSpecs):
        if spec.name == name:
            return index
    declared = ", ".join(s.name for s in job.fileSpecs)
    raise BadRequest(f"the control document declares no file '{name}'; it declares: {declared}")


def add_file(clients: Clients, tenant: str, job_id: str, name: str, data: bytes) -> dict[str, Any]:
    """Stores (or replaces) a declared file of an open job; returns its sha256 digest."""
    job = _open_staged_job(clients, tenant, job_id)
    index = _file_index(job, name)
    Storage(clients).put(staging_key(tenant, job_id, index), data)
    digest = hashlib.sha256(data).hexdigest()
    _mark_uploaded(clients, job, index, digest, len(data))
    return {"name": name, "digest": digest, "size": len(data)}


def file_upload_url(clients: Clients, tenant: str, job_id: str, name: str) -> dict[str, Any]:
    """A presigned PUT (and POST) for a declared file too large to send through the API."""
    job = _open_staged_job(clients, tenant, job_id)
    link: UploadLink = upload_link(clients, staging_key(tenant, job_id, _file_index(job, name)), now_ms())
    return {"name": name, **link.model_dump()}


def _mark_uploaded(clients: Clients, job: Job, index: int, digest: str, size: int) -> None:
    staged = [f.model_copy() for f in job.stagedFiles]
    staged[index] = staged[index].model_copy(update={"uploaded": True, "digest": digest, "size": size})
    if JobStore(clients).update(job.tenant, job.jobId, {"stagedFiles": staged},
                                allowed_from={Status.INITIALIZED}) is None:
        raise Conflict(f"job {job.jobId} was scheduled or canceled meanwhile; the file was not added")


def schedule(clients: Clients, tenant: str, job_id: str, mode: str) -> Job:
    if mode not in ("dry-run", "commit"):
        raise BadRequest("mode must be 'dry-run' or 'commit'")
    job = _open_staged_job(clients, tenant, job_id)
    storage = Storage(clients)
    missing = []
    for spec in job.fileSpecs:
        try:
            storage.size(spec.objectKey)
        except storage.s3.exceptions.ClientError:
            missing.append(spec.name)
    if missing:
        raise Conflict(f"declared file(s) not uploaded yet: {', '.join(missing)}")
    scheduled = announced_jobs(clients).update(tenant, job_id, {"status": Status.ACCEPTED, "mode": mode},
                                               allowed_from={Status.INITIALIZED})
    if scheduled is None:
        raise Conflict(f"job {job_id} was scheduled or canceled meanwhile")
    storage.put(marker_key(tenant, job_id), b"")
    return scheduled


def commit_dry_run(clients: Clients, principal: Principal, job_id: str) -> Job:
    """A commit job over the same bytes as a finished dry run: nothing is uploaded again."""
    dry = JobStore(clients).get(principal.tenant, job_id)
    if dry is None:
        raise NotFound(f"job {job_id} not found")
    if dry.mode != "dry-run" or dry.status != Status.COMPLETED:
        raise Conflict(f"job {job_id} is not a completed dry run (mode {dry.mode}, {dry.status.value})")
    item_types = ItemTypeStore(clients)
    for spec in dry.fileSpecs:
        current = item_types.get(principal.tenant, spec.itemType)
        if current is None:
            raise Conflict(f"item type '{spec.itemType}' no longer exists")
        version = spec.schema_snapshot().version
        if current.version != version:
            raise Conflict(f"item type '{spec.itemType}' changed since the dry run (version "
                           f"{version} -> {current.version}); run the dry run again")
    job = Job.begin(
        tenant=principal.tenant, submitted_by=principal.key_id, status=Status.ACCEPTED,
        creation_path=dry.creationPath, file_specs=dry.fileSpecs, retention_days=clients.settings.retention_days,
        jobName=f"{dry.jobName or job_id} (commit)"[:200], mode="commit", commitOf=job_id,
        **dry.model_dump(include={"staged", "control", "comment", "itemType", "itemTypes", "merge",
                                  "notificationEmail", "contentType", "fileName", "sheet", "headerRow", "delimiter",
                                  "encoding"}),
    )
    announced_jobs(clients).create(job)
    Storage(clients).put(marker_key(principal.tenant, job.jobId), b"")
    return job


def is_stale_open_job(job: Job, now: int, hours: int = OPEN_JOB_HOURS) -> bool:
    """An open staged job nobody scheduled within `hours` of opening it: the sweeper cancels it."""
    return job.status == Status.INITIALIZED and now > job.submitMs + hours * 3_600_000


def cancel_stale_open_job(clients: Clients, job: Job, now: int | None = None,
                          hours: int = OPEN_JOB_HOURS) -> Job | None:
    """Ends an open job that was never scheduled; None if it is not stale (or moved on meanwhile)."""
    now = now_ms() if now is None else now
    if not is_stale_open_job(job, now, hours) or job.finished:
        return None
    store = announced_jobs(clients)
    closed = store.update(job.tenant, job.jobId, {"total": 0}, allowed_from={Status.INITIALIZED})
    if closed is None:
        return None
    hours = (now - job.submitMs) // 3_600_000
    return store.finish(closed, Status.CANCELED, f"canceled: opened {hours} h ago and never scheduled",
                        {Status.INITIALIZED})
