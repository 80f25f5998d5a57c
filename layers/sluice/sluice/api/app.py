"""The HTTP API: one resolver, the routes of every module below, and the rule that every error is answered
as `{"error": {"code", "message"}}` (client errors 4xx, AWS still failing after retries 503, bugs 500)."""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from sluice.api import audit, console, exports, itemtypes, jobs, keys, mappings, meta, records, webhooks
from sluice.api.doors import routes as doors
from sluice.api.request import json_response, no_stray_query
from sluice.models.errors import ApiError, validation_message
from sluice.store.clients import aws_unavailable

logger = Logger(child=True)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


app = APIGatewayHttpResolver(serializer=_dumps)
for module in (meta, itemtypes, mappings, jobs, exports, records, keys, webhooks, audit, console):
    app.include_router(module.router)
for router in doors.ROUTERS:  # the seeds' own paths, wire formats and errors (API.md, "Seed-compatible endpoints")
    app.include_router(router)
app.use(middlewares=[no_stray_query])


def _error(status: int, code: str, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return json_response({"error": {"code": code, "message": message}}, status, headers)


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
    message = f"no route {app.current_event.http_method} {app.current_event.path}"
    return doors.not_found(app.current_event.path, message) or _error(404, "not_found", message)


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("unhandled error")
    return _error(500, "internal_error", "an unexpected error occurred; it has been logged")
