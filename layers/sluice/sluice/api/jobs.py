"""Routes of import jobs: submit (three forms and staged batches), read, page, errors, results, cancel,
retry, commit."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sluice.api.audit import audit
from sluice.api.bodies import (
    CompleteUploadRequest,
    ScheduleRequest,
    StagedFileLinkRequest,
    StagedJobRequest,
    UploadRequest,
)
from sluice.api.http import parse_bool, parse_limit, parse_multipart, raw_body
from sluice.api.idempotency import idempotent
from sluice.api.request import (
    body_as,
    checked_job_id,
    json_body,
    json_response,
    principal,
    query,
)
from sluice.intake import staging, submit
from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType
from sluice.models.job import ERRORS_ON_JOB, Job, JobOptions, Status
from sluice.models.principal import Principal
from sluice.pipeline.cancel import cancel
from sluice.pipeline.revert import start_revert
from sluice.store.blobs import RESULT_KINDS, Storage, result_key
from sluice.store.clients import get_clients
from sluice.store.jobs import JobStore

router = APIGatewayHttpRouter()
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines")
OPTION_FIELDS = tuple(name for name in JobOptions.model_fields if name != "fileName")  # query options of JSON Lines


def _refuse_json_array(data: bytes) -> None:
    """A JSON array sent as JSON Lines would be one unreadable row: say what JSON Lines is instead."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise BadRequest("the body is a JSON array, but JSON Lines (application/x-ndjson) is one JSON object per "
                         "line: send each element on its own line, without the brackets and commas")


def job_response(job: Job, status: int, caller: Principal, *, upload_links: bool = True) -> Response:
    """A job as every job route answers it: its view with the first row errors and created keys (and, for a key
    that may write imports, its upload link while it waits for its file)."""
    clients = get_clients()
    store = JobStore(clients)
    # The ledger is read only for what the committed counts say is there (a status read is the API's most
    # frequent request): a chunk's errors and created keys show with its counts, never before them.
    errors = store.errors(job.jobId, ERRORS_ON_JOB)[0] if job.counts.failed else []
    created = store.objects_created(job.jobId) if job.counts.created else []
    writer = upload_links and caller.allows("imports:write")
    view = job.view(errors, created, upload=writer,
                    multipart=submit.multipart_links(clients, job, now_ms()) if writer else None)
    return json_response(view.body(), status, {"Location": f"/v1/jobs/{job.jobId}"})


@router.post("/v1/jobs")
def create_job() -> Response:
    event = router.current_event
    caller = principal(event, "imports:write")
    return idempotent(event, caller, lambda: submit_job(event, caller))


def submit_job(event: APIGatewayProxyEventV2, caller: Principal) -> Response:
    """The three forms of POST /v1/jobs, and staged jobs (JSON with `control`)."""
    clients = get_clients()
    content_type = (event.headers.get("content-type") or "").strip()
    base_type = content_type.split(";")[0].strip().lower()
    if base_type in ("application/json", "multipart/form-data") and event.query_string_parameters:
        raise BadRequest(f"query parameters ({', '.join(sorted(event.query_string_parameters))}) are read only with "
                         "a JSON Lines body; with this Content-Type, options go in the JSON body or the form",
                         code="invalid_request")
    if base_type == "application/json":
        body = json_body(event)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object such as {\"itemType\": ..., \"fileName\": ...}")
        if "control" in body:
            staged = StagedJobRequest.model_validate(body)
            job = staging.open_job(clients, caller, staged.control, staged.comment,
                                   staged.model_dump(exclude={"control", "comment"}))
            return job_response(job, 201, caller)
        wanted = UploadRequest.model_validate(body)
        return _submitted(event, caller, submit.submit_for_upload(clients, caller, wanted, wanted.parts), 201)
    data = raw_body(event.raw_event)
    limit = clients.settings.inline_body_max
    if len(data) > limit:
        raise PayloadTooLarge(
            f"the body is {len(data)} bytes; inline uploads take at most {limit} bytes. For larger files "
            "POST application/json {\"itemType\": ..., \"fileName\": ...} and PUT the file to the uploadUrl"
        )
    if base_type == "multipart/form-data":
        fields, files = parse_multipart(data, content_type)
        upload = files.get("file")
        if upload is None:
            raise BadRequest("the multipart form needs a 'file' part holding the data")
        values: dict[str, Any] = dict(fields)  # a field JobOptions does not know is a 400 naming it
        values["merge"] = parse_bool("merge", fields.get("merge"))
        values["revertible"] = parse_bool("revertible", fields.get("revertible"), default=True)
        values["fileName"] = upload.name
        if not values.get("contentType") and upload.content_type not in (None, "application/octet-stream"):
            values["contentType"] = upload.content_type
        options = JobOptions.model_validate(values)
        return _submitted(event, caller, submit.submit_inline(clients, caller, options, upload.data), 202)
    if base_type in JSONL_TYPES:
        params = query(event, *OPTION_FIELDS)
        values = dict(params)
        values["merge"] = parse_bool("merge", params.get("merge"))
        values["revertible"] = parse_bool("revertible", params.get("revertible"), default=True)
        values["contentType"] = "application/x-ndjson"
        _refuse_json_array(data)
        options = JobOptions.model_validate(values)
        return _submitted(event, caller, submit.submit_inline(clients, caller, options, data), 202)
    raise UnsupportedMediaType(
        f"Content-Type '{content_type or '(none)'}' is not accepted: a request body must be JSON Lines "
        "(application/x-ndjson); files go as multipart/form-data, upload URLs are asked for with application/json"
    )


def _submitted(event: APIGatewayProxyEventV2, caller: Principal, job: Job, status: int) -> Response:
    if job.operation == "delete" and job.mode == "commit":
        audit(event, caller, "records.deleteJob", job.jobId, itemType=job.itemType)
    return job_response(job, status, caller)


@router.get("/v1/jobs")
def list_jobs() -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "imports:read")
    params = query(event, "limit", "cursor", "status", "itemType", "creationPath")
    limit = parse_limit(params.get("limit"), default=20, maximum=100)
    keep = submit.listing_filter(params.get("status"), params.get("itemType"), params.get("creationPath"))
    jobs, cursor = JobStore(get_clients()).page(caller.tenant, limit, params.get("cursor"), keep)
    return {"items": [job.view().body() for job in jobs], "nextCursor": cursor}


@router.get("/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    caller = principal(router.current_event, "imports:read")
    return job_response(submit.find_job(get_clients(), caller.tenant, checked_job_id(job_id)), 200, caller)


@router.get("/v1/jobs/<job_id>/errors")
def list_errors(job_id: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "imports:read")
    job = submit.find_job(get_clients(), caller.tenant, checked_job_id(job_id))
    params = query(event, "limit", "cursor")
    limit = parse_limit(params.get("limit"), default=100, maximum=1000)
    errors, cursor = JobStore(get_clients()).errors(job.jobId, limit, params.get("cursor"))
    return {"items": [e.model_dump(mode="json") for e in errors], "nextCursor": cursor}


@router.get("/v1/jobs/<job_id>/results/<kind>")
def get_results(job_id: str, kind: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "imports:read")
    clients = get_clients()
    job = submit.find_job(clients, caller.tenant, checked_job_id(job_id))
    if kind not in RESULT_KINDS:
        raise NotFound(f"unknown result kind '{kind}'; one of: {', '.join(RESULT_KINDS)}")
    if not job.finished and job.resultStep is not None:
        raise Conflict(f"the result files are being written: {job.resultChunk} of {job.chunkCount} chunks so far; "
                       "they can be fetched when the job has finished")
    if not job.finished or job.status == Status.REJECTED:
        raise Conflict(f"result files are written when the job has processed its rows; it is {job.status.value}")
    seconds = clients.settings.result_url_seconds
    file_index = None
    if len(job.files) > 1:
        wanted = query(event, "file").get("file")
        names = [f.name for f in job.files]
        if wanted not in names:
            raise BadRequest(f"this job has several files; add ?file= one of: {', '.join(names)}")
        file_index = names.index(wanted)
    url = Storage(clients).presign_get(result_key(caller.tenant, job.jobId, kind, file_index), seconds,
                                       file_name=f"{job.jobId}-{kind}.csv")
    return {"url": url, "expiresAt": iso_from_ms(now_ms() + seconds * 1000)}


@router.post("/v1/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    caller = principal(router.current_event, "imports:write")
    return job_response(cancel(get_clients(), caller.tenant, checked_job_id(job_id)), 202, caller)


@router.post("/v1/controls")
def create_control() -> Response:
    event = router.current_event
    caller = principal(event, "imports:write")
    content_type = (event.headers.get("content-type") or "").strip()
    data = raw_body(event.raw_event)
    comment = query(event, "comment").get("comment")
    if content_type.lower().startswith("multipart/form-data"):
        fields, files = parse_multipart(data, content_type)
        if "file" not in files:
            raise BadRequest("the multipart form needs a 'file' part holding the control document")
        data, comment = files["file"].data, fields.get("comment", comment)
    digest, created = staging.store_control(get_clients(), caller.tenant, data, comment)
    return json_response({"digest": digest}, 201 if created else 200)


@router.post("/v1/jobs/<job_id>/files")
def add_job_file(job_id: str) -> Response:
    event = router.current_event
    caller = principal(event, "imports:write")
    clients = get_clients()
    content_type = (event.headers.get("content-type") or "").strip()
    if content_type.lower().startswith("application/json"):
        wanted = body_as(event, StagedFileLinkRequest, "{\"name\": <a file name the control declares>}")
        link = staging.file_upload_url(clients, caller.tenant, checked_job_id(job_id), wanted.name)
        return json_response(link, 201)
    data = raw_body(event.raw_event)
    if len(data) > clients.settings.inline_body_max:
        raise PayloadTooLarge(f"the body is {len(data)} bytes; larger files go to an upload URL: POST this route "
                              "with application/json {\"name\": ...}")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("files are sent as multipart/form-data with 'name' and 'file' parts")
    fields, files = parse_multipart(data, content_type)
    if "file" not in files or not fields.get("name"):
        raise BadRequest("the multipart form needs a 'name' (a file the control declares) and a 'file' part")
    stored = staging.add_file(clients, caller.tenant, checked_job_id(job_id), fields["name"], files["file"].data)
    return json_response(stored)


@router.post("/v1/jobs/<job_id>/upload/complete")
def complete_upload(job_id: str) -> Response:
    event = router.current_event
    caller = principal(event, "imports:write")
    wanted = body_as(event, CompleteUploadRequest, "{\"parts\": [{\"partNumber\": 1, \"etag\": \"...\"}]}")
    parts = [(part.partNumber, part.etag) for part in wanted.parts]
    job = submit.complete_upload(get_clients(), caller.tenant, checked_job_id(job_id), parts)
    return job_response(job, 202, caller, upload_links=False)  # the file is whole: it waits for no upload now


@router.post("/v1/jobs/<job_id>/schedule")
def schedule_job(job_id: str) -> Response:
    event = router.current_event
    caller = principal(event, "imports:write")
    wanted = ScheduleRequest() if json_body(event) is None else \
        body_as(event, ScheduleRequest, "{\"mode\": \"dry-run\" | \"commit\"}")
    job = staging.schedule(get_clients(), caller.tenant, checked_job_id(job_id), wanted.mode)
    return job_response(job, 202, caller)


@router.post("/v1/jobs/<job_id>/commit")
def commit_job(job_id: str) -> Response:
    caller = principal(router.current_event, "imports:write")
    return job_response(staging.commit_dry_run(get_clients(), caller, checked_job_id(job_id)), 202, caller)


@router.post("/v1/jobs/<job_id>/retry-failed")
def retry_failed(job_id: str) -> Response:
    caller = principal(router.current_event, "imports:write")
    return job_response(submit.retry_failed(get_clients(), caller, checked_job_id(job_id)), 202, caller)


@router.post("/v1/jobs/<job_id>/revert")
def revert_job(job_id: str) -> Response:
    event = router.current_event
    caller = principal(event, "imports:write")
    dry_run = parse_bool("dryRun", query(event, "dryRun").get("dryRun"))
    job = start_revert(get_clients(), caller, checked_job_id(job_id), dry_run)
    if not dry_run:
        audit(event, caller, "job.revert", job_id, revertJobId=job.jobId)
    return job_response(job, 202, caller)
