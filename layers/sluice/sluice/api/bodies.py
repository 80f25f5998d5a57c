"""Request bodies of the /v1 routes that take JSON (besides item types, exports and attribute updates, whose
models live with what they describe)."""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sluice.models.fields import EmailAddress
from sluice.models.job import JobOptions, StrictnessOptions
from sluice.models.limits import MAX_UPLOAD_PARTS
from sluice.models.principal import PERMISSIONS


class StagedJobRequest(StrictnessOptions):
    """POST /v1/jobs {"control": digest}: an open job for a control document's files."""

    model_config = ConfigDict(extra="forbid")

    control: str = Field(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$",
                         description="the digest POST /v1/controls returned")
    comment: str | None = Field(default=None, max_length=500)
    jobName: str | None = Field(default=None, max_length=200)
    creationPath: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:/-]*$")
    notificationEmail: EmailAddress | None = None


class UploadRequest(JobOptions):
    """POST /v1/jobs as JSON without data (form 3): a job waiting for its file, with a presigned upload link, or
    with `parts`, a multipart upload of that many parts (files over 2 GiB)."""

    parts: int | None = Field(default=None, ge=1, le=MAX_UPLOAD_PARTS, strict=True,
                              description="upload the file in this many parts: each 5 MiB to 5 GiB, the last "
                                          "smaller if need be (S3's rules); the job carries a presigned URL per part "
                                          "and the route that completes the upload")


class CompletedPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partNumber: int = Field(ge=1, le=MAX_UPLOAD_PARTS, strict=True)
    etag: str = Field(min_length=1, max_length=200, description="the ETag header S3 answered the part's PUT with")


class CompleteUploadRequest(BaseModel):
    """POST /v1/jobs/{jobId}/upload/complete: every part uploaded, in order, with its ETag."""

    model_config = ConfigDict(extra="forbid")

    parts: list[CompletedPart] = Field(min_length=1, max_length=MAX_UPLOAD_PARTS)


class StagedFileLinkRequest(BaseModel):
    """POST /v1/jobs/{jobId}/files as JSON: an upload link for a declared file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="a file name the control document declares")


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["dry-run", "commit"] = "commit"


class MappingRequest(BaseModel):
    """PUT /v1/item-types/{itemType}/mappings/{name}: the same shape as a control document's `columns`."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(min_length=1, max_length=1000, description="source header -> field")


class KeyRequest(BaseModel):
    """POST /v1/api-keys."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=100)
    permissions: list[str] = Field(min_length=1, max_length=len(PERMISSIONS),
                                   description=f"any of: {', '.join(sorted(PERMISSIONS))}")

    @field_validator("name")
    @classmethod
    def _normalised(cls, name: str) -> str:
        name = unicodedata.normalize("NFC", name)
        if any(unicodedata.category(c).startswith("C") for c in name):
            raise ValueError("must not hold control or format characters")
        return name
