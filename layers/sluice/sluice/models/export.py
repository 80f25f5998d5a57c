"""An export: what was asked (`ExportRequest`), the stored export (`Export`), and what the API shows
(`ExportView`). Exports share the job statuses but nothing else."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.fields import EmailAddress
from sluice.models.ids import new_sortable_id
from sluice.models.job import Status, Tracked
from sluice.models.limits import FILTER_MAX_OPTIONS, FILTER_MAX_VALUE_CHARS
from sluice.models.warnings import JobWarning, option_ignored

LINK_DAYS = 7
LINK_MS = LINK_DAYS * 86_400_000
# a filter value written as a comparison (">30", "!= gold"): filters only compare for equality
_COMPARISON = re.compile(r"^\s*(<=|>=|!=|<>|=<|=>|<|>)\s*\S")
CONTENT_TYPES = {"text/csv": "csv", "application/json": "jsonl", "application/x-ndjson": "jsonl",
                 "application/jsonl": "jsonl"}


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    itemType: str = Field(max_length=64)
    contentType: Literal["text/csv", "application/json", "application/x-ndjson", "application/jsonl"] = "text/csv"
    rowHeader: bool = True
    filters: dict[str, Any] | None = Field(default=None, max_length=50)
    sqlQuery: str | None = Field(default=None, max_length=20_000)
    template: list[str] | dict[str, str] | None = None  # fields in order, or {field: column header} in order
    jobName: str | None = Field(default=None, max_length=200)
    notificationEmail: EmailAddress | None = None

    @field_validator("filters")
    @classmethod
    def _bounded_filters(cls, filters: dict[str, Any] | None) -> dict[str, Any] | None:
        for field, wanted in (filters or {}).items():
            options = wanted if isinstance(wanted, list) else [wanted]
            if len(options) > FILTER_MAX_OPTIONS:
                raise ValueError(f"filter '{field}' lists {len(options)} values; at most {FILTER_MAX_OPTIONS}")
            for option in options:
                if isinstance(option, dict | list):
                    raise ValueError(f"filter '{field}' holds a nested value; filters compare for equality with "
                                     "plain values (a list means any of them): use sqlQuery for other conditions")
                if isinstance(option, str) and _COMPARISON.match(option):
                    raise ValueError(f"filter '{field}' value {option!r} is a comparison, but filters only compare "
                                     f"for equality: use sqlQuery, e.g. SELECT * FROM records WHERE {field} "
                                     f"{option.strip()}")
                if len(str(option)) > FILTER_MAX_VALUE_CHARS:
                    raise ValueError(f"a value of filter '{field}' is longer than {FILTER_MAX_VALUE_CHARS} characters")
        return filters

    @property
    def file_format(self) -> str:
        return CONTENT_TYPES[self.contentType]

    def warnings(self) -> list[JobWarning]:
        """What the request carries that the export will not use."""
        found = []
        if self.sqlQuery and self.filters:
            found.append(option_ignored("filters", "sqlQuery was given, and it selects the rows"))
        if self.sqlQuery and self.template is not None:
            found.append(option_ignored("template", "sqlQuery was given, and its SELECT names the columns"))
        return found


class Export(Tracked):
    exportId: str
    request: ExportRequest
    recordsProcessed: int = 0
    parts: int = 0

    @classmethod
    def begin(cls, *, tenant: str, submitted_by: str, request: ExportRequest, retention_days: int) -> Export:
        submitted = now_ms()
        return cls(tenant=tenant, exportId=new_sortable_id(submitted), submittedBy=submitted_by, request=request,
                   status=Status.ACCEPTED, submitMs=submitted,
                   expiresAt=submitted // 1000 + retention_days * 86_400 * 2)

    @property
    def jobName(self) -> str:
        return self.request.jobName or f"{self.request.itemType} export"

    @property
    def item_id(self) -> str:
        return self.exportId

    @property
    def links_expire_ms(self) -> int:
        return (self.finishMs or now_ms()) + LINK_MS

    def view(self, download: list[str] | None = None) -> ExportView:
        """download: the signed part links, once the export has Completed."""
        completed = self.status == Status.COMPLETED
        return ExportView(
            exportId=self.exportId, jobId=self.exportId, jobName=self.jobName, itemType=self.request.itemType,
            contentType=self.request.contentType, status=self.status, reason=self.reason,
            submitTime=iso_from_ms(self.submitMs), startTime=iso_from_ms(self.startMs),
            finishTime=iso_from_ms(self.finishMs), dateFinished=self.finishMs or 0, finished=self.finished,
            runTime=self.run_time_ms(), recordsProcessed=self.recordsProcessed, parts=self.parts,
            warnings=self.request.warnings(),
            notificationEmail=self.request.notificationEmail,
            links=ExportLinks(self=f"/v1/exports/{self.exportId}", download=download if completed else None),
            expiresAt=iso_from_ms(self.links_expire_ms) if completed else None,
        )


def _absent_if_none(value: Any) -> bool:
    return value is None


class ExportLinks(BaseModel):
    self: str
    download: list[str] | None = Field(default=None, exclude_if=_absent_if_none,
                                       description="signed links valid 7 days after the export finished")


class ExportView(BaseModel):
    """An export as `GET /v1/exports/{exportId}` returns it (`jobId` is the same id, for seed clients)."""

    model_config = ConfigDict(extra="forbid")

    exportId: str
    jobId: str
    jobName: str
    itemType: str
    contentType: str
    status: Status
    reason: str | None
    submitTime: str | None
    startTime: str | None
    finishTime: str | None
    dateFinished: int
    finished: bool
    runTime: int
    recordsProcessed: int
    parts: int
    warnings: list[JobWarning] = Field(default_factory=list,
                                       description="what the request carried but the export did not use")
    notificationEmail: str | None
    links: ExportLinks
    expiresAt: str | None = Field(default=None, exclude_if=_absent_if_none)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
