"""Errors a client can fix, each with its HTTP status and a stable code."""

from __future__ import annotations

from pydantic import ValidationError


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds, sent as Retry-After
        if code:
            self.code = code


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"


class ServiceUnavailable(ApiError):
    """AWS kept throttling or timing out after every retry: the request did nothing it cannot repeat."""

    status = 503
    code = "service_unavailable"


class LimitReached(Exception):
    """Work stopped at a documented limit (run time, output size): it ends Failed with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RejectedInput(Exception):
    """The file or options are unusable: the job ends Rejected with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def validation_message(exc: ValidationError) -> BadRequest:
    parts = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "body"
        if error.get("type") == "extra_forbidden":
            parts.append(f"{where}: unknown field (not one this request takes; check its spelling)")
            continue
        message = str(error.get("msg", ""))
        # our own validators' messages, without pydantic's "Value error, " in front of them
        parts.append(f"{where}: {message.removeprefix('Value error, ')}")
    return BadRequest("; ".join(parts), code="invalid_request")
