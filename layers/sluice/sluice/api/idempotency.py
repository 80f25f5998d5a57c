"""`Idempotency-Key` on the routes that create jobs and exports: the same key with the same request within
24 h answers what the first answered and creates nothing new; the same key with another request is a 409.
"The same request" is the route, the query, and the body as parsed: JSON by its value, a multipart form by its
fields and the sha256 of each file (a retried upload has a new boundary but is the same request)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sluice.api.http import parse_multipart, raw_body
from sluice.api.request import json_response
from sluice.models import jsontext
from sluice.models.errors import BadRequest, Conflict
from sluice.models.principal import Principal
from sluice.store.clients import get_clients
from sluice.store.idempotency import IdempotencyStore

HEADER = "idempotency-key"


def fingerprint(event: APIGatewayProxyEventV2) -> str:
    content_type = (event.headers.get("content-type") or "").strip()
    data = raw_body(event.raw_event)
    base_type = content_type.split(";")[0].strip().lower()
    body: Any
    if base_type == "application/json":
        try:
            body = jsontext.loads(data or b"null")
        except ValueError:
            body = hashlib.sha256(data).hexdigest()
    elif base_type == "multipart/form-data":
        fields, files = parse_multipart(data, content_type)
        body = {"fields": fields, "files": {name: [f.name, hashlib.sha256(f.data).hexdigest()]
                                            for name, f in files.items()}}
    else:
        body = hashlib.sha256(data).hexdigest()
    request = {"route": f"{event.http_method} {event.path}", "query": sorted((event.query_string_parameters or {})
                                                                             .items()), "type": base_type, "body": body}
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def idempotent(event: APIGatewayProxyEventV2, caller: Principal, handle: Callable[[], Response]) -> Response:
    key = event.headers.get(HEADER)
    if key is None:
        return handle()
    if not 1 <= len(key) <= 255 or not all(32 <= ord(c) < 127 for c in key):
        raise BadRequest("Idempotency-Key must be 1 to 255 printable ASCII characters")
    store = IdempotencyStore(get_clients())
    wanted = fingerprint(event)
    earlier = store.claim(caller.tenant, key, wanted)
    if earlier is not None:
        if earlier.fingerprint != wanted:
            raise Conflict("this Idempotency-Key was used with a different request; use a new key for a new request")
        if earlier.answer is None:
            raise Conflict("a request with this Idempotency-Key is still being answered; retry shortly",
                           retry_after=1)
        answer = earlier.answer
        return json_response(answer["body"], answer["status"], {**answer["headers"], "Idempotent-Replayed": "true"})
    try:
        response = handle()
    except Exception:
        store.release(caller.tenant, key)
        raise
    if response.status_code >= 500:
        store.release(caller.tenant, key)
        return response
    body = response.body if isinstance(response.body, dict | list) else orjson.loads(response.body or b"null")
    store.keep_answer(caller.tenant, key, {"status": response.status_code, "body": body,
                                           "headers": {k: v for k, v in (response.headers or {}).items()
                                                       if isinstance(v, str)}})
    return response
