"""The sweeper, run on a schedule: whatever went missing or got stuck, it moves every job to an end.

Rules, in order: (5) chunks and uploads in the dead-letter queues end their jobs Failed, naming the rows;
(1) inbox objects whose event was missed start their jobs; (3) jobs whose last chunk landed but were not
finalised are finalised; (4) open jobs past their time are canceled; (2) jobs without progress are
re-driven (the chunks not done are sent again), and after MAX_REDRIVES end Failed. (6) Expiry is
DynamoDB TTL (`expiresAt`) and S3 lifecycle rules, set from the template's RetentionDays."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import orjson
from aws_lambda_powertools import Logger

from sluice.intake.dropfolder import take_drop
from sluice.intake.staging import cancel_stale_open_job
from sluice.models.chunk import ChunkMessage
from sluice.models.clock import now_ms
from sluice.models.export import Export
from sluice.models.job import Job, Status
from sluice.models.results import ResultStepMessage
from sluice.models.slices import SliceMessage
from sluice.notify.announcer import announced_exports, announced_jobs
from sluice.pipeline.finalize import settle
from sluice.pipeline.worker import skip_chunk
from sluice.store.blobs import INBOX_PREFIX, REDRIVE_MARKER, Storage, marker_key, parse_upload_key, upload_key
from sluice.store.clients import Clients
from sluice.store.exports import ExportStore
from sluice.store.jobs import JobStore
from sluice.store.result_steps import ResultSteps

logger = Logger(child=True)
MAX_REDRIVES = 3
INBOX_GRACE_MS = 120_000  # an inbox object younger than this may still have its event on the way
UPLOAD_GRACE_MS = 3_600_000  # after an upload URL expires, its job waits this long more
DEAD_CHUNK_MESSAGE = "this row's chunk failed repeatedly and went to the dead-letter queue"


def sweep(clients: Clients, now: int | None = None, max_messages: int = 1000) -> dict[str, int]:
    now = now_ms() if now is None else now
    report: Counter[str] = Counter()
    _drain_chunk_dead_letters(clients, report, max_messages)
    _drain_ingest_dead_letters(clients, report, max_messages)
    _take_missed_drops(clients, report, now)
    store = announced_jobs(clients)
    for job in store.open_jobs():
        _sweep_job(clients, store, job, now, report)
    for export in ExportStore(clients).open_exports():
        _sweep_export(clients, export, now, report)
    logger.info("sweep done", extra={"report": dict(report)})
    return dict(report)


def _sweep_job(clients: Clients, store: JobStore, job: Job, now: int, report: Counter[str]) -> None:
    status = job.status
    if status == Status.INITIALIZED:
        if job.staged:
            if cancel_stale_open_job(clients, job, now, clients.settings.open_job_hours):
                report["open-jobs-canceled"] += 1
        elif job.multipartUpload and job.openUntilMs is not None and now > job.openUntilMs:
            if _close_multipart(clients, store, job):
                report["multipart-uploads-aborted"] += 1
        elif job.upload and now > _upload_deadline(job.upload.uploadExpiresAt):
            closed = store.update(job.tenant, job.jobId, {"total": 0}, allowed_from={Status.INITIALIZED})
            if closed and store.finish(closed, Status.CANCELED, "canceled: no upload arrived before the upload URL "
                                       "expired", {Status.INITIALIZED}):
                report["uploads-never-arrived"] += 1
        return
    if status in (Status.PROCESSING, Status.CANCELING) and job.settled and job.resultStep is None:
        settle(clients, job)
        report["jobs-finalised"] += 1
        return
    last = job.lastProgressMs or job.startMs or job.submitMs or now
    if now - last < clients.settings.stuck_minutes * 60_000:
        return
    redrives = job.redrives
    if job.resultStep is not None:  # the chain writing its result files stopped (its step was lost or dead)
        if redrives >= MAX_REDRIVES:
            reason = (f"its result files could not be written: no progress for {clients.settings.stuck_minutes} "
                      f"minutes after {redrives} re-drives; all {job.counts.processed} processed rows stay applied")
            if store.finish(job, Status.FAILED, reason, {status}):
                report["jobs-failed-stuck"] += 1
        elif store.update(job.tenant, job.jobId, {"redrives": redrives + 1, "lastProgressMs": now},
                          allowed_from={status}):
            ResultSteps(clients).send(ResultStepMessage(tenant=job.tenant, jobId=job.jobId, step=job.resultStep))
            report["result-steps-redriven"] += 1
        return
    if redrives >= MAX_REDRIVES:
        reason = (f"no progress for {clients.settings.stuck_minutes} minutes after {redrives} re-drives; "
                  f"{job.counts.processed} rows were processed" + (f" of {job.total}" if job.total is not None else ""))
        if store.finish(job, Status.FAILED, reason, {status}):
            report["jobs-failed-stuck"] += 1
        return
    if store.update(job.tenant, job.jobId, {"redriveRequested": True, "redrives": redrives + 1,
                                            "lastProgressMs": now}, allowed_from={status}):
        Storage(clients).put(marker_key(job.tenant, job.jobId, REDRIVE_MARKER), b"")
        report["jobs-redriven"] += 1


def _sweep_export(clients: Clients, export: Export, now: int, report: Counter[str]) -> None:
    """An export is one queue message: if it is neither done nor moving after twice the stuck time (its
    message retried and dead-lettered), it ends Failed."""
    last = export.startMs or export.submitMs or now
    if now - last >= 2 * clients.settings.stuck_minutes * 60_000 and announced_exports(clients).finish(
            export, Status.FAILED, "the export did not finish: it failed repeatedly; request it again",
            {export.status}):
        report["exports-failed"] += 1


def _close_multipart(clients: Clients, store: JobStore, job: Job) -> bool:
    """A multipart upload not completed while its job was open: S3 discards its parts, the job is Canceled. One
    completed meanwhile is left to its object-created event."""
    if job.multipartUpload is None:
        return False
    storage = Storage(clients)
    key = upload_key(job.tenant, job.jobId)
    if not storage.abort_multipart(key, job.multipartUpload.uploadId) and storage.exists(key):
        return False
    closed = store.update(job.tenant, job.jobId, {"total": 0}, allowed_from={Status.INITIALIZED})
    hours = clients.settings.open_job_hours
    return bool(closed and store.finish(closed, Status.CANCELED, f"canceled: the multipart upload was not completed "
                                        f"within {hours} h; its parts were discarded", {Status.INITIALIZED}))


def _upload_deadline(upload_expires_at: str) -> int:
    expires = datetime.fromisoformat(upload_expires_at.replace("Z", "+00:00"))
    return int(expires.timestamp() * 1000) + UPLOAD_GRACE_MS


def _receive(clients: Clients, queue_url: str, max_messages: int) -> Iterator[dict[str, Any]]:
    received = 0
    while queue_url and received < max_messages:
        messages = clients.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                               VisibilityTimeout=300).get("Messages", [])
        if not messages:
            return
        for message in messages:
            received += 1
            yield message
            clients.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _drain_chunk_dead_letters(clients: Clients, report: Counter[str], max_messages: int) -> None:
    store = JobStore(clients)
    for message in _receive(clients, clients.settings.chunk_dlq_url, max_messages):
        try:
            chunk = ChunkMessage.from_body(message["Body"])
        except ValueError:
            logger.error("unreadable message in the chunk dead-letter queue", extra={"body": message["Body"][:500]})
            report["dead-letters-unreadable"] += 1
            continue
        job = store.get(chunk.tenant, chunk.jobId)
        if job is None or store.chunk_done(chunk.jobId, chunk.chunk):
            report["dead-letters-already-counted"] += 1
            continue
        skip_chunk(clients, chunk, DEAD_CHUNK_MESSAGE, dead=True)
        report["dead-chunks"] += 1
        report["dead-rows"] += len(chunk.rows)


def _drain_ingest_dead_letters(clients: Clients, report: Counter[str], max_messages: int) -> None:
    store = announced_jobs(clients)
    for message in _receive(clients, clients.settings.ingest_dlq_url, max_messages):
        continuation = SliceMessage.from_body(message["Body"]) or ResultStepMessage.from_body(message["Body"])
        if continuation is not None:  # a slice or result step that failed repeatedly: its job stalls, is re-driven
            logger.error("a continuation failed repeatedly; its job will be re-driven",
                         extra={"jobId": continuation.jobId, "continuation": continuation.KEY, **continuation.where()})
            report[f"dead-{continuation.KEY}"] += 1
            continue
        try:
            records = orjson.loads(message["Body"]).get("Records", [])
        except (orjson.JSONDecodeError, AttributeError):
            records = []
        for record in records:
            key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
            ids = parse_upload_key(key)
            if ids is None:
                logger.error("an inbox object could not be taken; it stays in the inbox", extra={"objectKey": key})
                report["dead-drops"] += 1
                continue
            job = store.get(*ids)
            if job is not None and not job.finished:
                store.finish(job, Status.FAILED, "the upload could not be read: ingest failed repeatedly; submit the "
                             "file again", {job.status})
                report["dead-uploads"] += 1


def _take_missed_drops(clients: Clients, report: Counter[str], now: int) -> None:
    storage = Storage(clients)
    for page in storage.s3.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket, Prefix=INBOX_PREFIX):
        for obj in page.get("Contents", []):
            age = now - int(obj["LastModified"].timestamp() * 1000)
            if age < INBOX_GRACE_MS:
                continue
            outcome = take_drop(clients, obj["Key"], str(obj.get("ETag", "")))
            if outcome in ("started", "rejected", "duplicate"):
                report[f"missed-drops-{outcome}"] += 1

