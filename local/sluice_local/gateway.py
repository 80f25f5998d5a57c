"""The HTTP API in front of the functions: the template's routes, its Lambda authorizer, payload 2.0."""

from __future__ import annotations

import base64
import ipaddress
import json
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sluice_local.runtime import Functions
from sluice_local.template import ACCOUNT, Route, Template

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API payload limit
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda synchronous invocation payload limit
_TEXT_TYPES = ("text/", "application/json", "application/x-ndjson", "application/jsonl",
               "application/x-www-form-urlencoded", "application/xml")


def _is_text(content_type: str) -> bool:
    return any(content_type.lower().startswith(t) for t in _TEXT_TYPES)


def build_event(route: Route, method: str, raw_path: str, query: str, headers: Iterable[tuple[str, str]],
                body: bytes, path_parameters: dict[str, str], source_ip: str = "127.0.0.1") -> dict[str, Any]:
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    merged.setdefault("x-forwarded-proto", "http")  # API Gateway adds it (https); the local front is plain HTTP
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    now = time.time()
    text = _is_text(merged.get("content-type", ""))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "local", "domainName": merged.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": merged.get("user-agent", "")},
            "requestId": str(uuid.uuid4()), "routeKey": route.route_key, "stage": "$default",
            "time": datetime.fromtimestamp(now, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body) and not text,
    }
    if params:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"] = body.decode("utf-8", errors="replace") if text else base64.b64encode(body).decode()
    return event


def authorizer_event(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "2.0", "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:local/$default/{event['routeKey'].replace(' ', '')}",
        "identitySource": [], "routeKey": event["routeKey"], "rawPath": event["rawPath"],
        "rawQueryString": event["rawQueryString"], "headers": event["headers"],
        "queryStringParameters": event.get("queryStringParameters", {}),
        "requestContext": event["requestContext"], "pathParameters": event.get("pathParameters", {}),
    }


class Gateway:
    def __init__(self, template: Template, functions: Functions) -> None:
        self.routes = template.routes()
        self.authorizer = template.authorizer_function()
        self.functions = functions

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in ("ANY", method):
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
               client: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        if method == "POST" and parts.path.startswith("/_local/invoke/"):
            # invokes any function with any event, skipping auth: the local stack's own tool, for this machine only
            if not ipaddress.ip_address(client).is_loopback:
                return _json(403, {"error": {"code": "forbidden", "message": "/_local/invoke answers loopback only"}})
            return self._local_invoke(parts.path.rsplit("/", 1)[-1], body)
        if len(body) > MAX_REQUEST_BYTES:
            return _json(413, {"message": "Request Entity Too Large"})
        matched = self.match(method, parts.path)
        if matched is None:
            return _json(404, {"message": "Not Found"})
        route, path_parameters = matched
        event = build_event(route, method, parts.path, parts.query, headers, body, path_parameters)
        if len(json.dumps(event)) > MAX_EVENT_BYTES:
            return _json(413, {"error": {"code": "payload_too_large", "message":
                         "the request is larger than a Lambda event may be (6 MB); create the job with "
                         "application/json {\"itemType\", \"fileName\"} and PUT the file to the uploadUrl"}})
        if route.authorized and self.authorizer:
            timing: dict[str, float] = {}
            outcome, result = self.functions.authorize_then_invoke(self.authorizer, authorizer_event(event),
                                                                   route.function, event, timing)
            if outcome == "denied":
                return _json(403, {"message": "Forbidden"})
            if outcome == "failed":
                return _json(500, {"message": "Internal Server Error"})
            status, reply_headers, data = _response(result)
            # where the time went, for `make load` and a browser's network panel: waiting for a free API worker
            # process (and the hand-over), and the authorizer and the function running in it
            reply_headers["server-timing"] = ", ".join(f"{name};dur={value:.1f}" for name, value in timing.items())
            return status, reply_headers, data
        try:
            result = self.functions.invoke(route.function, event)
        except Exception:
            return _json(500, {"message": "Internal Server Error"})
        return _response(result)

    def _local_invoke(self, logical_id: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            event = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return _json(400, {"error": {"code": "bad_request", "message": "the event must be JSON"}})
        try:
            result = self.functions.invoke(logical_id, event)
        except KeyError:
            return _json(404, {"error": {"code": "not_found", "message": f"no function {logical_id} in template"}})
        except Exception as exc:
            return _json(200, {"errorType": type(exc).__name__, "errorMessage": str(exc)})
        return _json(200, result)


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(body, default=str).encode()


def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        return _json(200, result)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(str(v) for v in values)
    return int(result["statusCode"]), headers, data


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # socketserver's default backlog of 5 resets connections under a burst of clients
    daemon_threads = True


def serve(gateway: Gateway, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_REQUEST_BYTES:
                self.rfile.read(length)
                status, headers, data = _json(413, {"message": "Request Entity Too Large"})
            else:
                body = self.rfile.read(length) if length else b""
                status, headers, data = gateway.handle(self.command, self.path, list(self.headers.items()), body,
                                                       self.client_address[0])
            self.send_response(status)
            for name, value in headers.items():
                if name not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Server((host, port), Handler)
    server.daemon_threads = True
    return server
