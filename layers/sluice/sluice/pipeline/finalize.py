"""Ending a job: once every row read is processed or skipped, write the result files and set the final
status. Any step may call settle(); the conditional status change makes exactly one of them finish it."""

from __future__ import annotations

import contextlib
import csv
import io
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

from sluice.models.csvsafe import neutralise
from sluice.models.filespec import FileFacts
from sluice.models.job import Job, Outcome, Status
from sluice.notify.announcer import announced_jobs
from sluice.pipeline.revert import finish_purge
from sluice.store.blobs import RESULT_KINDS, Storage, StreamedObject, result_key, result_part_key
from sluice.store.clients import Clients

OUTCOME_COLUMNS = ["sluice_row", "sluice_outcome", "sluice_message"]
# Result files are assembled by the invocation that settles the job: parts are fetched this many at a time (within
# botocore's 10 pooled connections), this many ahead of the one being written
PREFETCH_THREADS = 8
PREFETCH_AHEAD = 32
RESULT_BUFFER_BYTES = 1 << 20
_KIND_OF = {Outcome.CREATED.value: "succeeded", Outcome.UPDATED.value: "succeeded",
            Outcome.UNCHANGED.value: "succeeded", Outcome.DELETED.value: "succeeded", Outcome.FAILED.value: "failed",
            Outcome.UNPROCESSED.value: "unprocessed"}


class ResultRow(NamedTuple):
    """One row's line in a chunk's share of the result files."""

    row: int
    outcome: Outcome
    message: str  # the record key, or why the row failed or was not processed
    values: list[Any]


def result_part(rows: list[ResultRow]) -> bytes:
    """One chunk's share of the result files: row number, outcome, message, then the original values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row, outcome, message, values in rows:
        writer.writerow([row, outcome.value, message, *("" if v is None else v for v in values)])
    return buffer.getvalue().encode()


def write_results(clients: Clients, job: Job) -> None:
    """The succeeded / failed / unprocessed CSVs: one set per job, or one per file in jobs of several files."""
    files: list[FileFacts] | None = job.files or None
    spans = [(f.header, f.firstChunk, f.chunkCount) for f in files] if files else \
        [(job.sourceHeader, 0, job.chunkCount or 0)]
    for index, (header, first, count) in enumerate(spans):
        # a settled job has counted every chunk it sent (each exactly once), so each has its result part
        # A retry reads a result file: its own outcome columns replace the ones it read, never repeat them.
        kept = [i for i, h in enumerate(header) if not (job.retryOf and h in OUTCOME_COLUMNS)]
        _write_file_results(clients, job, header, kept, range(first, first + count),
                            None if len(spans) == 1 else index)


def _write_file_results(clients: Clients, job: Job, header: list[str], kept: list[int], chunks: Iterable[int],
                        file_index: int | None) -> None:
    """Streams the chunks' result parts, in order, into the result files: each uploaded in parts as it grows (no
    local disk, memory bounded), the parts fetched ahead in parallel (one GET per chunk is the cost that grows)."""
    storage = Storage(clients)
    with contextlib.ExitStack() as stack:
        objects = {kind: StreamedObject(storage, result_key(job.tenant, job.jobId, kind, file_index),
                                        "text/csv; charset=utf-8") for kind in RESULT_KINDS}
        for streamed in objects.values():
            stack.callback(streamed.abort)  # unless closed (completed) first, below
        texts = {kind: io.TextIOWrapper(io.BufferedWriter(streamed, RESULT_BUFFER_BYTES), encoding="utf-8",
                                        newline="") for kind, streamed in objects.items()}
        writers = {kind: csv.writer(text, lineterminator="\r\n") for kind, text in texts.items()}
        for writer in writers.values():
            writer.writerow([*(neutralise(header[i]) for i in kept), *OUTCOME_COLUMNS])
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=PREFETCH_THREADS))

        def fetch(chunk: int) -> bytes:
            return bytes(storage.open(result_part_key(job.tenant, job.jobId, chunk)).read())

        for part in _in_order(pool, fetch, chunks, PREFETCH_AHEAD):
            for row, outcome, message, *values in csv.reader(io.StringIO(part.decode())):
                padded = values + [""] * (len(header) - len(values))
                if len(kept) != len(header):
                    padded = [padded[i] for i in kept] + padded[len(header):]
                writers[_KIND_OF[outcome]].writerow([*(neutralise(v) for v in padded), row, outcome,
                                                     neutralise(message)])
        for text in texts.values():
            text.close()  # flushes, then completes the object (an abort after it does nothing)


def _in_order(pool: ThreadPoolExecutor, fetch: Callable[[int], bytes], chunks: Iterable[int],
              ahead: int) -> Iterator[bytes]:
    """fetch(chunk) for every chunk, in order, with up to `ahead` of them running at once."""
    pending: deque[Future[bytes]] = deque()
    for chunk in chunks:
        pending.append(pool.submit(fetch, chunk))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def settle(clients: Clients, job: Job) -> Job:
    """Finishes a job whose rows are all accounted for; otherwise returns it unchanged."""
    if job.status not in (Status.PROCESSING, Status.CANCELING):
        return job
    store = announced_jobs(clients)
    crossed = job.threshold_crossed() if job.mode == "commit" else None
    if crossed and job.status == Status.PROCESSING and not job.settled:
        # past an error threshold: no new chunk is taken (they are skipped as unprocessed, as on a cancel)
        stopping = store.update(job.tenant, job.jobId, {"status": Status.CANCELING, "thresholdCrossed": crossed},
                                allowed_from={Status.PROCESSING})
        job = stopping or store.get(job.tenant, job.jobId) or job
        if job.status not in (Status.PROCESSING, Status.CANCELING):
            return job
    if not job.settled:
        return job
    write_results(clients, job)
    counts = job.counts
    if job.status == Status.PROCESSING and crossed:
        finished = store.finish(job, Status.FAILED, _threshold_reason(crossed, job), {Status.PROCESSING})
    elif job.status == Status.CANCELING and job.thresholdCrossed:
        finished = store.finish(job, Status.FAILED, _threshold_reason(job.thresholdCrossed, job), {Status.CANCELING})
    elif job.status == Status.PROCESSING and counts.dead:
        reason = (f"{counts.dead} rows could not be processed: their chunks failed repeatedly and went to the "
                  f"dead-letter queue (they are in the unprocessed result file); {counts.processed} rows were "
                  "processed")
        finished = store.finish(job, Status.FAILED, reason, {Status.PROCESSING})
    elif job.status == Status.PROCESSING and job.operation == "purge" and job.mode == "commit" and \
            (kept := finish_purge(clients, job)):
        finished = store.finish(job, Status.FAILED, kept, {Status.PROCESSING})
    elif job.status == Status.PROCESSING:
        finished = store.finish(job, Status.COMPLETED, None, {Status.PROCESSING})
    else:
        reason = (f"canceled on request: {counts.processed} rows were processed and stay applied, "
                  f"{counts.unprocessed} rows were not processed")
        finished = store.finish(job, Status.CANCELED, reason, {Status.CANCELING})
    return finished or store.get(job.tenant, job.jobId) or job


def _threshold_reason(crossed: str, job: Job) -> str:
    counts = job.counts
    return (f"stopped: {crossed}. {counts.failed} rows failed, {counts.created + counts.updated + counts.unchanged} "
            f"succeeded (and stay applied), {counts.unprocessed} were not processed, of the {job.total} rows read")
