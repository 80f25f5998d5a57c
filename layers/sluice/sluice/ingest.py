"""Ingest: read a job's files in order, check them, and enqueue their rows as chunks.

Runs once per upload event; a redelivery re-reads the files and skips chunks already sent, so the
chunks (their numbers and rows) are the same on every run. A job of several files checks every file
(decoding, header, columns) before the first chunk is sent: a Rejected job has applied nothing."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from aws_lambda_powertools import Logger

from sluice.aws import Clients
from sluice.chunks import ChunkBuilder, ChunkMessage, ChunkRow, split_to_fit
from sluice.clock import now_ms
from sluice.columns import HeaderMatcher, map_columns
from sluice.dedupe import KeyRegistry
from sluice.dynamo import Item
from sluice.errors import RejectedInput
from sluice.filespecs import FileSpec, first_seen_encode, specs_of
from sluice.finalize import settle
from sluice.jobs import FINISHED, JobStore, Status
from sluice.queue import MESSAGE_MAX_BYTES, SEND_BATCH_MAX, MessageSender
from sluice.schemas import ItemTypeDefinition, RowValidator
from sluice.sources import OpenedSource, open_upload
from sluice.storage import Storage, parse_upload_key

logger = Logger(child=True)


def ingest_upload(clients: Clients, key: str) -> str:
    """Handles one object under uploads/{tenant}/{jobId}/; returns what happened, for logs and tests."""
    ids = parse_upload_key(key)
    if ids is None:
        logger.warning("ignoring object outside the upload layout", extra={"key": key})
        return "ignored"
    tenant, job_id = ids
    store = JobStore(clients)
    job = store.get(tenant, job_id)
    if job is None:
        logger.warning("upload for an unknown job", extra={"key": key})
        return "no-job"
    status = Status(job["status"])
    if status in FINISHED:
        return "finished"
    if job.get("staged") and status == Status.INITIALIZED:
        return "not-scheduled"  # a staged file's presigned upload; the job starts when scheduled
    if status == Status.CANCELING and job.get("total") is None:
        store.update(tenant, job_id, {"total": 0, "chunkCount": 0}, allowed_from={Status.CANCELING})
        return settle_latest(clients, store, tenant, job_id)
    redrive = bool(job.get("redriveRequested"))
    if job.get("total") is not None and not redrive:
        return settle_latest(clients, store, tenant, job_id)
    if redrive:  # the sweeper asks for the chunks not done yet to be sent again
        started = store.update(tenant, job_id, {"redriveRequested": False, "lastProgressMs": now_ms()},
                               allowed_from={Status.PROCESSING, Status.CANCELING})
    else:
        started = store.update(tenant, job_id, {"status": Status.PROCESSING.value,
                                                "startMs": job.get("startMs") or now_ms()},
                               allowed_from={Status.INITIALIZED, Status.ACCEPTED, Status.PROCESSING})
    if started is None:
        return "state-changed"
    try:
        summary = Enqueuer(clients, store, started, redrive=redrive).run()
    except RejectedInput as rejected:
        logger.info("job rejected", extra={"reason": rejected.reason})
        store.finish(started, Status.REJECTED, rejected.reason, {Status.PROCESSING, Status.CANCELING})
        return "rejected"
    if started.get("total") is None:
        store.update(tenant, job_id, summary, allowed_from={Status.PROCESSING, Status.CANCELING})
    return settle_latest(clients, store, tenant, job_id)


def settle_latest(clients: Clients, store: JobStore, tenant: str, job_id: str) -> str:
    job = store.get(tenant, job_id)
    return settle(clients, job)["status"] if job else "no-job"


class _Prepared:
    """One file, opened and matched to its item type's fields."""

    def __init__(self, spec: FileSpec, opened: OpenedSource) -> None:
        self.spec = spec
        self.opened = opened
        definition = ItemTypeDefinition.model_validate_json(spec.snapshot["definition"])
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


class Enqueuer:
    def __init__(self, clients: Clients, store: JobStore, job: Item, redrive: bool = False) -> None:
        self.clients = clients
        self.store = store
        self.job = job
        self.storage = Storage(clients)
        self.sender = MessageSender(clients.sqs, clients.settings.chunk_queue_url)
        # A re-run after a crash skips what it already sent; a re-drive sends every chunk not yet done.
        self.already_sent = 0 if redrive else int(job.get("chunksSent", 0))
        self.done = {int(c) for c in job.get("doneChunks", set())} if redrive else set()
        self.redrive = redrive
        self.chunk = 0
        self.canceled = False

    def _open(self, stack: ExitStack, spec: FileSpec) -> _Prepared:
        try:
            opened = stack.enter_context(open_upload(self.storage, spec.objectKey, spec.read_options()))
            return _Prepared(spec, opened)
        except RejectedInput as rejected:
            if not self.job.get("staged"):
                raise
            raise RejectedInput(f"{spec.name}: {rejected.reason}") from None

    def run(self) -> dict[str, Any]:
        specs = specs_of(self.job)
        if len(specs) > 1:
            for spec in specs:  # every file is checked before any row of any file is sent
                with ExitStack() as stack:
                    self._open(stack, spec)
        files: list[dict[str, Any]] = []
        with KeyRegistry() as registry:
            for index, spec in enumerate(specs):
                with ExitStack() as stack:
                    prepared = self._open(stack, spec)
                    first_chunk = self.chunk
                    rows = self._enqueue_file(index, prepared, registry)
                    opened = prepared.opened
                    files.append({
                        "name": spec.name, "itemType": spec.itemType, "digest": opened.digest, "size": opened.size,
                        "rows": rows, "firstChunk": first_chunk, "chunkCount": self.chunk - first_chunk,
                        "header": list(opened.source.header), "ignoredColumns": prepared.ignored,
                        "blankRows": opened.source.blank_rows[0], "warnings": opened.final_warnings(),
                        **opened.facts,
                    })
                if self.canceled:
                    break
        self.sender.flush()
        total = sum(f["rows"] for f in files)
        logger.info("files enqueued", extra={"rows": total, "chunks": self.chunk, "canceled": self.canceled})
        first = files[0] if files else {}
        return {
            "total": total, "chunkCount": self.chunk, "chunksSent": self.chunk, "files": files,
            # a single file's reading facts also show on the job itself
            "sourceHeader": first.get("header", []), "ignoredColumns": first.get("ignoredColumns", []),
            "blankRows": first.get("blankRows", 0), "warnings": first.get("warnings", []),
            **{k: first[k] for k in ("format", "encoding", "delimiter", "sheet") if k in first and len(files) == 1},
        }

    def _enqueue_file(self, index: int, prepared: _Prepared, registry: KeyRegistry) -> int:
        tenant, job_id = self.job["tenant"], self.job["jobId"]
        source = prepared.opened.source
        builder = ChunkBuilder(self.clients.settings.rows_per_chunk, self.clients.settings.chunk_max_bytes)
        validator, fields = prepared.validator, prepared.fields
        key_fields = set(validator.key_fields)
        key_scope = prepared.spec.itemType + "\x1f"
        rows_sent = 0

        def encode(rows: list[ChunkRow], number: int) -> str:
            return ChunkMessage.model_construct(tenant=tenant, jobId=job_id, chunk=number, file=index,
                                                header=list(source.header), fields=list(fields),
                                                rows=rows).to_body()

        def emit() -> bool:
            """Queues the current chunk; every 10 chunks, sends and checkpoints. False: the job was canceled."""
            nonlocal rows_sent
            rows = builder.take()
            whole = encode(rows, self.chunk)
            if len(whole.encode()) <= MESSAGE_MAX_BYTES:
                groups: list[tuple[list[ChunkRow], str | None]] = [(rows, whole)]
            else:
                number = self.chunk
                size_of = lambda part: len(encode(part, number).encode()) + 32  # noqa: E731 - room for digits
                groups = [(part, None) for part in split_to_fit(rows, size_of, MESSAGE_MAX_BYTES)]
            for part, body in groups:
                if self.chunk >= self.already_sent and self.chunk not in self.done:
                    self.sender.add(str(self.chunk), body or encode(part, self.chunk))
                self.chunk += 1
                rows_sent += len(part)
                if self.chunk % SEND_BATCH_MAX == 0 and self.chunk > self.already_sent and not self.redrive:
                    self.sender.flush()
                    if not _checkpoint(self.store, tenant, job_id, self.chunk):
                        return False
            return True

        for source_row in source.rows:
            if len(fields) < len(source.header):  # JSON Lines: new keys appear as rows are read
                for column in source.header[len(fields):]:
                    target = prepared.matcher.field_for(column)
                    fields.append(target)
                    if target is None:
                        prepared.ignored.append(column)
            duplicate_of = 0
            if key_fields and source_row.error is None:
                raw = {f: source_row.values[i] for i, f in enumerate(fields)
                       if f in key_fields and i < len(source_row.values)}
                record_key = validator.key_of_raw(raw)
                if record_key is not None:
                    duplicate_of = registry.first_seen(key_scope + record_key,
                                                       first_seen_encode(index, source_row.row))
            row: ChunkRow = (source_row.row, duplicate_of, source_row.values, source_row.error, source_row.line)
            if builder.add(row) and not emit():
                self.canceled = True
                return rows_sent
        if builder.rows and not emit():
            self.canceled = True
        return rows_sent


def _checkpoint(store: JobStore, tenant: str, job_id: str, chunks_sent: int) -> bool:
    return store.update(tenant, job_id, {"chunksSent": chunks_sent, "lastProgressMs": now_ms()},
                        allowed_from={Status.PROCESSING}) is not None
