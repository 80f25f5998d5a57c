"""Messages on the IngestQueue that carry a job's work on in the next invocation: the next slice of its files
(models/slices.py) or the next step of writing its result files (models/results.py). The state the next invocation
starts from is stored beside the job; the message names the job and where to go on."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import orjson
from pydantic import BaseModel


class Continuation(BaseModel):
    """A continuation, as the body of a queue message: `{KEY: {tenant, jobId, ...}}`."""

    KEY: ClassVar[str]

    tenant: str
    jobId: str

    def to_body(self) -> str:
        return orjson.dumps({self.KEY: self.model_dump()}).decode()

    @classmethod
    def from_body(cls, body: str) -> Self | None:
        """The continuation in a queue message's body, or None if the body is something else (an S3 event,
        another kind of continuation)."""
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(parsed, dict) or cls.KEY not in parsed:
            return None
        return cls.model_validate(parsed[cls.KEY])

    def where(self) -> dict[str, int]:
        """Where it goes on, for logs."""
        return self.model_dump(exclude={"tenant", "jobId"})


class StoredState(BaseModel):
    """What a continuation's invocation starts from, stored as JSON beside the job."""

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, body: bytes) -> Self:
        return cls.model_validate(orjson.loads(body))
