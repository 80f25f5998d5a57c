"""What the seed doors share: errors answered in each seed's own style, form fields from whatever body a seed
client sends (multipart, form-urlencoded, JSON, the query string), and item types named the seed's way."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl

import orjson
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from sluice.api.http import UploadedFile, parse_multipart, raw_body
from sluice.models.errors import ApiError, BadRequest, PayloadTooLarge, validation_message
from sluice.models.itemtype import ItemType
from sluice.models.warnings import JobWarning, option_ignored
from sluice.store.clients import Clients, aws_unavailable
from sluice.store.itemtypes import ItemTypeStore

# An error as a seed answers it: (HTTP status, message, extra headers) -> the response.
Render = Callable[[int, str, dict[str, str]], Response]
Handler = TypeVar("Handler", bound=Callable[..., Response])
MAX_FORM_BODY = 64 * 1024  # a form-urlencoded body (its fields are ids and options, never data)
MAX_FORM_FIELDS = 50


def seed_errors(render: Render) -> Callable[[Handler], Handler]:
    """Every error a door's route raises, answered in the seed's own style (API.md: a seed door never answers
    with /v1's error shape). AWS busy after retries is 503 with Retry-After, as on /v1."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(*args: Any, **kwargs: Any) -> Response:
            try:
                return handler(*args, **kwargs)
            except ApiError as exc:
                return _rendered(render, exc)
            except ValidationError as exc:
                return _rendered(render, validation_message(exc))
            except (ClientError, BotoCoreError) as exc:
                unavailable = aws_unavailable(exc)
                if unavailable is None:
                    raise
                return _rendered(render, unavailable)

        return cast(Handler, guarded)

    return decorate


def _rendered(render: Render, error: ApiError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    return render(error.status, error.message, headers)


def text_response(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type="text/plain; charset=utf-8", body=body, headers=headers)


def base_type(event: APIGatewayProxyEventV2) -> str:
    return (event.headers.get("content-type") or "").split(";")[0].strip().lower()


def form(event: APIGatewayProxyEventV2) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """A request's fields and files, the way seed clients send them: multipart (`curl -F`, `requests`'
    files=), form-urlencoded (`curl -d`, `requests`' data=) or a JSON object, over the query string's."""
    fields: dict[str, str] = {k: v for k, v in (event.query_string_parameters or {}).items()}
    files: dict[str, UploadedFile] = {}
    kind = base_type(event)
    data = raw_body(event.raw_event)
    if kind == "multipart/form-data":
        sent, files = parse_multipart(data, event.headers.get("content-type") or "")
        fields.update(sent)
    elif kind == "application/json" and data.strip():
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a form or a JSON object of fields")
        fields.update({str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in body.items()
                       if v is not None})
    elif data.strip():  # form-urlencoded, whatever the client called it (curl -d sends no charset)
        if len(data) > MAX_FORM_BODY:
            raise PayloadTooLarge(f"the form is {len(data)} bytes; a form of fields is at most {MAX_FORM_BODY}")
        try:
            pairs = parse_qsl(data.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except UnicodeDecodeError:
            raise BadRequest("the form is not UTF-8 text") from None
        except ValueError:
            raise PayloadTooLarge(f"the form has more than {MAX_FORM_FIELDS} fields") from None
        fields.update(pairs)
    return fields, files


def ignored_fields(sent: dict[str, Any], known: set[str]) -> list[JobWarning]:
    """The fields a seed client sent that its door does not use: ignored, as the seed ignored them, but listed in
    the job's warnings (option-ignored) so that a misspelt one is seen."""
    return [option_ignored(name[:100], "this front door does not use it (as its seed did not)")
            for name in sorted(set(sent) - known)][:50]


def item_type(clients: Clients, tenant: str, reference: str, unknown: Callable[[str], ApiError]) -> ItemType:
    """The item type a seed names (its name, else an alias); `unknown(reference)` is the seed's own error."""
    found = ItemTypeStore(clients).resolve(tenant, reference) if reference else None
    if found is None:
        raise unknown(reference)
    return found
