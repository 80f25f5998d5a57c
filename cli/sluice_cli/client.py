"""The Sluice HTTP API as the CLI calls it: JSON requests, inline or presigned uploads, downloads.

Jobs are plain dicts here, not the server's models: a CLI of one version keeps working against a stack of
another (fields are added to the contract freely)."""

from __future__ import annotations

import http.client
import json
import math
import mimetypes
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urljoin

# The API's inline limits (docs/limits.md): a request body of 4 MiB, 100,000 lines. Bigger files go to S3.
INLINE_MAX_BYTES = 4 * 1024 * 1024
INLINE_MAX_LINES = 100_000
STREAM_BLOCK = 1024 * 1024
# Files above this go up in parts (a multipart upload): the API's upload form takes 2 GiB, a multipart upload
# ~4.9 TiB (docs/limits.md). A part is at least 64 MiB (S3 wants 5 MiB but the last) and there are at most 1,000 parts.
MULTIPART_THRESHOLD = 1024**3
PART_BYTES = 64 * 1024**2
MIN_PART_BYTES = 5 * 1024**2
MAX_PARTS = 1000


class CliError(Exception):
    """A one-line message for the user; `exit_code` 3 (usage, connection, refused request) unless said."""

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ApiFailure(CliError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}" if code else f"HTTP {status}: {message}")
        self.status = status
        self.code = code


def segment(value: str) -> str:
    """One path segment, escaped (a record key may hold `/`; a mistyped id may hold anything)."""
    return quote(value, safe="")


def _failure(exc: urllib.error.HTTPError) -> ApiFailure:
    raw = exc.read()
    try:
        error = json.loads(raw)
        if "error" in error:
            return ApiFailure(exc.code, str(error["error"].get("code", "")), str(error["error"].get("message", "")))
        return ApiFailure(exc.code, "", str(error.get("message", raw.decode(errors="replace"))))
    except (ValueError, AttributeError, TypeError):
        text = " ".join(raw.decode(errors="replace").split())[:300]
        return ApiFailure(exc.code, "", text or (exc.reason if isinstance(exc.reason, str) else "no body"))


def _open(request: urllib.request.Request, timeout: float, where: str) -> Any:
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise _failure(exc) from None
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach {where}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise CliError(f"cannot reach {where}: {exc}") from None


class Client:
    def __init__(self, url: str, key: str, timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        with _open(request, self.timeout, self.url) as response:
            raw = response.read()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise CliError(f"{method} {path} answered something that is not JSON: {raw[:200]!r}") from None

    def send(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        return self.request(method, path, data, "application/json" if data is not None else None)

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/jobs/{segment(job_id)}"))

    def submit(self, path: Path, options: dict[str, Any], part_bytes: int | None = None,
               say: Callable[[str], None] | None = None) -> dict[str, Any]:
        """POST /v1/jobs: inline (multipart) when the request fits the API's inline limits, else a job with an
        upload form and the file streamed to S3 (presigned POST), never read whole into memory. Files over
        MULTIPART_THRESHOLD (or any file, given part_bytes) go up in parts, each streamed from disk."""
        size = path.stat().st_size
        if part_bytes is not None or size > MULTIPART_THRESHOLD:
            return self.submit_in_parts(path, options, part_bytes, say)
        if size <= INLINE_MAX_BYTES - 64 * 1024:
            data = path.read_bytes()
            fields = {name: _form_value(value) for name, value in options.items()}
            body, content_type = multipart(fields, path.name, data)
            if len(body) <= INLINE_MAX_BYTES and data.count(b"\n") <= INLINE_MAX_LINES:
                return dict(self.request("POST", "/v1/jobs", body, content_type))
        job = dict(self.send("POST", "/v1/jobs", {**options, "fileName": path.name}))
        form = job.get("uploadForm")
        if not form:
            raise CliError(f"job {job.get('jobId')} came back without an upload form (status {job.get('status')})")
        if size > int(form.get("maxBytes", size)):
            raise CliError(f"{path} is {size} bytes; uploads take at most {form['maxBytes']} bytes (docs/limits.md)")
        upload(form["url"], form["fields"], path)
        return job

    def submit_in_parts(self, path: Path, options: dict[str, Any], part_bytes: int | None = None,
                        say: Callable[[str], None] | None = None) -> dict[str, Any]:
        """A job with a multipart upload: each part PUT to its presigned URL (fresh links asked for when they are
        about to expire), then the parts' ETags sent to complete it. `say` hears a line per part (a big upload
        takes minutes)."""
        size = path.stat().st_size
        parts, part_bytes = part_plan(size, part_bytes)
        job = dict(self.send("POST", "/v1/jobs", {**options, "fileName": path.name, "parts": parts}))
        if say is not None:
            say(f"job {job.get('jobId')}: uploading {path.name} in {parts} parts of {part_bytes} bytes")
        etags: list[dict[str, Any]] = []
        sent = 0
        with path.open("rb") as handle:
            for number in range(1, parts + 1):
                if _expiring(job.get("uploadExpiresAt")):
                    job = self.job(str(job["jobId"]))
                links = {int(p["partNumber"]): str(p["url"]) for p in job.get("uploadParts") or []}
                if number not in links:
                    raise CliError(f"job {job.get('jobId')} has no link for part {number} (status "
                                   f"{job.get('status')})")
                handle.seek((number - 1) * part_bytes)
                length = min(part_bytes, size - (number - 1) * part_bytes)
                etags.append({"partNumber": number, "etag": put_part(links[number], handle, length)})
                sent += length
                if say is not None:
                    say(f"part {number}/{parts} sent ({sent} of {size} bytes)")
        return dict(self.send("POST", f"/v1/jobs/{segment(str(job['jobId']))}/upload/complete", {"parts": etags}))

    def download(self, url: str, sink: IO[bytes]) -> int:
        """A presigned or signed link (no key sent: the link is the credential); relative links are the API's."""
        request = urllib.request.Request(urljoin(self.url + "/", url))
        written = 0
        with _open(request, 600, url.split("?")[0]) as response:
            while block := response.read(STREAM_BLOCK):
                sink.write(block)
                written += len(block)
        return written


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _file_part_head(boundary: str, name: str, file_name: str) -> bytes:
    file_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    safe_name = file_name.replace('"', "_").replace("\r", "_").replace("\n", "_")
    return (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{safe_name}"\r\n'
            f"Content-Type: {file_type}\r\n\r\n").encode()


def _field_parts(boundary: str, fields: dict[str, str]) -> bytes:
    return b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                    for name, value in fields.items())


def multipart(fields: dict[str, str], file_name: str, data: bytes) -> tuple[bytes, str]:
    boundary = f"sluice-{secrets.token_hex(12)}"
    body = (_field_parts(boundary, fields) + _file_part_head(boundary, "file", file_name) + data
            + f"\r\n--{boundary}--\r\n".encode())
    return body, f"multipart/form-data; boundary={boundary}"


def upload(url: str, fields: dict[str, str], path: Path) -> None:
    """The presigned POST (S3 checks the policy and the size); the file part last, as S3 requires, streamed."""
    boundary = f"sluice-{secrets.token_hex(12)}"
    head = _field_parts(boundary, fields) + _file_part_head(boundary, "file", path.name)
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as handle:
            while block := handle.read(STREAM_BLOCK):
                yield block
        yield tail

    request = urllib.request.Request(url, data=body(), method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)})
    _open(request, 600, url.split("?")[0]).close()


def part_plan(size: int, part_bytes: int | None = None) -> tuple[int, int]:
    """How many parts of how many bytes a file of `size` goes up in: PART_BYTES, or more so that there are at
    most MAX_PARTS; the last part takes what is left."""
    if part_bytes is None:
        part_bytes = max(PART_BYTES, math.ceil(size / MAX_PARTS))
    if part_bytes < MIN_PART_BYTES:
        raise CliError(f"parts are at least {MIN_PART_BYTES} bytes (S3's minimum)")
    parts = max(1, math.ceil(size / part_bytes))
    if parts > MAX_PARTS:
        raise CliError(f"a file of {size} bytes would be {parts} parts of {part_bytes} bytes; at most {MAX_PARTS}: "
                       "give larger parts")
    return parts, part_bytes


def _expiring(expires_at: Any, margin_seconds: float = 60) -> bool:
    if not isinstance(expires_at, str):
        return False
    try:
        deadline = datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return time.time() > deadline - margin_seconds


def put_part(url: str, handle: IO[bytes], length: int) -> str:
    """PUTs `length` bytes from the handle's position to a presigned part URL, streamed; the part's ETag."""

    def body() -> Iterator[bytes]:
        left = length
        while left > 0:
            block = handle.read(min(STREAM_BLOCK, left))
            if not block:
                raise CliError("the file got shorter while it was uploaded")
            left -= len(block)
            yield block

    request = urllib.request.Request(url, data=body(), method="PUT", headers={
        "Content-Length": str(length), "Content-Type": "application/octet-stream"})
    with _open(request, 600, url.split("?")[0]) as response:
        etag = response.headers.get("ETag")
    if not etag:
        raise CliError("S3 answered a part without its ETag")
    return str(etag)
