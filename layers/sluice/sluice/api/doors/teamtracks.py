"""004 - TeamTracks object import: `POST /objectimport/{trackId}` (a multipart xlsx, xls or csv file) answered
`{"jobId"}`, and `GET /job/{jobId}` answered with TeamTracks' counters.

A thin translator over `intake.submit.submit_inline` (multipart `POST /v1/jobs`) and the job store
(`GET /v1/jobs/{id}`): `trackId` names the item type (its name, else an alias). A failed row whose key matched a
stored record counts in `failedToUpdate`, any other failed row in `failedToCreate` (the worker counts the first
kind as `failedExisting`), so the counters add up to the rows processed. Clients' `tenant` header must be the
key's tenant (else 404); their `Ocp-Apim-Subscription-Key` header may carry the key (the authorizer reads it).
Rows replace records, as on /v1; a `merge=true` form field (a Sluice extension) changes only the given fields.
Errors are Azure API Management's shape, `{"statusCode", "message"}`."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sluice.api.doors.common import form, ignored_fields, item_type, seed_errors
from sluice.api.http import parse_bool, raw_body
from sluice.api.idempotency import idempotent
from sluice.api.request import checked_job_id, json_response, principal
from sluice.intake import submit
from sluice.models.errors import BadRequest, NotFound, PayloadTooLarge
from sluice.models.job import ERRORS_ON_JOB, Job, JobOptions, Status
from sluice.models.principal import Principal
from sluice.store.clients import get_clients
from sluice.store.jobs import JobStore

router = APIGatewayHttpRouter()
ONLY = "Only xlsx, xls and csv files are supported"
EXTENSIONS = (".xlsx", ".xls", ".csv")


def error(status: int, message: str, headers: dict[str, str]) -> Response:
    return json_response({"statusCode": status, "message": message}, status, headers or None)


def _caller(event: APIGatewayProxyEventV2, permission: str) -> Principal:
    caller = principal(event, permission)
    tenant = event.headers.get("tenant")
    if tenant is not None and tenant.strip() != caller.tenant:
        raise NotFound(f"Tenant '{tenant.strip()[:64]}' was not found for this key")
    return caller


def job_body(job: Job, store: JobStore) -> dict[str, Any]:
    """A job as TeamTracks' job status: counters while it runs; created keys and errors once it finished."""
    counts = job.counts
    body: dict[str, Any] = {
        "finished": job.finished, "dateFinished": job.finishMs or 0, "successfullyCreated": counts.created,
        "failedToCreate": counts.failed - counts.failedExisting, "successfullyUpdated": counts.updated,
        "unchanged": counts.unchanged, "failedToUpdate": counts.failedExisting,
    }
    if job.finished:
        errors, _ = store.errors(job.jobId, ERRORS_ON_JOB)
        shown = [e.model_dump(mode="json") for e in errors]
        if job.status != Status.COMPLETED and job.reason:  # the file was unusable, or the job did not finish
            shown.insert(0, {"message": job.reason})
        body["objectsCreated"] = store.objects_created(job.jobId)
        body["errors"] = shown
    return body


@router.post("/objectimport/<track_id>")
@seed_errors(error)
def object_import(track_id: str) -> Response:
    event = router.current_event
    caller = _caller(event, "imports:write")
    return idempotent(event, caller, lambda: _object_import(event, caller, track_id))


def _object_import(event: APIGatewayProxyEventV2, caller: Principal, track_id: str) -> Response:
    clients = get_clients()
    size = len(raw_body(event.raw_event))
    if size > clients.settings.inline_body_max:
        raise PayloadTooLarge(f"The request is {size} bytes; files of at most {clients.settings.inline_body_max} "
                              "bytes are imported through this API (larger ones: POST /v1/jobs for an upload URL)")
    fields, files = form(event)
    upload = files.get("file")
    if upload is None:
        raise BadRequest("A file is required: send it as the multipart form field 'file'")
    name = PureWindowsPath(PurePosixPath(upload.name or "").name).name
    if not name.lower().endswith(EXTENSIONS):
        raise BadRequest(ONLY)
    track = unquote(track_id)
    target = item_type(clients, caller.tenant, track, lambda ref: NotFound(f"Track '{ref[:100]}' was not found"))
    # the file name says what it is (clients label a .csv application/vnd.ms-excel, or nothing at all)
    options = JobOptions(itemType=target.name, jobName=name[:200], fileName=name[:255],
                         merge=parse_bool("merge", fields.get("merge")))  # a Sluice extension; rows replace by default
    job = submit.submit_inline(clients, caller, options, upload.data,
                               requestWarnings=ignored_fields({**fields, **files}, {"merge", "file"}))
    return json_response({"jobId": job.jobId})


@router.get("/job/<job_id>")
@seed_errors(error)
def job_status(job_id: str) -> Response:
    caller = _caller(router.current_event, "imports:read")
    clients = get_clients()
    job = submit.find_job(clients, caller.tenant, checked_job_id(job_id))
    return json_response(job_body(job, JobStore(clients)))
