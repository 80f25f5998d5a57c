"""What every route needs from its request: the caller's principal (checked, rate-limited), the body as a
model, ids from the path, and this API's own address."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel

from sluice.api.access import require
from sluice.api.http import raw_body
from sluice.models import jsontext
from sluice.models.errors import BadRequest, NotFound
from sluice.models.ids import is_job_id, is_name
from sluice.models.principal import Principal
from sluice.store.clients import get_clients
from sluice.store.ratelimit import KeyRateLimiter

logger = Logger(child=True)
Body = TypeVar("Body", bound=BaseModel)


def principal(event: APIGatewayProxyEventV2, *permissions: str) -> Principal:
    """The caller, if its key holds one of the permissions (else 401/403), within its rate limit (else 429)."""
    found = require(event.request_context.authorizer.get_lambda, *permissions)
    logger.append_keys(tenant=found.tenant, keyId=found.key_id)
    KeyRateLimiter(get_clients()).admit(found.key_id)
    return found


def json_body(event: APIGatewayProxyEventV2) -> Any:
    try:
        return jsontext.loads(raw_body(event.raw_event) or b"null")
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def body_as(event: APIGatewayProxyEventV2, model: type[Body], example: str) -> Body:
    """The JSON body as the route's request model; a 400 naming the field that is wrong."""
    body = json_body(event)
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object such as {example}")
    return model.model_validate(body)


def query(event: APIGatewayProxyEventV2, *known: str) -> dict[str, str]:
    """The query string's parameters; one the route does not take is a 400 naming it (a misspelt parameter
    must not be silently ignored)."""
    params = dict(event.query_string_parameters or {})
    unknown = sorted(set(params) - set(known))
    if unknown:
        takes = f"this route takes: {', '.join(known)}" if known else "this route takes none"
        raise BadRequest(f"unknown query parameter(s): {', '.join(unknown)}; {takes}", code="invalid_request")
    return params


# The /v1 routes that read (and check) their own query parameters with query(event, ...); every other takes none.
READS_QUERY = frozenset({("POST", "/v1/jobs"), ("GET", "/v1/jobs"), ("GET", "/v1/jobs/<job_id>/errors"),
                         ("GET", "/v1/jobs/<job_id>/results/<kind>"), ("POST", "/v1/controls"),
                         ("GET", "/v1/exports"), ("GET", "/v1/records/<item_type>"),
                         ("GET", "/v1/webhooks/<webhook_id>/deliveries"), ("POST", "/v1/jobs/<job_id>/revert"),
                         ("DELETE", "/v1/item-types/<item_type>"), ("GET", "/v1/audit")})


def no_stray_query(app: Any, next_middleware: Any) -> Response:
    """A middleware: a query parameter sent to a /v1 route that takes none is a 400 naming it, not ignored."""
    route = app.context.get("_route")
    params = app.current_event.query_string_parameters
    # no route at all (Powertools' not-found handler stands in): a 404 saying so, not a 400 about its parameters
    unrouted = route is not None and getattr(route.func, "__name__", "") == "not_found_handler"
    if params and route is not None and not unrouted and route.path.startswith("/v1/") and route.path != "/v1/docs" \
            and (route.method, route.path) not in READS_QUERY:
        raise BadRequest(f"unknown query parameter(s): {', '.join(sorted(params))}; this route takes none",
                         code="invalid_request")
    response: Response = next_middleware(app)
    return response


def base_url(event: APIGatewayProxyEventV2) -> str:
    """This API's address as the client called it (API Gateway sets X-Forwarded-Proto)."""
    headers = event.headers
    host = headers.get("host") or event.request_context.domain_name
    return f"{headers.get('x-forwarded-proto', 'https')}://{host}" if host else ""


def checked_job_id(job_id: str) -> str:
    if not is_job_id(job_id):
        raise NotFound(f"job {job_id} not found")
    return job_id


def checked_item_type(name: str) -> str:
    name = unquote(name)
    if not is_name(name):
        raise BadRequest("item type names match [A-Za-z][A-Za-z0-9_-]{0,63}")
    return name


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)
