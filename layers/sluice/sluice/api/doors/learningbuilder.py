"""000 - LearningBuilder Workflow Import Queue: `POST /API/WorkflowImportQueue/CreateBatch` with a JSON Lines
body and the options in the query string, answered `{"queueBatchId", "queueBatchDetails"}`.

A thin translator over `intake.submit.submit_inline` (the call `POST /v1/jobs` makes for a JSON Lines body):
`importProcessId` names the item type (its name, else an alias), `fileName` is the job's name, `creationPath`
is stored as `IMPORT_QUEUE_API:<value>`, and the two addresses hear how the job went (`notify/`). Rows replace
records, as on /v1; `merge=true` (a Sluice extension) changes only the given fields. Errors are ASP.NET Web
API's shape, `{"Message": "..."}`."""

from __future__ import annotations

import re

import orjson
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sluice.api.doors.common import base_type, ignored_fields, item_type, seed_errors
from sluice.api.http import parse_bool, raw_body
from sluice.api.idempotency import idempotent
from sluice.api.request import base_url, json_response, principal
from sluice.intake import submit
from sluice.models.errors import BadRequest, PayloadTooLarge
from sluice.models.job import JobOptions
from sluice.models.principal import Principal
from sluice.models.schemas import FieldError, FieldSpec, compile_field
from sluice.store.clients import Clients, get_clients

router = APIGatewayHttpRouter()
PATH = "/API/WorkflowImportQueue/CreateBatch"
PERMISSION = "BeginWorkflowImportProcess"
CREATION_PATH = re.compile(r"[A-Z0-9_]{1,15}")
CREATION_PREFIX = "IMPORT_QUEUE_API"
CREATE_BATCH_PARAMETERS = {"importprocessid", "creationpath", "filename", "merge", "sendsuccessemailto",
                           "sendfailureemailto"}
JSON_LINES_REQUIRED = "JSON Lines is required: the request body must hold one JSON object per line"
_email = compile_field(FieldSpec(type="email"))


def error(status: int, message: str, headers: dict[str, str]) -> Response:
    """LearningBuilder's API is ASP.NET Web API: its errors are `{"Message": ...}`."""
    return json_response({"Message": message}, status, headers or None)


def console_url(clients: Clients, event: APIGatewayProxyEventV2, job_id: str) -> str:
    """The job's page in the web console, absolute: PUBLIC_API_URL if set, else the address the client called."""
    base = (clients.settings.public_api_url or base_url(event)).rstrip("/")
    return f"{base}/console/jobs/{job_id}"


@router.post(PATH)
@seed_errors(error)
def create_batch() -> Response:
    event = router.current_event
    caller = principal(event, PERMISSION, "imports:write")
    return idempotent(event, caller, lambda: _create_batch(event, caller))


def _create_batch(event: APIGatewayProxyEventV2, caller: Principal) -> Response:
    clients = get_clients()
    # ASP.NET binds query-string names case-insensitively; so do we
    params = {name.lower(): value for name, value in (event.query_string_parameters or {}).items()}
    data = raw_body(event.raw_event)
    if len(data) > clients.settings.inline_body_max:
        raise PayloadTooLarge(f"The request body is {len(data)} bytes; a batch carries at most "
                              f"{clients.settings.inline_body_max} bytes: split it into several batches")
    _check_json_lines(event, data)
    process = params.get("importprocessid", "").strip()
    if not process:
        raise BadRequest("importProcessId is required: the import process (item type) the rows go to")
    target = item_type(clients, caller.tenant, process,
                       lambda ref: BadRequest(f"Import process '{ref}' was not found"))
    creation = params.get("creationpath", "")
    if creation and not CREATION_PATH.fullmatch(creation):
        raise BadRequest(f"creationPath '{creation[:40]}' is not valid: use 1 to 15 characters of A-Z, 0-9 and _")
    file_name = params.get("filename", "").strip() or None
    options = JobOptions(itemType=target.name, jobName=file_name[:200] if file_name else None, fileName=file_name,
                         contentType="application/x-ndjson", merge=parse_bool("merge", params.get("merge")))
    job = submit.submit_inline(
        clients, caller, options, data,
        creation_path=f"{CREATION_PREFIX}:{creation}" if creation else CREATION_PREFIX,
        successEmailTo=_address("sendSuccessEmailTo", params.get("sendsuccessemailto")),
        failureEmailTo=_address("sendFailureEmailTo", params.get("sendfailureemailto")),
        requestWarnings=ignored_fields(params, CREATE_BATCH_PARAMETERS),
    )
    return json_response({"queueBatchId": job.jobId, "queueBatchDetails": console_url(clients, event, job.jobId)})


def _check_json_lines(event: APIGatewayProxyEventV2, data: bytes) -> None:
    """The body must be JSON Lines, whatever Content-Type the client sent (curl -d calls everything a form):
    its first line a JSON object. Later lines that are not are row errors of the job, as on /v1."""
    if base_type(event) == "multipart/form-data":
        raise BadRequest(f"{JSON_LINES_REQUIRED}, not a multipart form")
    first = next((line for line in data.removeprefix(b"\xef\xbb\xbf").splitlines() if line.strip()), None)
    if first is None:
        raise BadRequest(f"{JSON_LINES_REQUIRED}; the body is empty")
    try:
        parsed = orjson.loads(first)
    except orjson.JSONDecodeError:
        raise BadRequest(f"{JSON_LINES_REQUIRED}; the first line is not JSON (curl: send the file with "
                         "--data-binary, which keeps its line breaks)") from None
    if not isinstance(parsed, dict):
        raise BadRequest(f"{JSON_LINES_REQUIRED}; the first line is a JSON {type(parsed).__name__}, not an object")


def _address(name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return str(_email(value.strip()))
    except FieldError:
        raise BadRequest(f"{name} '{value[:100]}' is not a valid email address") from None
