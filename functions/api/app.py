"""HTTP API: parse the request, call the domain package, shape the reply."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from sluice import exports, openapi, staging, submit
from sluice.access import require, validation_message
from sluice.attribute_updates import UpdateEntry, apply_updates
from sluice.auth import KeyStore
from sluice.aws import aws_unavailable, get_clients
from sluice.clock import iso_from_ms, now_ms
from sluice.dynamo import decode_cursor, encode_cursor
from sluice.errors import ApiError, BadRequest, Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType
from sluice.http import parse_bool, parse_limit, parse_multipart, raw_body
from sluice.ids import is_job_id, is_name
from sluice.itemtypes import ItemTypeStore
from sluice.jobs import ERRORS_ON_JOB, FINISHED, JobOptions, JobStore, job_view
from sluice.observability import metrics
from sluice.ratelimit import KeyRateLimiter
from sluice.records import RecordStore
from sluice.schemas import ItemTypeDefinition
from sluice.storage import RESULT_KINDS, Storage, result_key

logger = Logger()
tracer = Tracer()


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


app = APIGatewayHttpResolver(serializer=_dumps)
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines")
OPTION_FIELDS = ("itemType", "jobName", "merge", "mode", "creationPath", "notificationEmail", "contentType", "sheet",
                 "headerRow", "delimiter", "encoding")


def _error(status: int, code: str, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body={"error": {"code": code, "message": message}}, headers=headers)


@app.exception_handler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return _error(exc.status, exc.code, exc.message, exc.retry_after)


@app.exception_handler(ClientError)
@app.exception_handler(BotoCoreError)
def _aws_error(exc: Exception) -> Response:
    unavailable = aws_unavailable(exc)
    if unavailable is None:
        return _unexpected(exc)
    logger.warning("AWS unavailable after retries", extra={"error": str(exc)})
    return _api_error(unavailable)


@app.exception_handler(ValidationError)
def _validation_error(exc: ValidationError) -> Response:
    return _api_error(validation_message(exc))


@app.not_found
def _not_found(_: NotFoundError) -> Response:
    return _error(404, "not_found", f"no route {app.current_event.http_method} {app.current_event.path}")


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("unhandled error")
    return _error(500, "internal_error", "an unexpected error occurred; it has been logged")


def _base_url() -> str:
    """This API's address as the client called it (API Gateway sets X-Forwarded-Proto)."""
    headers = app.current_event.headers
    host = headers.get("host") or app.current_event.request_context.domain_name
    return f"{headers.get('x-forwarded-proto', 'https')}://{host}" if host else ""


def _principal(*permissions: str) -> Any:
    principal = require(app.current_event.request_context.authorizer.get_lambda, *permissions)
    logger.append_keys(tenant=principal.tenant, keyId=principal.key_id)
    KeyRateLimiter(get_clients()).admit(principal.key_id)
    return principal


def _json_body() -> Any:
    try:
        return orjson.loads(raw_body(app.current_event.raw_event) or b"null")
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def _job_response(job: dict[str, Any], status: int) -> Response:
    store = JobStore(get_clients())
    errors, _ = store.errors(job["jobId"], ERRORS_ON_JOB)
    view = job_view(job, errors, store.objects_created(job["jobId"]))
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=view,
                    headers={"Location": f"/v1/jobs/{job['jobId']}"})


def _checked_job_id(job_id: str) -> str:
    if not is_job_id(job_id):
        raise NotFound(f"job {job_id} not found")
    return job_id


def _checked_item_type(name: str) -> str:
    name = unquote(name)
    if not is_name(name):
        raise BadRequest("item type names match [A-Za-z][A-Za-z0-9_-]{0,63}")
    return name


@app.get("/v1/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.get("/v1/openapi.json")
def openapi_document() -> dict[str, Any]:
    return openapi.document()


# --- item types -------------------------------------------------------------------------------


@app.put("/v1/item-types/<item_type>")
def put_item_type(item_type: str) -> Response:
    principal = _principal("schemas:write")
    definition = ItemTypeDefinition.model_validate(_json_body())
    stored, created = ItemTypeStore(get_clients()).put(principal.tenant, _checked_item_type(item_type), definition)
    return Response(status_code=201 if created else 200, content_type=content_types.APPLICATION_JSON,
                    body=stored.view())


@app.get("/v1/item-types")
def list_item_types() -> dict[str, Any]:
    principal = _principal("schemas:write", "imports:read", "imports:write")
    return {"items": [t.view() for t in ItemTypeStore(get_clients()).list(principal.tenant)]}


@app.get("/v1/item-types/<item_type>")
def get_item_type(item_type: str) -> dict[str, Any]:
    principal = _principal("schemas:write", "imports:read", "imports:write")
    found = ItemTypeStore(get_clients()).get(principal.tenant, _checked_item_type(item_type))
    if found is None:
        raise NotFound(f"item type '{item_type}' not found")
    return found.view()


# --- import jobs ------------------------------------------------------------------------------


@app.post("/v1/jobs")
def create_job() -> Response:
    principal = _principal("imports:write")
    clients = get_clients()
    event = app.current_event
    content_type = (event.headers.get("content-type") or "").strip()
    base_type = content_type.split(";")[0].strip().lower()
    if base_type == "application/json":
        body = _json_body()
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object such as {\"itemType\": ..., \"fileName\": ...}")
        if "control" in body:
            if not isinstance(body["control"], str):
                raise BadRequest("'control' is the digest returned by POST /v1/controls")
            comment = body.get("comment")
            job = staging.open_job(clients, principal, body["control"], str(comment) if comment else None, body)
            return _job_response(job, 201)
        options = JobOptions.model_validate(body)
        return _job_response(submit.submit_for_upload(clients, principal, options), 201)
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
        values: dict[str, Any] = {k: v for k, v in fields.items() if k in OPTION_FIELDS}
        values["merge"] = parse_bool("merge", fields.get("merge"))
        values["fileName"] = upload.name
        if not values.get("contentType") and upload.content_type not in (None, "application/octet-stream"):
            values["contentType"] = upload.content_type
        options = JobOptions.model_validate(values)
        return _job_response(submit.submit_inline(clients, principal, options, upload.data), 202)
    if base_type in JSONL_TYPES:
        query = event.query_string_parameters or {}
        values = {k: v for k, v in query.items() if k in OPTION_FIELDS}
        values["merge"] = parse_bool("merge", query.get("merge"))
        values["contentType"] = "application/x-ndjson"
        options = JobOptions.model_validate(values)
        return _job_response(submit.submit_inline(clients, principal, options, data), 202)
    raise UnsupportedMediaType(
        f"Content-Type '{content_type or '(none)'}' is not accepted: a request body must be JSON Lines "
        "(application/x-ndjson); files go as multipart/form-data, upload URLs are asked for with application/json"
    )


@app.get("/v1/jobs")
def list_jobs() -> dict[str, Any]:
    principal = _principal("imports:read")
    query = app.current_event.query_string_parameters or {}
    limit = parse_limit(query.get("limit"), default=20, maximum=100)
    keep = submit.listing_filters(query.get("status"), query.get("itemType"), query.get("creationPath"))
    start = decode_cursor(query["cursor"]) if query.get("cursor") else None
    tenant_pk = f"TENANT#{principal.tenant}"
    if start is not None and (not isinstance(start, dict) or start.get("pk", {}).get("S") != tenant_pk):
        raise BadRequest("cursor is not valid; pass back nextCursor exactly as returned")
    store = JobStore(get_clients())
    items: list[dict[str, Any]] = []
    pages = 0
    while len(items) < limit and pages < 20:
        page, start = store.query(principal.tenant, limit, start)
        pages += 1
        for job in page:
            if keep(job):
                items.append(job)
                if len(items) == limit:
                    start = {"pk": {"S": f"TENANT#{principal.tenant}"}, "sk": {"S": f"JOB#{job['jobId']}"}}
                    break
        if not start:
            break
    views = [job_view(j, [], []) for j in items]
    return {"items": views, "nextCursor": encode_cursor(start) if start else None}


@app.get("/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    principal = _principal("imports:read")
    job = submit.find_job(get_clients(), principal.tenant, _checked_job_id(job_id))
    return _job_response(job, 200)


@app.get("/v1/jobs/<job_id>/errors")
def list_errors(job_id: str) -> dict[str, Any]:
    principal = _principal("imports:read")
    job = submit.find_job(get_clients(), principal.tenant, _checked_job_id(job_id))
    query = app.current_event.query_string_parameters or {}
    limit = parse_limit(query.get("limit"), default=100, maximum=1000)
    after = None
    if query.get("cursor"):
        position = decode_cursor(query["cursor"])
        if not (isinstance(position, list) and len(position) == 2 and isinstance(position[0], str)
                and position[0].startswith("ERR#") and isinstance(position[1], int)):
            raise BadRequest("cursor is not valid; pass back nextCursor exactly as returned")
        after = (position[0], position[1])
    errors, position_next = JobStore(get_clients()).errors(job["jobId"], limit, after)
    return {"items": errors, "nextCursor": encode_cursor(list(position_next)) if position_next else None}


@app.get("/v1/jobs/<job_id>/results/<kind>")
def get_results(job_id: str, kind: str) -> dict[str, Any]:
    principal = _principal("imports:read")
    clients = get_clients()
    job = submit.find_job(clients, principal.tenant, _checked_job_id(job_id))
    if kind not in RESULT_KINDS:
        raise NotFound(f"unknown result kind '{kind}'; one of: {', '.join(RESULT_KINDS)}")
    if job["status"] not in FINISHED or job["status"] == "Rejected":
        raise Conflict(f"result files are written when the job has processed its rows; it is {job['status']}")
    seconds = clients.settings.result_url_seconds
    files = job.get("files") or []
    file_index = None
    if len(files) > 1:
        wanted = (app.current_event.query_string_parameters or {}).get("file")
        names = [f["name"] for f in files]
        if wanted not in names:
            raise BadRequest(f"this job has several files; add ?file= one of: {', '.join(names)}")
        file_index = names.index(wanted)
    url = Storage(clients).presign_get(result_key(principal.tenant, job["jobId"], kind, file_index), seconds,
                                       file_name=f"{job['jobId']}-{kind}.csv")
    return {"url": url, "expiresAt": iso_from_ms(now_ms() + seconds * 1000)}


@app.post("/v1/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    principal = _principal("imports:write")
    job = submit.cancel(get_clients(), principal.tenant, _checked_job_id(job_id))
    return _job_response(job, 202)


@app.post("/v1/controls")
def create_control() -> Response:
    principal = _principal("imports:write")
    event = app.current_event
    content_type = (event.headers.get("content-type") or "").strip()
    data = raw_body(event.raw_event)
    comment = (event.query_string_parameters or {}).get("comment")
    if content_type.lower().startswith("multipart/form-data"):
        fields, files = parse_multipart(data, content_type)
        if "file" not in files:
            raise BadRequest("the multipart form needs a 'file' part holding the control document")
        data, comment = files["file"].data, fields.get("comment", comment)
    digest, created = staging.store_control(get_clients(), principal.tenant, data, comment)
    return Response(status_code=201 if created else 200, content_type=content_types.APPLICATION_JSON,
                    body={"digest": digest})


@app.post("/v1/jobs/<job_id>/files")
def add_job_file(job_id: str) -> Response:
    principal = _principal("imports:write")
    clients = get_clients()
    event = app.current_event
    content_type = (event.headers.get("content-type") or "").strip()
    if content_type.lower().startswith("application/json"):
        body = _json_body()
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise BadRequest("the body must be {\"name\": <a file name the control declares>}")
        link = staging.file_upload_url(clients, principal.tenant, _checked_job_id(job_id), body["name"])
        return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=link)
    data = raw_body(event.raw_event)
    if len(data) > clients.settings.inline_body_max:
        raise PayloadTooLarge(f"the body is {len(data)} bytes; larger files go to an upload URL: POST this route "
                              "with application/json {\"name\": ...}")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("files are sent as multipart/form-data with 'name' and 'file' parts")
    fields, files = parse_multipart(data, content_type)
    if "file" not in files or not fields.get("name"):
        raise BadRequest("the multipart form needs a 'name' (a file the control declares) and a 'file' part")
    stored = staging.add_file(clients, principal.tenant, _checked_job_id(job_id), fields["name"], files["file"].data)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=stored)


@app.post("/v1/jobs/<job_id>/schedule")
def schedule_job(job_id: str) -> Response:
    principal = _principal("imports:write")
    body = _json_body() or {}
    if not isinstance(body, dict):
        raise BadRequest("the body must be {\"mode\": \"dry-run\" | \"commit\"}")
    job = staging.schedule(get_clients(), principal.tenant, _checked_job_id(job_id), str(body.get("mode", "commit")))
    return _job_response(job, 202)


@app.post("/v1/jobs/<job_id>/commit")
def commit_job(job_id: str) -> Response:
    principal = _principal("imports:write")
    job = staging.commit_dry_run(get_clients(), principal, _checked_job_id(job_id))
    return _job_response(job, 202)


@app.post("/v1/jobs/<job_id>/retry-failed")
def retry_failed(job_id: str) -> Response:
    principal = _principal("imports:write")
    job = submit.retry_failed(get_clients(), principal, _checked_job_id(job_id))
    return _job_response(job, 202)


# --- exports ---------------------------------------------------------------------------------


@app.post("/v1/exports")
def create_export() -> Response:
    principal = _principal("exports:write")
    body = _json_body()
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object such as {\"itemType\": ..., \"contentType\": \"text/csv\"}")
    export = exports.create_export(get_clients(), principal, exports.ExportRequest.model_validate(body))
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON,
                    body=exports.export_view(get_clients(), export, _base_url()),
                    headers={"Location": f"/v1/exports/{export['jobId']}"})


@app.get("/v1/exports/<export_id>")
def get_export(export_id: str) -> dict[str, Any]:
    principal = _principal("exports:read")
    clients = get_clients()
    export = exports.find_export(clients, principal.tenant, _checked_job_id(export_id))
    return exports.export_view(clients, export, _base_url())


@app.get("/v1/export-links/<token>")
def follow_export_link(token: str) -> Response:
    url = exports.resolve_link(get_clients(), token)  # the token is the credential: no API key needed
    return Response(status_code=302, content_type=content_types.APPLICATION_JSON, body={"url": url},
                    headers={"Location": url, "Cache-Control": "no-store"})


# --- records ----------------------------------------------------------------------------------


@app.get("/v1/records/<item_type>")
def list_records(item_type: str) -> dict[str, Any]:
    principal = _principal("records:read")
    clients = get_clients()
    found = ItemTypeStore(clients).get(principal.tenant, _checked_item_type(item_type))
    if found is None:
        raise NotFound(f"item type '{item_type}' not found")
    query = app.current_event.query_string_parameters or {}
    limit = parse_limit(query.get("limit"), default=100, maximum=1000)
    after = decode_cursor(query["cursor"]) if query.get("cursor") else None
    if after is not None and not isinstance(after, str):
        raise BadRequest("cursor is not valid; pass back nextCursor exactly as returned")
    items, last = RecordStore(clients).page(found, limit, after)
    return {"items": items, "nextCursor": encode_cursor(last) if last else None}


@app.get("/v1/records/<item_type>/<key>")
def get_record(item_type: str, key: str) -> dict[str, Any]:
    principal = _principal("records:read")
    clients = get_clients()
    found = ItemTypeStore(clients).get(principal.tenant, _checked_item_type(item_type))
    if found is None:
        raise NotFound(f"item type '{item_type}' not found")
    record = RecordStore(clients).get(found, unquote(key))
    if record is None:
        raise NotFound(f"no {found.name} record with key '{unquote(key)}'")
    return record


@app.post("/v1/attribute-updates")
def attribute_updates() -> dict[str, Any]:
    principal = _principal("records:write")
    body = _json_body()
    if not isinstance(body, list):
        raise BadRequest("the body must be a JSON array of {\"itemType\", \"key\", \"values\": [...]} entries")
    entries = [UpdateEntry.model_validate(entry) for entry in body]
    return apply_updates(get_clients(), principal.tenant, f"attribute-updates:{principal.key_id}", entries)


# --- API keys ---------------------------------------------------------------------------------


@app.post("/v1/api-keys")
def create_key() -> Response:
    principal = _principal("keys:admin")
    body = _json_body()
    if not isinstance(body, dict) or not isinstance(body.get("permissions"), list):
        raise BadRequest("the body must be {\"name\": ..., \"permissions\": [...]}")
    name = str(body.get("name") or "")[:100]
    created = KeyStore(get_clients()).create(principal.tenant, name, [str(p) for p in body["permissions"]])
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)


@app.get("/v1/api-keys")
def list_keys() -> dict[str, Any]:
    principal = _principal("keys:admin")
    return {"items": KeyStore(get_clients()).list(principal.tenant)}


@app.delete("/v1/api-keys/<key_id>")
def revoke_key(key_id: str) -> dict[str, Any]:
    principal = _principal("keys:admin")
    if not KeyStore(get_clients()).revoke(principal.tenant, key_id):
        raise NotFound(f"key {key_id} not found")
    return {"keyId": key_id, "revoked": True}


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
