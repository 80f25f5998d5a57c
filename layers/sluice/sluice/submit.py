"""Submitting import jobs: the three forms of POST /v1/jobs end here."""

from __future__ import annotations

from typing import Any

from sluice.auth import Principal
from sluice.aws import Clients
from sluice.clock import iso_from_ms, now_ms
from sluice.dynamo import Item
from sluice.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from sluice.filespecs import FileSpec
from sluice.finalize import settle
from sluice.ids import new_sortable_id
from sluice.itemtypes import ItemTypeStore
from sluice.jobs import FINISHED, JobOptions, JobStore, Status
from sluice.limits import MAX_INLINE_LINES, MAX_UPLOAD_BYTES
from sluice.storage import Storage, result_key, upload_key


def new_job(clients: Clients, principal: Principal, options: JobOptions, status: Status, *,
            creation_path: str | None = None, check_item_type: bool = True) -> Item:
    """A job item (not yet stored) for one file. Without check_item_type, an unknown item type is allowed
    so that a drop-folder or scheduled job can be recorded as Rejected."""
    item_type = ItemTypeStore(clients).get(principal.tenant, options.itemType)
    if item_type is None and check_item_type:
        raise BadRequest(f"unknown item type '{options.itemType}'; create it first with "
                         f"PUT /v1/item-types/{options.itemType}", code="unknown_item_type")
    submitted = now_ms()
    job_id = new_sortable_id(submitted)
    if creation_path is None:
        creation_path = "API" if not options.creationPath else f"API:{options.creationPath}"
    return {
        "tenant": principal.tenant,
        "jobId": job_id,
        "jobName": options.jobName or options.fileName or f"{options.itemType} import",
        "itemType": options.itemType,
        "status": status.value,
        "creationPath": creation_path,
        "mode": options.mode,
        "merge": options.merge,
        "notificationEmail": options.notificationEmail,
        "contentType": options.contentType,
        "fileName": options.fileName,
        "sheet": options.sheet,
        "headerRow": options.headerRow,
        "delimiter": options.delimiter,
        "encoding": options.encoding,
        "submitMs": submitted,
        "submittedBy": principal.key_id,
        "fileSpecs": [FileSpec(
            name=options.fileName or "data", itemType=options.itemType,
            snapshot=item_type.snapshot() if item_type else {},
            objectKey=upload_key(principal.tenant, job_id), merge=options.merge, contentType=options.contentType,
            fileName=options.fileName, sheet=options.sheet, headerRow=options.headerRow,
            delimiter=options.delimiter, encoding=options.encoding,
        ).model_dump()],
        # Unfinished jobs expire too, well after any sweep would have ended them.
        "expiresAt": submitted // 1000 + clients.settings.retention_days * 86_400 * 2,
    }


def submit_inline(clients: Clients, principal: Principal, options: JobOptions, data: bytes) -> Item:
    """Forms 1 and 2: the data came with the request; store it and let the upload event start ingest."""
    lines = data.count(b"\n")
    if lines > MAX_INLINE_LINES:
        raise PayloadTooLarge(f"the body has {lines} lines; a request carries at most {MAX_INLINE_LINES}. For more "
                              "rows POST application/json {\"itemType\": ..., \"fileName\": ...} and upload the file")
    job = new_job(clients, principal, options, Status.ACCEPTED)
    store = JobStore(clients)
    store.create(job)
    try:
        Storage(clients).put(upload_key(job["tenant"], job["jobId"]), data)
    except Exception:
        store.finish(job, Status.FAILED, "the uploaded data could not be stored; submit again", {Status.ACCEPTED})
        raise
    return job


def submit_for_upload(clients: Clients, principal: Principal, options: JobOptions) -> Item:
    """Form 3: an open job with a presigned PUT URL; the upload itself starts processing."""
    job = new_job(clients, principal, options, Status.INITIALIZED)
    seconds = clients.settings.upload_url_seconds
    storage, key = Storage(clients), upload_key(job["tenant"], job["jobId"])
    job["uploadUrl"] = storage.presign_put(key, seconds)
    job["uploadForm"] = storage.presign_post(key, seconds, MAX_UPLOAD_BYTES)
    job["uploadExpiresAt"] = iso_from_ms(job["submitMs"] + seconds * 1000)
    JobStore(clients).create(job)
    return job


def retry_failed(clients: Clients, principal: Principal, job_id: str) -> Item:
    """A new job over the failed rows of a finished one (its failed.csv, as is), under today's schema."""
    original = find_job(clients, principal.tenant, job_id)
    status = Status(original["status"])
    if status not in (Status.COMPLETED, Status.CANCELED):
        raise Conflict(f"job {job_id} is {status.value}; failed rows can be retried once it has Completed")
    failed = int(original.get("cFailed", 0))
    if failed == 0:
        raise Conflict(f"job {job_id} has no failed rows to retry")
    base_name = (original.get("fileName") or "data").rsplit(".", 1)[0]
    creation_path = str(original.get("creationPath") or "API")
    options = JobOptions(
        itemType=original["itemType"], jobName=f"{original.get('jobName') or job_id} (failed rows)"[:200],
        merge=bool(original.get("merge")), mode=original.get("mode", "commit"),
        creationPath=creation_path[4:] if creation_path.startswith("API:") else None,
        notificationEmail=original.get("notificationEmail"), contentType="text/csv",
        fileName=f"{base_name}-failed.csv", delimiter=",", encoding="utf-8",
    )
    job = new_job(clients, principal, options, Status.ACCEPTED)
    job["retryOf"] = job_id
    store = JobStore(clients)
    store.create(job)
    storage = Storage(clients)
    storage.s3.copy_object(Bucket=storage.bucket, Key=upload_key(job["tenant"], job["jobId"]),
                           CopySource={"Bucket": storage.bucket, "Key": result_key(principal.tenant, job_id, "failed")})
    return job


def cancel(clients: Clients, tenant: str, job_id: str) -> Item:
    store = JobStore(clients)
    job = store.get(tenant, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    status = Status(job["status"])
    if status in FINISHED:
        raise Conflict(f"job {job_id} has already finished ({status.value}); nothing to cancel")
    if status == Status.CANCELING:
        return job
    if status == Status.INITIALIZED:
        done = store.update(tenant, job_id, {"total": 0}, allowed_from={Status.INITIALIZED})
        if done is not None:
            finished = store.finish(done, Status.CANCELED, "canceled on request before any data arrived",
                                    {Status.INITIALIZED})
            if finished is not None:
                return finished
    moved = store.update(tenant, job_id, {"status": Status.CANCELING.value},
                         allowed_from={Status.ACCEPTED, Status.PROCESSING})
    if moved is None:
        return cancel(clients, tenant, job_id)  # the status moved under us: decide again on the new one
    return settle(clients, moved)


def find_job(clients: Clients, tenant: str, job_id: str) -> Item:
    job = JobStore(clients).get(tenant, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def listing_filters(status: str | None, item_type: str | None, creation_path: str | None) -> Any:
    if status and status not in {s.value for s in Status}:
        raise BadRequest(f"unknown status '{status}'; one of: {', '.join(s.value for s in Status)}")

    def keep(job: Item) -> bool:
        return ((not status or job.get("status") == status)
                and (not item_type or job.get("itemType") == item_type)
                and (not creation_path or str(job.get("creationPath", "")).startswith(creation_path)))

    return keep
