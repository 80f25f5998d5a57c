"""Submitting import jobs: the three forms of POST /v1/jobs, and a retry of a job's failed rows, end here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sluice.models.clock import iso_from_ms
from sluice.models.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge
from sluice.models.filespec import FileSpec
from sluice.models.job import (
    Job,
    JobOptions,
    MultipartLinks,
    MultipartUpload,
    Status,
    UploadForm,
    UploadLink,
    UploadPart,
)
from sluice.models.limits import MAX_FORM_UPLOAD_BYTES, MAX_INLINE_LINES, MAX_UPLOAD_PARTS
from sluice.models.principal import Principal
from sluice.models.schemas import ItemTypeDefinition
from sluice.notify.announcer import announced_jobs
from sluice.store.blobs import Storage, result_key, upload_key
from sluice.store.clients import Clients
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.jobs import JobStore
from sluice.store.mappings import MappingStore


def new_job(clients: Clients, principal: Principal, options: JobOptions, status: Status, *,
            creation_path: str | None = None, check_item_type: bool = True, columns: dict[str, str] | None = None,
            **fields: object) -> Job:
    """A job (not yet stored) for one file. Without check_item_type, an unknown item type is allowed
    so that a drop-folder or scheduled job can be recorded as Rejected. columns: source headers -> fields, for
    this job only (a seed door's template)."""
    if options.operation == "delete" and not principal.allows("records:write"):
        raise Forbidden("a delete job deletes records: it needs the records:write permission besides imports:write")
    item_type = ItemTypeStore(clients).get(principal.tenant, options.itemType)
    if item_type is None and check_item_type:
        raise BadRequest(f"unknown item type '{options.itemType}'; create it first with "
                         f"PUT /v1/item-types/{options.itemType}", code="unknown_item_type")
    if creation_path is None:
        creation_path = "API" if not options.creationPath else f"API:{options.creationPath}"
    saved: dict[str, str] = {}
    if options.mapping:
        found = MappingStore(clients).get(principal.tenant, options.itemType, options.mapping)
        if found is None:
            raise BadRequest(f"item type '{options.itemType}' has no mapping '{options.mapping}'; save it with PUT "
                             f"/v1/item-types/{options.itemType}/mappings/{options.mapping}")
        saved = found["columns"]
    columns = {**saved, **(options.columns or {}), **(columns or {})}
    unknown = sorted({f for f in columns.values() if item_type and f not in item_type.definition.fields})
    if unknown:
        raise BadRequest(f"columns map to fields item type '{options.itemType}' does not have: {', '.join(unknown)}")
    if options.retryOf:
        find_job(clients, principal.tenant, options.retryOf)  # another tenant's (or no) job: 404
        fields = {"retryOf": options.retryOf, **fields}
    snapshot = item_type.snapshot() if item_type else None
    if item_type is not None and options.operation == "delete":
        if not item_type.definition.key:
            raise BadRequest(f"item type '{options.itemType}' has no key, so rows cannot name records to delete; "
                             f"delete records one by one (DELETE /v1/records/{options.itemType}/{{key}}) or all of "
                             f"them (DELETE /v1/item-types/{options.itemType}?purge=true)")
        keys_only = key_only(item_type.definition).model_dump_json(exclude_none=True)
        snapshot = {**item_type.snapshot(), "definition": keys_only}
    if item_type is not None and options.dedupe == "content" and item_type.definition.key:
        raise BadRequest(f"dedupe=content is for item types without a key; '{options.itemType}' has the key "
                         f"{', '.join(item_type.definition.key)}, so a second import updates the same records")
    fields = {"operation": options.operation, "revertible": options.revertible, "dedupe": options.dedupe,
              **fields}
    spec = FileSpec(name=options.fileName or "data", itemType=options.itemType,
                    snapshot=snapshot, objectKey="", merge=options.merge,
                    columns=columns,
                    contentType=options.contentType, fileName=options.fileName, sheet=options.sheet,
                    headerRow=options.headerRow, delimiter=options.delimiter, encoding=options.encoding,
                    unknownColumns=options.unknownColumns, dateFormat=options.dateFormat)
    job = Job.begin(
        tenant=principal.tenant, submitted_by=principal.key_id, status=status, creation_path=creation_path,
        file_specs=[spec], retention_days=clients.settings.retention_days,
        jobName=options.jobName or options.fileName or f"{options.itemType} import", itemType=options.itemType,
        mode=options.mode, merge=options.merge, notificationEmail=options.notificationEmail,
        contentType=options.contentType, fileName=options.fileName, sheet=options.sheet, headerRow=options.headerRow,
        delimiter=options.delimiter, encoding=options.encoding, unknownColumns=options.unknownColumns,
        maxFailedRows=options.maxFailedRows, maxFailedPercent=options.maxFailedPercent, dateFormat=options.dateFormat,
        **fields,
    )
    spec.objectKey = upload_key(principal.tenant, job.jobId)
    return job


def key_only(definition: ItemTypeDefinition) -> ItemTypeDefinition:
    """A delete job reads only the key columns: its rows are checked against the key fields alone."""
    key = definition.key or []
    return ItemTypeDefinition(key=key, fields={n: definition.fields[n].model_copy(update={"required": True})
                                               for n in key},
                              columns={c: f for c, f in definition.columns.items() if f in key})


def submit_inline(clients: Clients, principal: Principal, options: JobOptions, data: bytes, **job_fields: Any
                  ) -> Job:
    """Forms 1 and 2: the data came with the request; store it and let the upload event start ingest.
    job_fields: what new_job takes besides the options (a seed door's creation path, columns, emails)."""
    lines = data.count(b"\n")
    if lines > MAX_INLINE_LINES:
        raise PayloadTooLarge(f"the body has {lines} lines; a request carries at most {MAX_INLINE_LINES}. For more "
                              "rows POST application/json {\"itemType\": ..., \"fileName\": ...} and upload the file")
    job = new_job(clients, principal, options, Status.ACCEPTED, **job_fields)
    store = announced_jobs(clients)
    store.create(job)
    try:
        Storage(clients).put(upload_key(job.tenant, job.jobId), data)
    except Exception:
        store.finish(job, Status.FAILED, "the uploaded data could not be stored; submit again", {Status.ACCEPTED})
        raise
    _link_retry(clients, job)
    return job


def _link_retry(clients: Clients, job: Job) -> None:
    if job.retryOf:
        JobStore(clients).add_retry(job.tenant, job.retryOf, job.jobId)


def upload_link(clients: Clients, key: str, now: int) -> UploadLink:
    """A presigned PUT and POST to exactly this key."""
    seconds = clients.settings.upload_url_seconds
    storage = Storage(clients)
    return UploadLink(uploadUrl=storage.presign_put(key, seconds),
                      uploadForm=UploadForm.model_validate(storage.presign_post(key, seconds, MAX_FORM_UPLOAD_BYTES)),
                      uploadExpiresAt=iso_from_ms(now + seconds * 1000) or "")


def submit_for_upload(clients: Clients, principal: Principal, options: JobOptions, parts: int | None = None) -> Job:
    """Form 3: an open job with a presigned upload link; the upload itself starts processing. With parts, a
    multipart upload of that many parts instead, open for OPEN_JOB_HOURS; completing it starts processing."""
    job = new_job(clients, principal, options, Status.INITIALIZED)
    key = upload_key(job.tenant, job.jobId)
    if parts is None:
        job.upload = upload_link(clients, key, job.submitMs)
    else:
        if not 1 <= parts <= MAX_UPLOAD_PARTS:
            raise BadRequest(f"parts must be from 1 to {MAX_UPLOAD_PARTS} (each part 5 MiB to 5 GiB, the last "
                             "smaller if need be)", code="invalid_request")
        job.multipartUpload = MultipartUpload(uploadId=Storage(clients).create_multipart(key), parts=parts)
        job.openUntilMs = job.submitMs + clients.settings.open_job_hours * 3_600_000
    announced_jobs(clients).create(job)
    _link_retry(clients, job)
    return job


def multipart_links(clients: Clients, job: Job, now: int) -> MultipartLinks | None:
    """Fresh part URLs of a job's multipart upload while it waits for it (presigning is local: no request)."""
    upload = job.multipartUpload
    if upload is None or job.status != Status.INITIALIZED:
        return None
    seconds = clients.settings.upload_url_seconds
    storage = Storage(clients)
    key = upload_key(job.tenant, job.jobId)
    return MultipartLinks(
        uploadParts=[UploadPart(partNumber=n, url=storage.presign_part(key, upload.uploadId, n, seconds))
                     for n in range(1, upload.parts + 1)],
        uploadComplete=f"/v1/jobs/{job.jobId}/upload/complete",
        uploadExpiresAt=iso_from_ms(now + seconds * 1000) or "",
        uploadOpenUntil=iso_from_ms(job.openUntilMs) or "")


def complete_upload(clients: Clients, tenant: str, job_id: str, parts: list[tuple[int, str]]) -> Job:
    """Joins a job's uploaded parts into its file, which starts processing (the object-created event of any
    upload). Completing again is answered like the first time; a job that waits for no multipart upload: 409."""
    job = find_job(clients, tenant, job_id)
    upload = job.multipartUpload
    if upload is None:
        raise Conflict(f"job {job_id} was not opened for a multipart upload (POST /v1/jobs with \"parts\": N)")
    beyond = sorted({n for n, _ in parts if n > upload.parts})
    if beyond:
        raise BadRequest(f"job {job_id} has {upload.parts} parts; no part numbered {', '.join(map(str, beyond))}")
    storage = Storage(clients)
    key = upload_key(job.tenant, job.jobId)
    if job.status == Status.INITIALIZED:
        try:
            storage.complete_multipart(key, upload.uploadId, parts)
            return job
        except storage.s3.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 400:
                raise BadRequest(f"S3 refused to join the parts: {error.get('Code')}: {error.get('Message')}",
                                 code="upload_parts_refused") from None
            if error.get("Code") != "NoSuchUpload":
                raise
    if storage.exists(key):  # completed already (by this call's earlier try, or another)
        return find_job(clients, tenant, job_id)
    raise Conflict(f"job {job_id} is {job.status.value} and its multipart upload is gone (aborted when the job "
                   "stopped waiting); submit a new job")


def retry_failed(clients: Clients, principal: Principal, job_id: str) -> Job:
    """A new job over the failed rows of a finished one (its failed.csv, as is), under today's schema."""
    original = find_job(clients, principal.tenant, job_id)
    if original.status not in (Status.COMPLETED, Status.CANCELED):
        raise Conflict(f"job {job_id} is {original.status.value}; failed rows can be retried once it has Completed")
    if original.counts.failed == 0:
        raise Conflict(f"job {job_id} has no failed rows to retry")
    if original.itemType is None:
        raise Conflict(f"job {job_id} imported several item types; retry its files one by one")
    base_name = (original.fileName or "data").rsplit(".", 1)[0]
    creation_path = original.creationPath
    options = JobOptions(
        itemType=original.itemType, jobName=f"{original.jobName or job_id} (failed rows)"[:200],
        merge=original.merge, mode=original.mode,
        creationPath=creation_path[4:] if creation_path.startswith("API:") else None,
        notificationEmail=original.notificationEmail, contentType="text/csv",
        fileName=f"{base_name}-failed.csv", delimiter=",", encoding="utf-8",
        unknownColumns=original.unknownColumns, maxFailedRows=original.maxFailedRows,
        maxFailedPercent=original.maxFailedPercent, dateFormat=original.dateFormat,
    )
    # failed.csv keeps the original headers, so the retry reads them through the original job's own columns
    columns = dict(original.fileSpecs[0].columns) if original.fileSpecs else None
    job = new_job(clients, principal, options, Status.ACCEPTED, retryOf=job_id, columns=columns)
    if original.files and original.files[0].dateFormats:  # failed.csv holds the dates as the file wrote them
        job.fileSpecs = [job.fileSpecs[0].model_copy(update={"learntDateFormats": original.files[0].dateFormats})]
    announced_jobs(clients).create(job)
    _link_retry(clients, job)
    Storage(clients).copy(result_key(principal.tenant, job_id, "failed"), upload_key(job.tenant, job.jobId))
    return job


def find_job(clients: Clients, tenant: str, job_id: str) -> Job:
    job = JobStore(clients).get(tenant, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def listing_filter(status: str | None, item_type: str | None, creation_path: str | None) -> Callable[[Job], bool]:
    if status and status not in {s.value for s in Status}:
        raise BadRequest(f"unknown status '{status}'; one of: {', '.join(s.value for s in Status)}")

    def keep(job: Job) -> bool:
        return ((not status or job.status == status) and (not item_type or job.itemType == item_type)
                and (not creation_path or job.creationPath.startswith(creation_path)))

    return keep
