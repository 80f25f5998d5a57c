"""Ingest: read a job's files in order, check them, and enqueue their rows as chunks.

Runs once per upload event; a redelivery re-reads the files and skips chunks already sent, so the
chunks (their numbers and rows) are the same on every run. A job of several files checks every file
(decoding, header, columns) before the first chunk is sent: a Rejected job has applied nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from aws_lambda_powertools import Logger

from sluice.intake.columns import HeaderMatcher, map_columns
from sluice.intake.sources import OpenedSource, open_upload
from sluice.models.chunk import ChunkMessage, ChunkRow
from sluice.models.clock import now_ms
from sluice.models.errors import RejectedInput
from sluice.models.filespec import FileFacts, FileSpec, first_seen_encode
from sluice.models.job import Job, Status
from sluice.models.schemas import ItemTypeDefinition, RowValidator
from sluice.notify.announcer import announced_jobs
from sluice.pipeline import keyed
from sluice.pipeline.chunking import ChunkBuilder, split_to_fit
from sluice.pipeline.dedupe import KeyRegistry
from sluice.pipeline.finalize import settle
from sluice.store.blobs import Storage, parse_upload_key
from sluice.store.clients import Clients
from sluice.store.jobs import JobStore
from sluice.store.keys import KeyStore
from sluice.store.queue import MESSAGE_MAX_BYTES, SEND_BATCH_MAX, MessageSender

logger = Logger(child=True)


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
    if job.status == Status.CANCELING and job.total is None:
        store.update(tenant, job_id, {"total": 0, "chunkCount": 0}, allowed_from={Status.CANCELING})
        return settle_latest(clients, store, tenant, job_id)
    redrive = job.redriveRequested
    if job.total is not None and not redrive:
        return settle_latest(clients, store, tenant, job_id)
    if redrive:  # the sweeper asks for the chunks not done yet to be sent again
        started = store.update(tenant, job_id, {"redriveRequested": False, "lastProgressMs": now_ms()},
                               allowed_from={Status.PROCESSING, Status.CANCELING})
    else:
        started = store.update(tenant, job_id, {"status": Status.PROCESSING, "startMs": job.startMs or now_ms()},
                               allowed_from={Status.INITIALIZED, Status.ACCEPTED, Status.PROCESSING})
    if started is None:
        return "state-changed"
    if (started.upload or started.staged) and KeyStore(clients).is_revoked(tenant, started.submittedBy):
        store.finish(started, Status.REJECTED, f"the key that created this job ({started.submittedBy}) was revoked "
                     "before its data was read; submit again with a valid key", {Status.PROCESSING})
        return "rejected"
    try:
        enqueuer = Enqueuer(clients, store, started, redrive=redrive)
        if started.operation in keyed.KEYED_OPERATIONS:
            summary = enqueuer.run_keyed(keyed.key_groups(clients, started))
        else:
            summary = enqueuer.run()
            summary["warnings"] = summary.get("warnings", []) + keyed.keyless_warnings(clients, started, summary)
    except RejectedInput as rejected:
        logger.info("job rejected", extra={"reason": rejected.reason})
        store.finish(started, Status.REJECTED, rejected.reason, {Status.PROCESSING, Status.CANCELING})
        return "rejected"
    if started.total is None:
        store.update(tenant, job_id, summary, allowed_from={Status.PROCESSING, Status.CANCELING})
    return settle_latest(clients, store, tenant, job_id)


def settle_latest(clients: Clients, store: JobStore, tenant: str, job_id: str) -> str:
    job = store.get(tenant, job_id)
    return settle(clients, job).status.value if job else "no-job"


class _Prepared:
    """One file, opened and matched to its item type's fields."""

    def __init__(self, spec: FileSpec, opened: OpenedSource) -> None:
        self.spec = spec
        self.opened = opened
        definition = ItemTypeDefinition.model_validate_json(spec.schema_snapshot().definition)
        self.matcher = HeaderMatcher(definition, spec.columns)
        self.validator = RowValidator(definition)
        self.fields: list[str | None] = []
        self.ignored: list[str] = []
        header = opened.source.header
        if header:  # CSV and workbooks; JSON Lines discovers its keys row by row
            column_map = map_columns(header, definition, self.matcher)
            by_position = {position: name for name, position in column_map.field_index.items()}
            self.fields = [by_position.get(i) for i in range(len(header))]
            self.ignored = column_map.ignored

    def discover_columns(self) -> None:
        """JSON Lines: keys that appeared with the last row become columns (mapped to a field, or ignored)."""
        header = self.opened.source.header
        for column in header[len(self.fields):]:
            target = self.matcher.field_for(column)
            self.fields.append(target)
            if target is None:
                self.ignored.append(column)

    def facts(self, rows: int, first_chunk: int, chunk_count: int) -> FileFacts:
        opened = self.opened
        return FileFacts(
            name=self.spec.name, itemType=self.spec.itemType, digest=opened.digest, size=opened.size, rows=rows,
            firstChunk=first_chunk, chunkCount=chunk_count, header=list(opened.source.header),
            ignoredColumns=self.ignored, blankRows=opened.source.blank_rows[0], warnings=opened.final_warnings(),
            **opened.facts,
        )


class Enqueuer:
    def __init__(self, clients: Clients, store: JobStore, job: Job, redrive: bool = False) -> None:
        self.clients = clients
        self.store = store
        self.job = job
        self.storage = Storage(clients)
        self.sender = MessageSender(clients.sqs, self._lane(), group=job.tenant)
        # A re-run after a crash skips what it already sent; a re-drive sends every chunk not yet done.
        self.already_sent = 0 if redrive else job.chunksSent
        self.done = set(job.doneChunks) if redrive else set()
        self.redrive = redrive
        self.chunk = 0
        self.canceled = False

    def _lane(self) -> str:
        """Small jobs' chunks take their own queue, so that they never wait behind a large job's backlog."""
        settings = self.clients.settings
        if self.job.operation in keyed.KEYED_OPERATIONS:
            return settings.chunk_queue_url
        if not settings.quick_chunk_queue_url or not settings.quick_job_bytes:
            return settings.chunk_queue_url
        size = sum(self.storage.size(spec.objectKey) for spec in self.job.fileSpecs)
        return settings.quick_chunk_queue_url if size <= settings.quick_job_bytes else settings.chunk_queue_url

    def _open(self, stack: ExitStack, spec: FileSpec) -> _Prepared:
        try:
            return _Prepared(spec, stack.enter_context(open_upload(self.storage, spec)))
        except RejectedInput as rejected:
            if not self.job.staged:
                raise
            raise RejectedInput(f"{spec.name}: {rejected.reason}") from None

    def run(self) -> dict[str, Any]:
        """Sends every file's chunks; returns what the job learns from reading them (its update)."""
        specs = self.job.fileSpecs
        if len(specs) > 1:
            for spec in specs:  # every file is checked before any row of any file is sent
                with ExitStack() as stack:
                    self._open(stack, spec)
        files: list[FileFacts] = []
        with KeyRegistry() as registry:
            for index, spec in enumerate(specs):
                with ExitStack() as stack:
                    prepared = self._open(stack, spec)
                    first_chunk = self.chunk
                    rows = self._enqueue_file(index, prepared, registry)
                    files.append(prepared.facts(rows, first_chunk, self.chunk - first_chunk))
                if self.canceled:
                    break
        self.sender.flush()
        total = sum(f.rows for f in files)
        logger.info("files enqueued", extra={"rows": total, "chunks": self.chunk, "canceled": self.canceled})
        summary: dict[str, Any] = {"total": total, "chunkCount": self.chunk, "chunksSent": self.chunk, "files": files}
        if files:  # a single file's reading facts also show on the job itself
            first = files[0]
            summary.update(sourceHeader=first.header, ignoredColumns=first.ignoredColumns,
                           blankRows=first.blankRows, warnings=first.warnings)
            if len(files) == 1:
                summary.update(first.model_dump(include={"format", "encoding", "delimiter", "sheet", "sheetNames"},
                                                exclude_none=True))
        return summary

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

    def _enqueue_file(self, index: int, prepared: _Prepared, registry: KeyRegistry) -> int:
        """Reads one file's rows into chunks and sends them; returns the number of rows read."""
        builder = ChunkBuilder(self.clients.settings.rows_per_chunk, self.clients.settings.chunk_max_bytes)
        key_scope = prepared.spec.itemType + "\x1f"
        rows_sent = 0
        for source_row in prepared.opened.source.rows:
            if len(prepared.fields) < len(prepared.opened.source.header):
                prepared.discover_columns()
            duplicate_of = 0
            if prepared.validator.key_fields and source_row.error is None:
                duplicate_of = self._first_seen(prepared, registry, key_scope, index, source_row.row,
                                                 source_row.values)
            row = ChunkRow(source_row.row, duplicate_of, source_row.values, source_row.error, source_row.line)
            if builder.add(row):
                rows_sent += self._emit(index, prepared, builder.take())
                if self.canceled:
                    return rows_sent
        if builder.rows:
            rows_sent += self._emit(index, prepared, builder.take())
        return rows_sent

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
                                            fields=list(prepared.fields), rows=rows).to_body()

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
