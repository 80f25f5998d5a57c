"""Ingest: stream an uploaded file, check it, and enqueue its rows as chunks.

Runs once per upload event; a redelivery re-reads the file and skips chunks already sent, so the
chunks (their numbers and rows) are the same on every run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from sluice.aws import Clients
from sluice.chunks import ChunkBuilder, ChunkMessage, ChunkRow, split_to_fit
from sluice.clock import now_ms
from sluice.columns import HeaderMatcher, map_columns
from sluice.dedupe import KeyRegistry
from sluice.dynamo import Item
from sluice.errors import RejectedInput
from sluice.finalize import settle
from sluice.jobs import FINISHED, JobStore, Status
from sluice.queue import MESSAGE_MAX_BYTES, SEND_BATCH_MAX, MessageSender
from sluice.readers import RowSource
from sluice.schemas import ItemTypeDefinition, RowValidator
from sluice.sources import ReadOptions, open_upload
from sluice.storage import Storage, parse_upload_key

logger = Logger(child=True)


def ingest_upload(clients: Clients, key: str) -> str:
    """Handles one uploaded object; returns what happened, for logs and tests."""
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
    if status == Status.CANCELING and job.get("total") is None:
        store.update(tenant, job_id, {"total": 0, "chunkCount": 0}, allowed_from={Status.CANCELING})
        return settle_latest(clients, store, tenant, job_id)
    if job.get("total") is not None:
        return settle_latest(clients, store, tenant, job_id)
    started = store.update(tenant, job_id, {"status": Status.PROCESSING.value,
                                            "startMs": job.get("startMs") or now_ms()},
                           allowed_from={Status.INITIALIZED, Status.ACCEPTED, Status.PROCESSING})
    if started is None:
        return "state-changed"
    try:
        summary = _read_and_enqueue(clients, store, started, key)
    except RejectedInput as rejected:
        logger.info("job rejected", extra={"reason": rejected.reason})
        store.finish(started, Status.REJECTED, rejected.reason, {Status.PROCESSING, Status.CANCELING})
        return "rejected"
    store.update(tenant, job_id, summary, allowed_from={Status.PROCESSING, Status.CANCELING})
    return settle_latest(clients, store, tenant, job_id)


def settle_latest(clients: Clients, store: JobStore, tenant: str, job_id: str) -> str:
    job = store.get(tenant, job_id)
    return settle(clients, job)["status"] if job else "no-job"


def _read_and_enqueue(clients: Clients, store: JobStore, job: Item, key: str) -> dict[str, Any]:
    with open_upload(Storage(clients), key, ReadOptions.of_job(job)) as opened:
        summary = _enqueue(clients, store, job, opened.source)
        return {**summary, **opened.facts, "warnings": opened.final_warnings(),
                "files": [{"name": job.get("fileName") or "data", "digest": opened.digest, "size": opened.size,
                           "rows": summary["total"]}]}


def _enqueue(clients: Clients, store: JobStore, job: Item, source: RowSource) -> dict[str, Any]:
    settings = clients.settings
    tenant, job_id = job["tenant"], job["jobId"]
    definition = ItemTypeDefinition.model_validate_json(job["schema"]["definition"])
    matcher = HeaderMatcher(definition)
    validator = RowValidator(definition)
    fields: list[str | None] = []
    ignored: list[str] = []
    if source.header:  # CSV and workbooks; JSON Lines discovers its keys row by row
        column_map = map_columns(source.header, definition, matcher)
        by_position = {position: name for name, position in column_map.field_index.items()}
        fields = [by_position.get(i) for i in range(len(source.header))]
        ignored = column_map.ignored
    key_fields = set(validator.key_fields)

    sender = MessageSender(clients.sqs, settings.chunk_queue_url)
    builder = ChunkBuilder(settings.rows_per_chunk, settings.chunk_max_bytes)
    already_sent = int(job.get("chunksSent", 0))
    chunk = rows_sent = 0
    canceled = False

    def encode(rows: list[ChunkRow], number: int) -> str:
        return ChunkMessage.model_construct(tenant=tenant, jobId=job_id, chunk=number, header=list(source.header),
                                            fields=list(fields), rows=rows).to_body()

    def emit() -> bool:
        """Queues the current chunk; every 10 chunks, sends and checkpoints. False: the job was canceled."""
        nonlocal chunk, rows_sent
        rows = builder.take()
        whole = encode(rows, chunk)
        if len(whole.encode()) <= MESSAGE_MAX_BYTES:
            groups: list[tuple[list[ChunkRow], str | None]] = [(rows, whole)]
        else:
            size_of = lambda part: len(encode(part, chunk).encode()) + 32  # noqa: E731 - room for a longer number
            groups = [(part, None) for part in split_to_fit(rows, size_of, MESSAGE_MAX_BYTES)]
        for part, body in groups:
            if chunk >= already_sent:
                sender.add(str(chunk), body or encode(part, chunk))
            chunk += 1
            rows_sent += len(part)
            if chunk % SEND_BATCH_MAX == 0 and chunk > already_sent:
                sender.flush()
                if not _checkpoint(store, tenant, job_id, chunk):
                    return False
        return True

    with KeyRegistry() as registry:
        for source_row in source.rows:
            if len(fields) < len(source.header):  # JSON Lines: new keys appear as rows are read
                for column in source.header[len(fields):]:
                    target = matcher.field_for(column)
                    fields.append(target)
                    if target is None:
                        ignored.append(column)
            duplicate_of = 0
            if key_fields and source_row.error is None:
                raw = {f: source_row.values[i] for i, f in enumerate(fields)
                       if f in key_fields and i < len(source_row.values)}
                record_key = validator.key_of_raw(raw)
                if record_key is not None:
                    duplicate_of = registry.first_seen(record_key, source_row.row)
            row: ChunkRow = (source_row.row, duplicate_of, source_row.values, source_row.error, source_row.line)
            if builder.add(row) and not emit():
                canceled = True
                break
        if builder.rows and not canceled:
            emit()
    sender.flush()
    logger.info("file enqueued", extra={"rows": rows_sent, "chunks": chunk, "canceled": canceled})
    return {
        "total": rows_sent,
        "chunkCount": chunk,
        "chunksSent": chunk,
        "sourceHeader": list(source.header),
        "ignoredColumns": ignored,
        "blankRows": source.blank_rows[0],
    }


def _checkpoint(store: JobStore, tenant: str, job_id: str, chunks_sent: int) -> bool:
    return store.update(tenant, job_id, {"chunksSent": chunks_sent, "lastProgressMs": now_ms()},
                        allowed_from={Status.PROCESSING}) is not None
