"""The web console's files (`/console/...`, a single-page app: any path that is not a file is the page itself)
and Swagger UI over the OpenAPI document (`/v1/docs`). No key is needed to load them; the console asks for one."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from functools import lru_cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

router = APIGatewayHttpRouter()
CONSOLE = Path(__file__).resolve().parent / "console"
_TEXT = ("text/", "application/javascript", "application/json", "image/svg+xml")


@lru_cache(maxsize=256)
def _file(relative: str) -> tuple[bytes, str] | None:
    """A file of the console folder (never outside it), with its content type."""
    path = (CONSOLE / relative).resolve()
    if not path.is_relative_to(CONSOLE) or not path.is_file():
        return None
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type == "text/javascript":
        content_type = "application/javascript"
    if content_type.startswith(_TEXT):
        content_type += "; charset=utf-8"
    return path.read_bytes(), content_type


_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


@lru_cache(maxsize=16)
def _policy(html: bytes) -> str:
    """The page's Content-Security-Policy: its own files, its inline scripts by hash (the import map), uploads
    straight to S3 (https, or the local emulator)."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                      for s in _INLINE_SCRIPT.findall(html))
    return (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self' https: http://127.0.0.1:* http://localhost:*; "
            "frame-ancestors 'none'; base-uri 'none'")


def _serve(relative: str, cache: str) -> Response:
    found = _file(relative)
    if found is None:
        found = _file("index.html")  # a page of the app (/console/jobs/{jobId}): the app routes it
        cache = "no-cache"
    assert found is not None
    body, content_type = found
    headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = _policy(body)
    return Response(status_code=200, content_type=content_type, body=body, headers=headers)


@router.get("/console")
def console_root() -> Response:
    return Response(status_code=308, headers={"Location": "/console/"}, body="")


@router.get("/console/.+")
def console_file() -> Response:
    relative = router.current_event.path.removeprefix("/console/")
    return _serve(relative, "no-cache" if relative.endswith(".html") else "public, max-age=300")


@router.get("/console/")
def console_index() -> Response:
    return _serve("index.html", "no-cache")


@router.get("/v1/docs")
def swagger_ui() -> Response:
    return _serve("swagger/index.html", "no-cache")
