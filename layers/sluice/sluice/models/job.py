"""An import job: everything it holds (`Job`), how every kind of job starts (`Job.begin`), and what the API,
the console, the seed front doors, events and emails show of it (`Job.view` -> `JobView`).

This module is the one place a job's fields are declared; the job store maps them to and from DynamoDB."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.fields import EmailAddress, TextEncoding
from sluice.models.filespec import FileFacts, FileSpec, ReadingFacts, StagedFile
from sluice.models.ids import new_sortable_id
from sluice.models.schemas import DateFormat, RowError
from sluice.models.warnings import (
    FAILED_ROWS_THRESHOLD,
    OBJECTS_CREATED_TRUNCATED,
    JobWarning,
    stored_warnings,
)

ERRORS_ON_JOB = 20  # row errors shown on the job itself; all of them are paged at /errors
OBJECTS_CREATED_MAX = 1000


class Status(StrEnum):
    INITIALIZED = "Initialized"
    ACCEPTED = "Accepted"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    CANCELING = "Canceling"
    CANCELED = "Canceled"
    FAILED = "Failed"


FINISHED = frozenset({Status.COMPLETED, Status.REJECTED, Status.CANCELED, Status.FAILED})
OPEN = frozenset({Status.INITIALIZED, Status.ACCEPTED, Status.PROCESSING})


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    FAILED = "failed"
    UNPROCESSED = "unprocessed"


class RowCounts(BaseModel):
    """Rows counted by outcome: one chunk's, one file's, or a whole job's (chunk counts add up exactly once)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    unprocessed: int = 0
    dead: int = 0  # of the unprocessed rows, those whose chunk went to the dead-letter queue
    failedExisting: int = 0  # of the failed rows, those whose key matched a stored record (004's failedToUpdate)

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.unchanged + self.deleted + self.failed

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


UnknownColumns = Literal["ignore", "warn", "reject"]


class StrictnessOptions(BaseModel):
    """How strict a job is with what it reads: unknown columns, failed rows, dates (any job, staged ones too)."""

    model_config = ConfigDict(extra="forbid")

    unknownColumns: UnknownColumns = Field(
        default="warn", description="source columns that feed no field: ignore them, list them in warnings "
                                    "(unknown-column), or reject the job naming them")
    maxFailedRows: int | None = Field(default=None, ge=0, le=2**53 - 1,
                                      description="the job stops and ends Failed once more rows than this failed")
    maxFailedPercent: float | None = Field(default=None, ge=0, le=100,
                                           description="the job stops and ends Failed once more than this percent "
                                                       "of its rows failed")
    dateFormat: DateFormat | None = Field(default=None,
                                          description="strftime pattern of the file's date fields (e.g. %d/%m/%Y), "
                                                      "over the item type's own")


class JobOptions(StrictnessOptions):
    """What a client may set on a job, whatever the form it submits. A name this model does not know is
    refused (400 naming it): a misspelt option must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")

    itemType: str
    jobName: str | None = Field(default=None, max_length=200)
    merge: bool = False
    mode: Literal["commit", "dry-run"] = "commit"
    creationPath: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:/-]*$")
    notificationEmail: EmailAddress | None = None
    contentType: str | None = Field(default=None, max_length=200)
    fileName: str | None = Field(default=None, max_length=255)
    sheet: str | None = Field(default=None, max_length=100, description="workbooks: sheet name or 0-based index")
    headerRow: int = Field(default=1, ge=1, le=1000, description="1-based row holding the column headers")
    delimiter: str | None = Field(default=None, max_length=10, description="CSV: , ; tab | (detected if absent)")
    encoding: TextEncoding | None = Field(default=None, description="text encoding (detected if absent)")
    columns: dict[str, str] | None = Field(default=None, max_length=1000,
                                           description="source header -> field, for this job (over the item type's "
                                                       "own columns); in forms and query strings as JSON text")
    mapping: str | None = Field(default=None, max_length=64,
                                description="a saved mapping of the item type (its columns; `columns` win over it)")
    retryOf: str | None = Field(default=None, pattern="^[0-9A-Z]{26}$",
                                description="the job whose failed rows these are (corrected rows carry sluice_row)")
    operation: Literal["import", "delete"] = Field(
        default="import", description="delete: the rows name records to delete (only the key columns are read)")
    revertible: bool = Field(default=True, description="keep each chunk's before-images (one S3 object a chunk) so "
                                                       "that POST /v1/jobs/{jobId}/revert can undo the job")
    dedupe: Literal["content"] | None = Field(
        default=None, description="item types without a key: content = a hash of the row's values is its key, so "
                                  "importing the same rows again creates nothing new")

    @field_validator("columns", mode="before")
    @classmethod
    def _columns_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("columns must be a JSON object of source header -> field") from None
        return value


class UploadForm(BaseModel):
    """A presigned POST bound to one object key; S3 itself refuses bodies above maxBytes."""

    url: str
    fields: dict[str, str]
    maxBytes: int


class UploadLink(BaseModel):
    uploadUrl: str
    uploadForm: UploadForm
    uploadExpiresAt: str


class MultipartUpload(BaseModel):
    """An S3 multipart upload opened for a job's file (form 3 with `"parts": N`). The job keeps only the upload's
    id and its number of parts: the part links are presigned each time the job is shown (fresh for another
    UPLOAD_URL_SECONDS), so an upload taking hours asks for new links instead of outliving them."""

    uploadId: str
    parts: int


class UploadPart(BaseModel):
    partNumber: int
    url: str = Field(description="a presigned S3 UploadPart: PUT the part's bytes; keep the ETag header S3 answers")


class MultipartLinks(BaseModel):
    """How a client uploads a file in parts: PUT each part to its URL, then POST the parts' ETags to
    uploadComplete."""

    uploadParts: list[UploadPart]
    uploadComplete: str = Field(description="POST {\"parts\": [{\"partNumber\", \"etag\"}...]} here once every "
                                            "part is uploaded")
    uploadExpiresAt: str = Field(description="when these part URLs expire; GET the job for fresh ones")
    uploadOpenUntil: str = Field(description="when the job stops waiting: the upload is aborted, the job Canceled")


class Tracked(BaseModel):
    """What jobs and exports share: whose they are and where they are in their life cycle."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    submittedBy: str
    creationPath: str = "API"
    status: Status
    reason: str | None = None
    submitMs: int
    startMs: int | None = None
    finishMs: int | None = None
    runTimeMs: int | None = None
    expiresAt: int  # epoch seconds: DynamoDB's TTL removes the item after this

    @property
    def item_id(self) -> str:
        raise NotImplementedError

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def run_time_ms(self) -> int:
        if self.runTimeMs is not None:
            return self.runTimeMs
        return max(0, now_ms() - self.startMs) if self.startMs else 0


class Job(Tracked):
    """An import job as stored: what was asked, how far it got, and what reading its files found."""

    # what
    jobId: str
    jobName: str | None = None
    itemType: str | None = None
    itemTypes: list[str] = Field(default_factory=list)
    mode: Literal["commit", "dry-run"] = "commit"
    merge: bool = False
    notificationEmail: str | None = None
    successEmailTo: str | None = None  # 000's sendSuccessEmailTo: mailed when the job completes with no failed row
    failureEmailTo: str | None = None  # 000's sendFailureEmailTo: mailed when a row failed or the job did not complete
    contentType: str | None = None
    fileName: str | None = None
    sheet: str | None = None
    headerRow: int = 1
    delimiter: str | None = None
    encoding: str | None = None
    fileSpecs: list[FileSpec] = Field(default_factory=list)
    unknownColumns: UnknownColumns = "warn"
    maxFailedRows: int | None = None
    maxFailedPercent: float | None = None
    dateFormat: str | None = None
    requestWarnings: list[JobWarning] = Field(default_factory=list)  # what the request itself carried unused
    # where it came from
    retryOf: str | None = None
    retries: list[str] = Field(default_factory=list)  # jobs that retried this one's failed rows
    commitOf: str | None = None
    # what the job does to records: import rows, delete the records its rows name, delete every record of its
    # item type and then the item type (purge), or undo an earlier job (revert, revertOf)
    operation: Literal["import", "delete", "purge", "revert"] = "import"
    revertible: bool = True
    dedupe: Literal["content"] | None = None
    revertOf: str | None = None
    revertedBy: str | None = None
    staged: bool = False
    control: str | None = None
    comment: str | None = None
    stagedFiles: list[StagedFile] = Field(default_factory=list)
    openUntilMs: int | None = None
    upload: UploadLink | None = None
    multipartUpload: MultipartUpload | None = None
    # progress of the work
    lastProgressMs: int | None = None
    redriveRequested: bool = False
    redrives: int = 0
    # what ingest found (total is None until every file has been read)
    total: int | None = None
    chunkCount: int | None = None
    chunksSent: int = 0
    files: list[FileFacts] = Field(default_factory=list)
    sourceHeader: list[str] = Field(default_factory=list)
    ignoredColumns: list[str] = Field(default_factory=list)
    blankRows: int = 0
    warnings: list[JobWarning] = Field(default_factory=list)
    format: str | None = None
    sheetNames: list[str] | None = None
    # reading in slices: the slice chain now running (0: the first reading; a re-drive starts another) and the
    # next slice it expects; the slice size, fixed when reading starts so that every re-read cuts the same chunks
    ingestRun: int = 0
    ingestSlice: int = 0
    ingestSliceBytes: int | None = None
    # progress, added once per chunk (which chunks are counted: the ledger's DONE# markers)
    counts: RowCounts = Field(default_factory=RowCounts)
    fileCounts: dict[int, RowCounts] = Field(default_factory=dict)
    thresholdCrossed: str | None = None  # which error threshold stopped the job (it is Canceling, then Failed)
    # writing the result files of a job too big for one invocation (pipeline/results.py): the step the chain
    # expects next, the chunks read so far, and the token of the claim or step that last moved it
    resultStep: int | None = None
    resultChunk: int = 0
    resultClaim: str | None = None

    @field_validator("warnings", "requestWarnings", mode="before")
    @classmethod
    def _stored_warnings(cls, value: Any) -> Any:
        return stored_warnings(value)

    @classmethod
    def begin(cls, *, tenant: str, submitted_by: str, status: Status, creation_path: str, file_specs: list[FileSpec],
              retention_days: int, submitted_ms: int | None = None, **fields: Any) -> Job:
        """A new job, however it starts (a request, a staged batch, a drop, a schedule, a retry or a commit)."""
        submitted = now_ms() if submitted_ms is None else submitted_ms
        return cls(tenant=tenant, jobId=new_sortable_id(submitted), submittedBy=submitted_by, status=status,
                   creationPath=creation_path, fileSpecs=file_specs, submitMs=submitted,
                   # unfinished jobs expire too, well after any sweep would have ended them
                   expiresAt=submitted // 1000 + retention_days * 86_400 * 2, **fields)

    @property
    def item_id(self) -> str:
        return self.jobId

    @property
    def settled(self) -> bool:
        """Every row read has been processed or skipped, and the whole input has been read."""
        return self.total is not None and self.counts.processed + self.counts.unprocessed >= self.total

    def spec(self, index: int) -> FileSpec:
        return self.fileSpecs[index]

    def view(self, errors: list[RowError] | None = None, objects_created: list[str] | None = None,
             base_url: str = "", *, upload: bool = False, multipart: MultipartLinks | None = None) -> JobView:
        """The job as the API (and everything that renders jobs) shows it. upload: include the job's upload
        link while it waits for its file (only for the submitter's answer, or a key that may write); multipart:
        the part links of its multipart upload, presigned by the caller."""
        self_link = f"{base_url}/v1/jobs/{self.jobId}"
        listed = self.files or self.stagedFiles
        return JobView(
            jobId=self.jobId, jobName=self.jobName, itemType=self.itemType, status=self.status, reason=self.reason,
            creationPath=self.creationPath, mode=self.mode, merge=self.merge, contentType=self.contentType,
            submitTime=iso_from_ms(self.submitMs), startTime=iso_from_ms(self.startMs),
            finishTime=iso_from_ms(self.finishMs), dateFinished=self.finishMs or 0, runTime=self.run_time_ms(),
            finished=self.finished, notificationEmail=self.notificationEmail,
            files=[self._file_view(i, f) for i, f in enumerate(listed)],
            counts=CountsView.of(self.total, self.counts), recordsProcessed=self.counts.processed,
            errors=errors or [], objectsCreated=objects_created or [], ignoredColumns=self.ignoredColumns,
            format=self.format, encoding=self.encoding, delimiter=self.delimiter, sheet=self.sheet,
            headerRow=self.headerRow, warnings=self.all_warnings(), retryOf=self.retryOf, retries=self.retries,
            staged=self.staged, unknownColumns=self.unknownColumns, maxFailedRows=self.maxFailedRows,
            maxFailedPercent=self.maxFailedPercent, dateFormat=self.dateFormat,
            operation=self.operation, revertible=self.revertible, dedupe=self.dedupe, revertOf=self.revertOf,
            revertedBy=self.revertedBy,
            control=self.control, comment=self.comment,
            itemTypes=self.itemTypes or ([self.itemType] if self.itemType else []), commitOf=self.commitOf,
            links=JobLinks(self=self_link, errors=f"{self_link}/errors", results=f"{self_link}/results/{{kind}}"),
            **(self.upload.model_dump() if upload and self.upload and self.status == Status.INITIALIZED else {}),
            **(multipart.model_dump() if multipart is not None and self.status == Status.INITIALIZED else {}),
            resultFiles=ResultFilesProgress(chunksRead=self.resultChunk, chunks=self.chunkCount or 0)
            if self.resultStep is not None and not self.finished else None,
        )

    def all_warnings(self) -> list[JobWarning]:
        """The request's warnings, then what reading the files found, then what the counts tell."""
        found = [*self.requestWarnings, *self.warnings]
        if self.mode == "commit" and self.counts.created > OBJECTS_CREATED_MAX:
            found.append(JobWarning(code=OBJECTS_CREATED_TRUNCATED,
                                    message=f"objectsCreated lists the first {OBJECTS_CREATED_MAX} of the "
                                            f"{self.counts.created} keys created; the succeeded result file "
                                            "lists every row"))
        crossed = self.threshold_crossed()
        if crossed and self.mode == "dry-run":
            found.append(JobWarning(code=FAILED_ROWS_THRESHOLD,
                                    message=f"{crossed}: a commit of these rows would stop and end Failed"))
        return found

    def threshold_crossed(self) -> str | None:
        """Which of maxFailedRows / maxFailedPercent the failed rows so far are past, if any. The percentage is
        of the job's total rows, so it is judged once the whole input has been read."""
        failed = self.counts.failed
        if self.maxFailedRows is not None and failed > self.maxFailedRows:
            return f"more than maxFailedRows={self.maxFailedRows} rows failed"
        if self.maxFailedPercent is not None and self.total and failed * 100 > self.maxFailedPercent * self.total:
            return (f"more than maxFailedPercent={self.maxFailedPercent:g}% of the {self.total} rows failed "
                    f"({failed * 100 / self.total:.4g}%)")
        return None

    def _file_view(self, index: int, file: FileFacts | StagedFile) -> FileView:
        if isinstance(file, StagedFile):
            return FileView(**file.model_dump())
        counts = CountsView.of(file.rows, self.fileCounts.get(index, RowCounts()))
        return FileView(name=file.name, itemType=file.itemType, digest=file.digest, size=file.size, rows=file.rows,
                        format=file.format, compression=file.compression, encoding=file.encoding,
                        delimiter=file.delimiter, sheet=file.sheet,
                        ignoredColumns=file.ignoredColumns, warnings=file.warnings, counts=counts,
                        slices=file.slices, dateFormats=file.dateFormats or None)


def _absent_if_none(value: Any) -> bool:
    return value is None


class CountsView(BaseModel):
    """`processed = created + updated + unchanged + deleted + failed`; `processed + unprocessed = total` once
    finished."""

    total: int | None
    processed: int
    created: int
    updated: int
    unchanged: int
    deleted: int = 0
    failed: int
    unprocessed: int

    @classmethod
    def of(cls, total: int | None, counts: RowCounts) -> CountsView:
        return cls(total=total, processed=counts.processed, created=counts.created, updated=counts.updated,
                   unchanged=counts.unchanged, deleted=counts.deleted, failed=counts.failed,
                   unprocessed=counts.unprocessed)


class FileView(ReadingFacts):
    """One file of a job: declared (staged jobs, before scheduling) or read (with its own counts)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    itemType: str
    uploaded: bool | None = Field(default=None, exclude_if=_absent_if_none)
    digest: str | None = Field(default=None, exclude_if=_absent_if_none)
    size: int | None = Field(default=None, exclude_if=_absent_if_none)
    rows: int | None = Field(default=None, exclude_if=_absent_if_none)
    format: str | None = Field(default=None, exclude_if=_absent_if_none)
    compression: str | None = Field(default=None, exclude_if=_absent_if_none)
    encoding: str | None = Field(default=None, exclude_if=_absent_if_none)
    delimiter: str | None = Field(default=None, exclude_if=_absent_if_none)
    sheet: str | None = Field(default=None, exclude_if=_absent_if_none)
    sheetNames: list[str] | None = Field(default=None, exclude=True)
    ignoredColumns: list[str] | None = Field(default=None, exclude_if=_absent_if_none)
    warnings: list[JobWarning] | None = Field(default=None, exclude_if=_absent_if_none)
    dateFormats: dict[str, str] | None = Field(default=None, exclude_if=_absent_if_none,
                                               description="date fields read with a pattern the request gave or the "
                                                           "file's own values showed (03/04/2024 day- or month-first)")
    counts: CountsView | None = Field(default=None, exclude_if=_absent_if_none)
    slices: int | None = Field(default=None, exclude_if=_absent_if_none,
                               description="how many ingest invocations read this file (IngestSliceBytes each)")


class ResultFilesProgress(BaseModel):
    """A big job's result files being written, after its last row was processed (the job is still Processing)."""

    chunksRead: int = Field(description="chunks whose rows are in the result files so far")
    chunks: int


class JobLinks(BaseModel):
    self: str
    errors: str
    results: str = Field(description="replace {kind} with succeeded, failed or unprocessed")


class JobView(BaseModel):
    """A job as `GET /v1/jobs/{jobId}` returns it. `errors` holds the first 20 row errors and `objectsCreated`
    at most 1,000 keys (both empty in listings); `uploadUrl`, `uploadForm` and `uploadExpiresAt` (or, for a
    multipart upload, `uploadParts`, `uploadComplete`, `uploadExpiresAt` and `uploadOpenUntil`) are present only
    while the job waits for its upload."""

    model_config = ConfigDict(extra="ignore")  # a client reading a newer API's answer ignores what it adds

    jobId: str
    jobName: str | None
    itemType: str | None
    status: Status
    reason: str | None
    creationPath: str
    mode: Literal["commit", "dry-run"]
    merge: bool
    contentType: str | None
    submitTime: str | None
    startTime: str | None
    finishTime: str | None
    dateFinished: int = Field(description="epoch milliseconds; 0 until finished")
    runTime: int = Field(description="milliseconds from start to finish (or to now)")
    finished: bool
    notificationEmail: str | None
    files: list[FileView]
    counts: CountsView
    recordsProcessed: int
    errors: list[RowError]
    objectsCreated: list[str]
    ignoredColumns: list[str]
    format: str | None
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    headerRow: int
    warnings: list[JobWarning] = Field(description="what was accepted but not used, or read in a way worth "
                                                   "knowing: [{code, message, ...}]")
    unknownColumns: UnknownColumns = "warn"
    maxFailedRows: int | None = Field(default=None, exclude_if=_absent_if_none)
    maxFailedPercent: float | None = Field(default=None, exclude_if=_absent_if_none)
    dateFormat: str | None = Field(default=None, exclude_if=_absent_if_none)
    retryOf: str | None
    operation: Literal["import", "delete", "purge", "revert"] = "import"
    revertible: bool = True
    dedupe: Literal["content"] | None = None
    revertOf: str | None = Field(default=None, description="a revert job: the job it undoes")
    revertedBy: str | None = Field(default=None, description="the revert job that undoes this job")
    retries: list[str] = Field(default_factory=list, description="jobs that retried this one's failed rows")
    staged: bool
    control: str | None
    comment: str | None
    itemTypes: list[str]
    commitOf: str | None
    links: JobLinks
    uploadUrl: str | None = Field(default=None, exclude_if=_absent_if_none)
    uploadForm: UploadForm | None = Field(default=None, exclude_if=_absent_if_none)
    uploadExpiresAt: str | None = Field(default=None, exclude_if=_absent_if_none)
    uploadParts: list[UploadPart] | None = Field(default=None, exclude_if=_absent_if_none)
    uploadComplete: str | None = Field(default=None, exclude_if=_absent_if_none)
    uploadOpenUntil: str | None = Field(default=None, exclude_if=_absent_if_none)
    resultFiles: ResultFilesProgress | None = Field(
        default=None, exclude_if=_absent_if_none,
        description="only while the result files of a job of more than ResultStepChunks chunks are being written, "
                    "after every row was processed: how far that got (the job finishes when they are whole)")

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
