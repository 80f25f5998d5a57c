"""001 - Haplo batch import: `POST /api/haplo-data-import-batch/{control,batch,file,schedule}`, each answered
in plain text (a digest, the batch id, a digest, `SCHEDULED`), errors too.

A thin translator over `intake.staging` (what `/v1/controls`, `/v1/jobs` {"control"}, `/v1/jobs/{id}/files`
and `/v1/jobs/{id}/schedule` call): a batch is a staged job. Its control file is Sluice's control document
(`{"files": {"<name>": {"itemType": ..., "columns": {...}}}}`); `itemType` may be a name or an alias."""

from __future__ import annotations

import re

import orjson
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sluice.api.doors.common import form, ignored_fields, seed_errors, text_response
from sluice.api.http import UploadedFile, raw_body
from sluice.api.idempotency import idempotent
from sluice.api.request import json_response, principal
from sluice.intake import staging
from sluice.models.errors import BadRequest, NotFound, PayloadTooLarge
from sluice.models.ids import is_job_id
from sluice.models.principal import Principal
from sluice.store.clients import get_clients

router = APIGatewayHttpRouter()
BASE = "/api/haplo-data-import-batch"
DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_COMMENT = 500


def error(status: int, message: str, headers: dict[str, str]) -> Response:
    """Haplo answers errors as plain text."""
    return text_response(message, status, headers or None)


def _request(event: APIGatewayProxyEventV2, with_file: bool) -> tuple[Principal, dict[str, str], UploadedFile | None]:
    caller = principal(event, "imports:write")
    limit = get_clients().settings.inline_body_max
    size = len(raw_body(event.raw_event))
    if size > limit:
        raise PayloadTooLarge(f"The request is {size} bytes; files of at most {limit} bytes are sent through this "
                              "API (larger ones: POST /v1/jobs/{batch}/files with {\"name\"} for an upload URL)")
    fields, files = form(event)
    upload = files.get("file")
    if with_file and upload is None:
        raise BadRequest("Expected a multipart/form-data request with a 'file' part")
    comment = fields.get("comment")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise BadRequest(f"The comment is {len(comment)} characters long; at most {MAX_COMMENT}")
    return caller, fields, upload


def _batch(fields: dict[str, str]) -> str:
    batch = fields.get("batch", "").strip()
    if not batch:
        raise BadRequest("Missing parameter 'batch': the batch identifier returned by /batch")
    if not is_job_id(batch):
        raise NotFound(f"Batch {batch[:40]} was not found")
    return batch


@router.post(f"{BASE}/control")
@seed_errors(error)
def upload_control() -> Response:
    caller, fields, upload = _request(router.current_event, with_file=True)
    assert upload is not None
    digest, _ = staging.store_control(get_clients(), caller.tenant, upload.data, fields.get("comment") or None)
    return text_response(digest)


@router.post(f"{BASE}/batch")
@seed_errors(error)
def create_batch() -> Response:
    event = router.current_event
    caller, fields, _ = _request(event, with_file=False)
    control = fields.get("control", "").strip().lower()
    if not DIGEST.fullmatch(control):
        raise BadRequest("Missing or invalid parameter 'control': the digest returned by /control (64 hex digits)")

    def open_batch() -> Response:
        ignored = ignored_fields(fields, {"control", "comment"})
        job = staging.open_job(get_clients(), caller, control, fields.get("comment") or None,
                               {"requestWarnings": ignored})
        return json_response({"batch": job.jobId})

    # Idempotency-Key: the answer is kept as JSON, and given as Haplo's plain text either way
    answer = idempotent(event, caller, open_batch)
    body = answer.body if isinstance(answer.body, dict) else orjson.loads(answer.body or b"{}")
    return text_response(str(body["batch"]), headers={k: v for k, v in (answer.headers or {}).items()
                                                      if k.lower() == "idempotent-replayed"} or None)


@router.post(f"{BASE}/file")
@seed_errors(error)
def upload_file() -> Response:
    caller, fields, upload = _request(router.current_event, with_file=True)
    assert upload is not None
    batch = _batch(fields)
    name = fields.get("name", "").strip()
    if not name:
        raise BadRequest("Missing parameter 'name': a file name the control file declares")
    stored = staging.add_file(get_clients(), caller.tenant, batch, name, upload.data)
    return text_response(str(stored["digest"]))


@router.post(f"{BASE}/schedule")
@seed_errors(error)
def schedule_batch() -> Response:
    caller, fields, _ = _request(router.current_event, with_file=False)
    batch = _batch(fields)
    mode = fields.get("mode", "").strip()
    if mode not in ("", "dry-run", "commit"):
        raise BadRequest(f"Unknown mode '{mode[:40]}': leave it out to import, or set it to 'dry-run'")
    staging.schedule(get_clients(), caller.tenant, batch, "dry-run" if mode == "dry-run" else "commit")
    return text_response("SCHEDULED")
