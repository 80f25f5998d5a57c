"""Ingest: read a job's files in order, check them, and enqueue their rows as chunks, in slices.

One invocation reads at most the job's slice size (`IngestSliceBytes`) of text, ending at the end of a record,
then stores where it stopped (models/slices.py) and hands the rest to a continuation message on the
IngestQueue. The job item names the slice it expects next (`ingestRun`, `ingestSlice`): a continuation that is
not the expected one (a duplicate, or one of a superseded run) is dropped, and a slice delivered twice starts
from the same stored state, so the chunks (their numbers and rows) are the same on every delivery. A job of
several files checks every file (decoding, header, columns) before the first chunk is sent: a Rejected job has
applied nothing. A re-drive starts a new run from the first slice and sends the chunks not counted yet."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

from sluice.intake.columns import HeaderMatcher, map_columns
from sluice.intake.dates import DateOrders, date_orders
from sluice.intake.firstpass import FIRST_PASS_SLICE_FACTOR
from sluice.intake.sources import (
    WORKBOOK_FORMATS,
    OpenedSource,
    Upload,
    inspect_upload,
    open_upload,
    pass_over,
    resume_upload,
)
from sluice.models.chunk import ChunkMessage, ChunkRow
from sluice.models.clock import now_ms
from sluice.models.errors import RejectedInput
from sluice.models.filespec import FileFacts, FileSpec, first_seen_encode
from sluice.models.job import Job, Status
from sluice.models.schemas import ItemTypeDefinition, RowValidator
from sluice.models.slices import (
    ByteScan,
    DateReadAhead,
    FileCheck,
    FileProgress,
    ScannedText,
    SliceMessage,
    SliceState,
    TextPosition,
)
from sluice.models.warnings import MAX_WARNINGS, JobWarning, unknown_column
from sluice.notify.announcer import announced_jobs
from sluice.pipeline import keyed
from sluice.pipeline.chunking import ChunkBuilder, split_to_fit
from sluice.pipeline.dedupe import KeyRegistry
from sluice.pipeline.finalize import settle
from sluice.pipeline.results import OUTCOME_COLUMNS
from sluice.store.blobs import Storage, parse_upload_key
from sluice.store.clients import Clients
from sluice.store.jobs import JobStore
from sluice.store.keys import KeyStore
from sluice.store.queue import MESSAGE_MAX_BYTES, SEND_BATCH_MAX, MessageSender
from sluice.store.slices import SliceStore

logger = Logger(child=True)

AHEAD_PAUSES_SECONDS = (0.05, 0.2, 0.5, 1.0)  # waiting for the job to move on to a slice sent just before


class SliceAhead(RuntimeError):
    """A continuation delivered before its job moved on to it: raised so that the queue delivers it again."""


FILE_CHANGED = ("the uploaded file was replaced while it was being read; nothing more of it is read (rows sent before "
                "are counted): submit the new file as a new job")


def _may_need_read_ahead(scanned: ScannedText, upload: Upload, spec: FileSpec) -> bool:
    """Whether a text file's rows may have to be read ahead (_Prepared.needs_scan says for sure once its header is
    read): it may hold numeric dates, or it is JSON Lines refusing unknown keys."""
    return scanned.numericDates or (upload.file_format == "jsonl" and spec.unknownColumns == "reject")


def ingest_upload(clients: Clients, key: str) -> str:
    """Handles one object under uploads/{tenant}/{jobId}/; returns what happened, for logs and tests."""
    ids = parse_upload_key(key)
    if ids is None:
        logger.warning("ignoring object outside the upload layout", extra={"key": key})
        return "ignored"
    tenant, job_id = ids
    store = announced_jobs(clients)
    job = store.get(tenant, job_id)
    if job is None:
        logger.warning("upload for an unknown job", extra={"key": key})
        return "no-job"
    if job.finished:
        return "finished"
    if job.staged and job.status == Status.INITIALIZED:
        return "not-scheduled"  # a staged file's presigned upload; the job starts when scheduled
    if job.status == Status.CANCELING and job.total is None and job.ingestSlice == 0:
        store.update(tenant, job_id, {"total": 0, "chunkCount": 0}, allowed_from={Status.CANCELING})
        return settle_latest(clients, store, tenant, job_id)
    redrive = job.redriveRequested
    if job.total is not None and not redrive:
        return settle_latest(clients, store, tenant, job_id)
    if job.ingestSlice > 0 and not redrive:
        return "reading-in-slices"  # this upload's event again: the slice chain reads the file on
    slice_bytes = job.ingestSliceBytes or clients.settings.ingest_slice_bytes
    if redrive:  # the sweeper asks for the chunks not done yet to be sent again: a new run of slices
        started = store.update(tenant, job_id, {"redriveRequested": False, "lastProgressMs": now_ms(),
                                                "ingestRun": job.ingestRun + 1, "ingestSlice": 0,
                                                "ingestSliceBytes": slice_bytes},
                               allowed_from={Status.PROCESSING, Status.CANCELING})
    else:
        started = store.update(tenant, job_id, {"status": Status.PROCESSING, "startMs": job.startMs or now_ms(),
                                                "ingestSliceBytes": slice_bytes},
                               allowed_from={Status.INITIALIZED, Status.ACCEPTED, Status.PROCESSING})
    if started is None:
        return "state-changed"
    if (started.upload or started.staged) and KeyStore(clients).is_revoked(tenant, started.submittedBy):
        store.finish(started, Status.REJECTED, f"the key that created this job ({started.submittedBy}) was revoked "
                     "before its data was read; submit again with a valid key", {Status.PROCESSING})
        return "rejected"
    checks = _checks_before(clients, job) if redrive else []
    return _read_slice(clients, store, started, SliceState(run=started.ingestRun, slice=0, chunk=0, redrive=redrive,
                                                           checks=checks))


def _checks_before(clients: Clients, job: Job) -> list[FileCheck]:
    """A re-drive of a run stopped before it sent a row goes on with the checks that run got through (the first
    pass of a big file takes hours); each names the object it read by ETag, and another object under its key
    rejects the job as on any slice. Once rows were sent the re-drive reads the file again from its start, checks
    included, so that its slices end where the stopped run's did and cut the same chunks (it sends the ones not
    counted)."""
    stopped = SliceStore(clients).load(job.tenant, job.jobId, job.ingestRun, job.ingestSlice)
    if stopped is None or stopped.chunk > 0 or stopped.files or stopped.current is not None:
        return []
    return stopped.checks


def ingest_slice(clients: Clients, message: SliceMessage) -> str:
    """Handles a continuation: reads the next slice of a job's files if it is the one the job expects."""
    store = announced_jobs(clients)
    job = store.get(message.tenant, message.jobId)
    if job is not None and not job.finished and (job.ingestRun, job.ingestSlice + 1) == (message.run, message.slice):
        job = _moved_on(store, message)
    if job is None:
        return "no-job"
    if job.finished:
        return "finished"
    if (job.ingestRun, job.ingestSlice) != (message.run, message.slice):
        return "stale-slice"  # delivered again after it was read, or a run a re-drive superseded
    state = SliceStore(clients).load(message.tenant, message.jobId, message.run, message.slice)
    if state is None:
        return "stale-slice"
    if job.status == Status.CANCELING and not (state.redrive and state.chunk < _sent_before_redrive(store, job)):
        if job.total is None:  # canceled between slices: the job's rows are the ones sent so far
            store.update(job.tenant, job.jobId, _summary(state.files + _partial(job, state), state.chunk),
                         allowed_from={Status.CANCELING})
        return settle_latest(clients, store, job.tenant, job.jobId)
    if job.status not in (Status.PROCESSING, Status.CANCELING):
        return f"skipped-{job.status.value}"
    return _read_slice(clients, store, job, state)


def _moved_on(store: JobStore, message: SliceMessage) -> Job | None:
    """A continuation is sent just before its job is moved on to it (so that a crash between the two re-reads the
    slice before, which sends it again): one delivered in between waits for the move, or is retried later."""
    for pause in AHEAD_PAUSES_SECONDS:
        time.sleep(pause)
        job = store.get(message.tenant, message.jobId)
        if job is None or job.finished or (job.ingestRun, job.ingestSlice + 1) != (message.run, message.slice):
            return job  # moved on, or never will: a finished job is not moved on
    raise SliceAhead(f"slice {message.slice} arrived before its job moved on to it; it is retried")


def _sent_before_redrive(store: JobStore, job: Job) -> int:
    """The chunks a re-driven job had sent before its chain stopped: a canceled job's re-drive reads on to there
    (re-sending what was not counted), so that its total holds every row it sent, and no further."""
    done = store.done_chunks(job.jobId, job.chunksSent)
    return max(job.chunksSent, max(done) + 1 if done else 0)


def _partial(job: Job, state: SliceState) -> list[FileFacts]:
    """The file a canceled job was in the middle of, as far as it was read."""
    current = state.current
    if current is None:
        return []
    position = current.position
    spec = job.spec(current.index)
    return [FileFacts(name=spec.name, itemType=spec.itemType, digest=current.digest, size=current.size,
                      rows=current.rowsSent,
                      firstChunk=current.firstChunk, chunkCount=state.chunk - current.firstChunk,
                      slices=current.slices, header=position.header, blankRows=position.blankRows,
                      warnings=current.warnings, **current.facts)]


def _read_slice(clients: Clients, store: JobStore, job: Job, state: SliceState) -> str:
    try:
        enqueuer = Enqueuer(clients, store, job, state)
        if job.operation in keyed.KEYED_OPERATIONS:  # purges and reverts read keys, in one slice
            summary: dict[str, Any] | None = enqueuer.run_keyed(keyed.key_groups(clients, job))
        else:
            summary = enqueuer.run()
            if summary is not None:
                summary["warnings"] = summary.get("warnings", []) + keyed.keyless_warnings(clients, job, summary)
    except (RejectedInput, UnicodeDecodeError) as rejected:
        # the first pass decoded every byte: one that does not decode now was written after it
        reason = rejected.reason if isinstance(rejected, RejectedInput) else FILE_CHANGED
        logger.info("job rejected", extra={"reason": reason})
        store.finish(job, Status.REJECTED, reason, {Status.PROCESSING, Status.CANCELING})
        return "rejected"
    if summary is None:
        return "continued"
    if job.total is None:
        store.update(job.tenant, job.jobId, summary, allowed_from={Status.PROCESSING, Status.CANCELING})
    return settle_latest(clients, store, job.tenant, job.jobId)


def _summary(files: list[FileFacts], chunks: int) -> dict[str, Any]:
    """What the job learns from reading its files (its update once the last slice is read)."""
    total = sum(f.rows for f in files)
    summary: dict[str, Any] = {"total": total, "chunkCount": chunks, "chunksSent": chunks, "files": files}
    if files:  # a single file's reading facts also show on the job itself
        first = files[0]
        every_warning = [w for f in files for w in f.warnings][:MAX_WARNINGS]
        summary.update(sourceHeader=first.header, ignoredColumns=first.ignoredColumns,
                       blankRows=first.blankRows, warnings=every_warning)
        if len(files) == 1:
            summary.update(first.model_dump(include={"format", "encoding", "delimiter", "sheet", "sheetNames"},
                                            exclude_none=True))
    return summary


def settle_latest(clients: Clients, store: JobStore, tenant: str, job_id: str) -> str:
    job = store.get(tenant, job_id)
    return settle(clients, job).status.value if job else "no-job"


class _Prepared:
    """One file, opened and matched to its item type's fields."""

    def __init__(self, spec: FileSpec, opened: OpenedSource, file_label: str | None = None,
                 bookkeeping: frozenset[str] = frozenset()) -> None:
        self.spec = spec
        self.bookkeeping = bookkeeping  # a retry's sluice_* columns: read, never reported as unknown
        self.opened = opened
        self.file_label = file_label  # the file's name in warnings, in jobs of several files
        self.definition = ItemTypeDefinition.model_validate_json(spec.schema_snapshot().definition)
        self.matcher = HeaderMatcher(self.definition, spec.columns)
        self.validator = RowValidator(self.definition)
        self.fields: list[str | None] = []
        self.ignored: list[str] = []
        # date fields read with one pattern: the request's dateFormat, or the order ingest found in the file
        self.date_formats: dict[str, str] = dict(spec.learntDateFormats)
        if spec.dateFormat:
            self.date_formats = {name: spec.dateFormat for name, field in self.definition.fields.items()
                                 if field.type == "date"}
        header = opened.source.header
        if opened.file_format == "jsonl":  # JSON Lines discovers its keys row by row (a later slice: known ones)
            self.discover_columns()
        elif header:
            column_map = map_columns(header, self.definition, self.matcher)
            by_position = {position: name for name, position in column_map.field_index.items()}
            self.fields = [by_position.get(i) for i in range(len(header))]
            self.ignored = column_map.ignored
            self.refuse_unknown(self.ignored)

    def unknown(self, ignored: list[str]) -> list[str]:
        return [c for c in ignored if c not in self.bookkeeping]

    @property
    def is_jsonl(self) -> bool:
        return self.opened.file_format == "jsonl"

    def date_field(self, header: str) -> str | None:
        """The date field a column feeds whose order must come from the file's values (no dateFormat given)."""
        name = self.matcher.field_for(header)
        spec = self.definition.fields.get(name) if name else None
        if spec is None or spec.type != "date" or spec.dateFormat or self.spec.dateFormat:
            return None
        return None if name in self.spec.learntDateFormats else name

    def needs_scan(self) -> bool:
        """Must the rows be read once before any is sent? Yes for a date column without a dateFormat (its order
        comes from all its values), and for JSON Lines refusing unknown keys (they show up row by row)."""
        if self.is_jsonl:
            dates = self.opened.numeric_dates and not self.spec.dateFormat and any(
                f.type == "date" and not f.dateFormat for f in self.definition.fields.values())
            return dates or self.spec.unknownColumns == "reject"
        return self.opened.numeric_dates and any(self.date_field(column) for column in self.opened.source.header)

    def scan(self, opened: OpenedSource) -> None:
        """Reads a workbook's rows once (a second opening of it) for its date columns' order. Text files are read
        ahead in slices instead (Enqueuer._read_ahead)."""
        header = opened.source.header
        rows = ((header, row.values) for row in opened.source.rows if row.error is None)
        self.date_formats.update(date_orders(rows, self.date_field))

    def refuse_unknown_keys(self, header: list[str]) -> None:
        """JSON Lines read ahead to its end: every key it holds is known now."""
        if self.is_jsonl:
            self.refuse_unknown([h for h in header if self.matcher.field_for(h) is None])

    def refuse_unknown(self, ignored: list[str]) -> None:
        ignored = self.unknown(ignored)
        if ignored and self.spec.unknownColumns == "reject":
            shown = ", ".join(f"'{c}'" for c in ignored[:20]) + (", ..." if len(ignored) > 20 else "")
            raise RejectedInput(f"unknownColumns is reject and {len(ignored)} column(s) match no field: {shown}; "
                                f"known: {', '.join(self.definition.fields)}")

    def discover_columns(self) -> None:
        """JSON Lines: keys that appeared with the last row become columns (mapped to a field, or ignored)."""
        header = self.opened.source.header
        for column in header[len(self.fields):]:
            target = self.matcher.field_for(column)
            self.fields.append(target)
            if target is None:
                self.ignored.append(column)

    def warnings(self, progress: FileProgress) -> list[JobWarning]:
        """What the first pass and the parse found, then the columns that feed no field."""
        found = [w if w.file or not self.file_label else w.model_copy(update={"file": self.file_label})
                 for w in (*progress.warnings, *self.opened.reading_warnings())]
        if self.spec.unknownColumns == "warn":
            names = list(self.definition.fields)
            found += [unknown_column(c, names, self.file_label) for c in self.unknown(self.ignored)]
        return found[:MAX_WARNINGS]

    def facts(self, progress: FileProgress, chunk_count: int) -> FileFacts:
        opened = self.opened
        return FileFacts(
            name=self.spec.name, itemType=self.spec.itemType, digest=progress.digest, size=progress.size,
            rows=progress.rowsSent, firstChunk=progress.firstChunk, chunkCount=chunk_count, slices=progress.slices,
            header=list(opened.source.header), ignoredColumns=self.ignored, blankRows=opened.source.blank_rows[0],
            warnings=self.warnings(progress), dateFormats=progress.dateFormats, **progress.facts,
        )


class Enqueuer:
    """Reads one slice of a job's files (from `state` on, at most the job's slice size of text) into chunks."""

    def __init__(self, clients: Clients, store: JobStore, job: Job, state: SliceState) -> None:
        self.clients = clients
        self.store = store
        self.job = job
        self.state = state
        self.storage = Storage(clients)
        self.sender = MessageSender(clients.sqs, self._lane(), group=job.tenant)
        # A re-run after a crash skips what it already sent; a re-drive sends every chunk not yet done.
        self.redrive = state.redrive
        self.already_sent = 0 if self.redrive else job.chunksSent
        self.done = store.done_chunks(job.jobId, state.chunk) if self.redrive else set()
        # a canceled job's re-drive stops where the stopped chain had got to (no new rows for a canceled job)
        self.stop_at = _sent_before_redrive(store, job) if self.redrive and job.status == Status.CANCELING else None
        self.budget = job.ingestSliceBytes or clients.settings.ingest_slice_bytes
        self.read = 0  # bytes of text read by this slice (rows, and rows read ahead)
        self.passed = 0  # bytes the first pass read in this slice
        self.chunk = state.chunk
        self.canceled = False
        self.used_registry = state.registry
        self.checks = list(state.checks)
        self.uploads: dict[int, Upload] = {}  # file index -> its object as inspected in this invocation

    def _lane(self) -> str:
        """Small jobs' chunks take their own queue, so that they never wait behind a large job's backlog."""
        settings = self.clients.settings
        if self.job.operation in keyed.KEYED_OPERATIONS:
            return settings.chunk_queue_url
        if not settings.quick_chunk_queue_url or not settings.quick_job_bytes:
            return settings.chunk_queue_url
        size = sum(self.storage.size(spec.objectKey) for spec in self.job.fileSpecs)
        return settings.quick_chunk_queue_url if size <= settings.quick_job_bytes else settings.chunk_queue_url

    def _open(self, stack: ExitStack, index: int, progress: FileProgress | None = None) -> _Prepared:
        spec = self.job.fileSpecs[index]
        check = self.checks[index] if index < len(self.checks) else None
        with self._named(spec):
            if progress is None:
                scanned = check.scanned if check is not None else None
                upload = self._inspect(index, check)
                opened = stack.enter_context(open_upload(self.storage, spec, scanned, upload))
            else:  # a later slice needs no inspection of the file, only to know it is the same object
                if check is not None:
                    self._same_object(check, self.storage.head(spec.objectKey)[1])
                opened = stack.enter_context(resume_upload(self.storage, spec, progress.position, progress.digest,
                                                           progress.size, progress.facts))
            prepared = self._prepared(spec, opened)
            if progress is not None:  # a later slice: the date orders were settled before the first row was sent
                prepared.date_formats = dict(progress.dateFormats)
            elif check is not None and check.dateFormats is not None:
                prepared.date_formats = dict(check.dateFormats)
            elif prepared.needs_scan():  # a workbook (a job's only file): read ahead here, in one invocation
                with open_upload(self.storage, spec) as again:
                    prepared.scan(again)
            return prepared

    def _prepared(self, spec: FileSpec, opened: OpenedSource) -> _Prepared:
        label = spec.name if self.job.staged else None
        bookkeeping = frozenset(OUTCOME_COLUMNS) if self.job.retryOf else frozenset()
        return _Prepared(spec, opened, label, bookkeeping)

    @contextlib.contextmanager
    def _named(self, spec: FileSpec) -> Iterator[None]:
        """In a job of several files, a rejection names the file."""
        try:
            yield
        except RejectedInput as rejected:
            if not self.job.staged:
                raise
            raise RejectedInput(f"{spec.name}: {rejected.reason}") from None

    def _check_files(self) -> bool:
        """Reads every file ahead before the job's first row is sent (so a Rejected job has applied nothing): the
        first pass over its bytes, its header, and its rows when its date columns' order must come from them.
        Each may take several slices. False: this slice is full (its continuation sent)."""
        specs = self.job.fileSpecs
        if self.state.slice > 0 and not self.checks:  # a state stored before files were checked in slices
            return True
        while len(self.checks) < len(specs) or not self.checks[-1].done:
            if not self.checks or self.checks[-1].done:
                self.checks.append(FileCheck())
            index = len(self.checks) - 1
            with self._named(specs[index]):
                self._check(index, self.checks[index])
            if not self.checks[index].done:
                self._hand_on(files=[], progress=None, next_file=0, registry=None)
                return False
        return True

    def _check(self, index: int, check: FileCheck) -> None:
        """Carries one file's check on as far as this slice's budgets go: the first pass, then its header and, if
        its dates need it, its rows read ahead. Sets `check.done` when nothing is left."""
        spec = self.job.fileSpecs[index]
        if check.lastSlice != self.state.slice:
            check.slices, check.lastSlice = check.slices + 1, self.state.slice
        upload = self._inspect(index, check)
        if upload.plain_text and check.scanned is None:
            if not self._pass_over(spec, upload, check):
                return
        elif not upload.plain_text and check.scanned is None and check.dateFormats is None:
            if upload.file_format in WORKBOOK_FORMATS and len(self.job.fileSpecs) == 1:
                check.done = True  # read once, when its rows are (workbooks are at most 2 GiB)
                return
            # compressed text and workbooks are read whole when opened (their first pass cannot be carried): at
            # most one such file an invocation, and nothing else passed over in it
            if self.passed or self.read:
                return
            self.passed = self.budget * FIRST_PASS_SLICE_FACTOR
        if len(self.job.fileSpecs) == 1 and check.scanned is not None and not _may_need_read_ahead(
                check.scanned, upload, spec):
            check.done = True  # nothing to read ahead: the header is checked as the rows are read
            return
        if self.read < self.budget:  # else the header and any read-ahead in the next slice
            self._read_ahead(spec, upload, check)

    def _inspect(self, index: int, check: FileCheck | None) -> Upload:
        """The file as it is now (this invocation inspects it once); the same object the job started reading."""
        upload = self.uploads.get(index)
        if upload is None:
            upload = self.uploads[index] = inspect_upload(self.storage, self.job.fileSpecs[index])
        if check is not None:
            self._same_object(check, upload.etag)
        return upload

    @staticmethod
    def _same_object(check: FileCheck, etag: str) -> None:
        """The file is the object its check began reading (the first call records it)."""
        if check.etag is None:
            check.etag = etag
        elif check.etag != etag:
            raise RejectedInput(FILE_CHANGED)

    def _pass_over(self, spec: FileSpec, upload: Upload, check: FileCheck) -> bool:
        """The first pass over a plain text file, on from where it stopped, within this invocation's first-pass
        budget of its own (the rows after it are cut at the same offsets with or without it). True when done."""
        room = self.budget * FIRST_PASS_SLICE_FACTOR - self.passed
        if room <= 0:
            return False
        found, read = pass_over(self.storage, spec, upload, check.scan, room)
        self.passed += read
        if isinstance(found, ByteScan):
            check.scan = found
            return False
        check.scan, check.scanned = None, found
        return True

    def _read_ahead(self, spec: FileSpec, upload: Upload, check: FileCheck) -> None:
        """Opens the file (its header checked; compressed text passed over, in one go) and, when its date columns'
        order or JSON Lines keys must come from all its rows, reads them ahead, on from where that stopped."""
        with ExitStack() as stack:
            if check.dates is None:
                opened = stack.enter_context(open_upload(self.storage, spec, check.scanned, upload))
                check.scanned = opened.scanned
                prepared = self._prepared(spec, opened)
                if not prepared.needs_scan():
                    check.dateFormats, check.done = dict(prepared.date_formats), True
                    return
                if opened.lines is None:  # a workbook among several files: read ahead in one go
                    with open_upload(self.storage, spec) as again:
                        prepared.scan(again)
                    check.dateFormats, check.done = dict(prepared.date_formats), True
                    return
                orders = DateOrders(prepared.date_field)
                facts, last_row = dict(opened.facts), 0
            else:
                assert check.scanned is not None
                facts, last_row = check.dates.facts, check.dates.position.row
                opened = stack.enter_context(resume_upload(self.storage, spec, check.dates.position,
                                                           check.scanned.digest, upload.size, facts))
                prepared = self._prepared(spec, opened)
                orders = DateOrders(prepared.date_field, check.dates.columns)
            room, full = self.budget - self.read, False
            for row in opened.source.rows:
                if row.error is None:
                    orders.see(opened.source.header, row.values)
                last_row = row.row
                if opened.bytes_read() >= room:
                    full = True
                    break
            self.read += opened.bytes_read()
            if full:
                check.dates = DateReadAhead(position=opened.position(last_row), columns=orders.state(), facts=facts)
                return
            check.dates = None
            check.dateFormats = {**prepared.date_formats, **orders.patterns()}
            prepared.refuse_unknown_keys(opened.source.header)
            check.done = True

    def _registry(self, stack: ExitStack) -> KeyRegistry:
        state = self.state
        if not state.registry:
            return stack.enter_context(KeyRegistry())
        handle, name = tempfile.mkstemp(prefix="sluice-keys-", suffix=".db")
        os.close(handle)
        SliceStore(self.clients).fetch_registry(self.job.tenant, self.job.jobId, state.run, state.slice, Path(name))
        return stack.enter_context(KeyRegistry(existing=Path(name)))

    def run(self) -> dict[str, Any] | None:
        """Sends this slice's chunks. Returns the job's update once every file has been read; None when the next
        slice carries on (its continuation sent)."""
        specs = self.job.fileSpecs
        state = self.state
        if not self._check_files():
            return None
        files = list(state.files)
        progress = state.current
        index = progress.index if progress is not None else state.nextFile
        with ExitStack() as outer:
            registry = self._registry(outer)
            while index < len(specs):
                if self.read >= self.budget:  # the slice is full between two files
                    self._hand_on(files, None, index, registry)
                    return None
                with ExitStack() as stack:
                    prepared = self._open(stack, index, progress)
                    if progress is None:
                        opened = prepared.opened
                        progress = FileProgress(index=index, digest=opened.digest, size=opened.size,
                                                facts=dict(opened.facts), warnings=list(opened.warnings),
                                                dateFormats=dict(prepared.date_formats), firstChunk=self.chunk,
                                                position=TextPosition(offset=0, codec="", header=[], row=0, line=0))
                        if index < len(self.checks):  # the invocations that checked it read it too (this one once)
                            check = self.checks[index]
                            progress.slices = check.slices - (check.lastSlice == state.slice)
                    progress.slices += 1
                    position = self._enqueue_file(index, prepared, registry, progress)
                    if position is not None and not self.canceled:
                        progress.position = position
                        self._hand_on(files, progress, index, registry)
                        return None
                    files.append(prepared.facts(progress, self.chunk - progress.firstChunk))
                progress = None
                index += 1
                if self.canceled:
                    break
        self.sender.flush()
        logger.info("files enqueued", extra={"rows": sum(f.rows for f in files), "chunks": self.chunk,
                                              "slices": state.slice + 1, "canceled": self.canceled})
        return _summary(files, self.chunk)

    def run_keyed(self, groups: Iterator[tuple[int | None, list[str]]]) -> dict[str, Any]:
        """Purges and reverts: one chunk per group of record keys (with the reverted job's chunk it undoes)."""
        row = 0
        for source, keys in groups:
            rows = [ChunkRow(row + i + 1, 0, [key], None, row + i + 1) for i, key in enumerate(keys)]
            row += len(rows)

            def encode(part: list[ChunkRow], number: int, source: int | None = source) -> str:
                return ChunkMessage.model_construct(tenant=self.job.tenant, jobId=self.job.jobId, chunk=number, file=0,
                                                    header=[keyed.KEY_COLUMN], fields=[None], rows=part, keyed=True,
                                                    source=source).to_body()

            first = self.chunk
            for part in split_to_fit(rows, lambda p, n=first: len(encode(p, n).encode()) + 32,
                                     MESSAGE_MAX_BYTES):
                if self.chunk >= self.already_sent and self.chunk not in self.done:
                    self.sender.add(str(self.chunk), encode(part, self.chunk))
                self.chunk += 1
                if self.chunk % SEND_BATCH_MAX == 0 and self.chunk > self.already_sent and not self.redrive:
                    self.sender.flush()
                    if not self._checkpoint():
                        self.canceled = True
                        break
            if self.canceled:
                break
        self.sender.flush()
        return {"total": row, "chunkCount": self.chunk, "chunksSent": self.chunk, "sourceHeader": [keyed.KEY_COLUMN]}

    def _hand_on(self, files: list[FileFacts], progress: FileProgress | None, next_file: int,
                 registry: KeyRegistry | None) -> None:
        """Ends the slice: stores where the next one starts, sends its continuation, and moves the job on to it."""
        self.sender.flush()
        state = self.state
        following = SliceState(run=state.run, slice=state.slice + 1, chunk=self.chunk, files=files,
                               current=progress, nextFile=next_file, registry=self.used_registry,
                               redrive=state.redrive, checks=self.checks)
        slices = SliceStore(self.clients)
        tenant, job_id = self.job.tenant, self.job.jobId
        kept = registry.snapshot() if registry is not None and self.used_registry else None
        slices.save(tenant, job_id, following, kept)
        slices.send(SliceMessage(tenant=tenant, jobId=job_id, run=following.run, slice=following.slice))
        sent = None if state.redrive else self.chunk
        if self.store.advance_slice(tenant, job_id, state.run, state.slice, sent) and state.slice > 0:
            slices.discard(tenant, job_id, state.run, state.slice)
        logger.info("slice read", extra={"slice": state.slice, "chunks": self.chunk, "bytes": self.read})

    def _enqueue_file(self, index: int, prepared: _Prepared, registry: KeyRegistry,
                      progress: FileProgress) -> TextPosition | None:
        """Reads one file's rows into chunks and sends them, until the file ends (None) or the slice is full (the
        position of the next record)."""
        builder = ChunkBuilder(self.clients.settings.rows_per_chunk, self.clients.settings.chunk_max_bytes)
        key_scope = prepared.spec.itemType + "\x1f"
        opened = prepared.opened
        sliced = opened.lines is not None  # text: a slice may end after any record
        room = self.budget - self.read
        last_row = progress.position.row
        full = False
        for source_row in opened.source.rows:
            if len(prepared.fields) < len(opened.source.header):
                prepared.discover_columns()
            duplicate_of = 0
            if prepared.validator.key_fields and source_row.error is None:
                self.used_registry = True
                duplicate_of = self._first_seen(prepared, registry, key_scope, index, source_row.row,
                                                 source_row.values)
            row = ChunkRow(source_row.row, duplicate_of, source_row.values, source_row.error, source_row.line)
            last_row = source_row.row
            if builder.add(row):
                progress.rowsSent += self._emit(index, prepared, builder.take())
                if self.canceled:
                    return None
            if sliced and opened.bytes_read() >= room:
                full = True
                break
        if builder.rows:
            progress.rowsSent += self._emit(index, prepared, builder.take())
        self.read += opened.bytes_read()
        return opened.position(last_row) if full else None

    @staticmethod
    def _first_seen(prepared: _Prepared, registry: KeyRegistry, key_scope: str, index: int, row: int,
                    values: list[Any]) -> int:
        """Where this row's key was first seen in the job (0: here, for the first time)."""
        key_fields = prepared.validator.key_fields
        raw = {f: values[i] for i, f in enumerate(prepared.fields) if f in key_fields and i < len(values)}
        record_key = prepared.validator.key_of_raw(raw)
        if record_key is None:
            return 0
        return registry.first_seen(key_scope + record_key, first_seen_encode(index, row))

    def _encode(self, index: int, prepared: _Prepared, rows: list[ChunkRow], number: int) -> str:
        return ChunkMessage.model_construct(tenant=self.job.tenant, jobId=self.job.jobId, chunk=number, file=index,
                                            header=list(prepared.opened.source.header),
                                            fields=list(prepared.fields), rows=rows,
                                            dateFormats=prepared.date_formats).to_body()

    def _emit(self, index: int, prepared: _Prepared, rows: list[ChunkRow]) -> int:
        """Queues one chunk (split in parts if its message would be too large); every 10 chunks, sends and
        checkpoints. Returns the rows it covered; sets `canceled` when the job was canceled meanwhile."""
        whole = self._encode(index, prepared, rows, self.chunk)
        if len(whole.encode()) <= MESSAGE_MAX_BYTES:
            groups: list[tuple[list[ChunkRow], str | None]] = [(rows, whole)]
        else:
            number = self.chunk

            def size_of(part: list[ChunkRow]) -> int:
                return len(self._encode(index, prepared, part, number).encode()) + 32  # room for digits

            groups = [(part, None) for part in split_to_fit(rows, size_of, MESSAGE_MAX_BYTES)]
        covered = 0
        for part, body in groups:
            if self.stop_at is not None and self.chunk >= self.stop_at:
                self.canceled = True
                return covered
            if self.chunk >= self.already_sent and self.chunk not in self.done:
                self.sender.add(str(self.chunk), body or self._encode(index, prepared, part, self.chunk))
            self.chunk += 1
            covered += len(part)
            if self.chunk % SEND_BATCH_MAX == 0 and self.chunk > self.already_sent and not self.redrive:
                self.sender.flush()
                if not self._checkpoint():
                    self.canceled = True
                    return covered
        return covered

    def _checkpoint(self) -> bool:
        """Records how many chunks were sent; False when the job is no longer Processing (canceled)."""
        return self.store.update(self.job.tenant, self.job.jobId, {"chunksSent": self.chunk,
                                                                  "lastProgressMs": now_ms()},
                                 allowed_from={Status.PROCESSING}) is not None
