"""A job's result files: the succeeded / failed / unprocessed CSVs, one set per job (or per file in a job of
several), written from the chunks' result parts in chunk order once the job is settled.

A job of at most `ResultStepChunks` chunks has them written at once by the invocation that settles it. A bigger
job's are written in steps (models/results.py): each reads that many chunks' parts and writes, per result file, a
segment of at least SEGMENT_MIN_BYTES (or a smaller carry the next step writes first); a file's last step joins its
segments inside S3."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

from sluice.models.csvsafe import neutralise
from sluice.models.job import Job, Outcome
from sluice.models.results import ResultAssembly, ResultFileProgress, Segment
from sluice.store.blobs import (
    MIN_PART_BYTES,
    RESULT_KINDS,
    Storage,
    StreamedObject,
    result_key,
    result_part_key,
    result_step_key,
)

OUTCOME_COLUMNS = ["sluice_row", "sluice_outcome", "sluice_message"]
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# chunks' parts are fetched this many at a time (within botocore's 10 pooled connections), this many ahead of the
# one being written
PREFETCH_THREADS = 8
PREFETCH_AHEAD = 32
RESULT_BUFFER_BYTES = 1 << 20
# A step's share of a result file becomes a segment (a part of the joined file) at this size, else it is carried to
# the next step. S3 joins at most 10,000 parts of at least 5 MiB: segments of 64 MiB or more let one result file
# reach 625 GiB however small the steps (at the default step, segments are ~0.5 GB: S3's 5 TiB object limit first),
# while a carry (at most this much per result file, read and written again by the next step) stays cheap.
SEGMENT_MIN_BYTES = 64 * 1024**2
assert SEGMENT_MIN_BYTES >= MIN_PART_BYTES
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


class Span(NamedTuple):
    """The chunks whose rows make one set of result files."""

    header: list[str]
    kept: list[int]  # the header's columns the result files repeat
    first: int
    chunk_count: int
    file_index: int | None  # None: the job's only set

    @property
    def end(self) -> int:
        return self.first + self.chunk_count


def spans_of(job: Job) -> list[Span]:
    """The job's sets of result files: one per file in a job of several files, else one."""
    files = job.files or None
    raw = [(f.header, f.firstChunk, f.chunkCount) for f in files] if files else \
        [(job.sourceHeader, 0, job.chunkCount or 0)]
    spans = []
    for index, (header, first, count) in enumerate(raw):
        # A retry reads a result file: its own outcome columns replace the ones it read, never repeat them.
        kept = [i for i, h in enumerate(header) if not (job.retryOf and h in OUTCOME_COLUMNS)]
        spans.append(Span(header, kept, first, count, None if len(raw) == 1 else index))
    return spans


def chunks_of(job: Job) -> int:
    """The chunks whose parts the job's result files are written from."""
    return sum(span.chunk_count for span in spans_of(job))


def write_results(storage: Storage, job: Job) -> None:
    """Writes every result file of a settled job in this invocation (a job of at most ResultStepChunks chunks)."""
    for span in spans_of(job):
        _write(storage, job, span, range(span.first, span.end),
               {kind: result_key(job.tenant, job.jobId, kind, span.file_index) for kind in RESULT_KINDS})


def result_step(storage: Storage, job: Job, state: ResultAssembly) -> ResultAssembly | None:
    """Step `state.step` of writing a big job's result files: reads at most `state.stepChunks` chunks' parts on from
    `state.chunk`. Returns the state the next step starts from, or None when every result file is written. A step
    run twice writes the same bytes (nothing it reads changes once the job settled), each copy to objects of its own,
    so whichever copy's state the chain goes on from names only objects that copy wrote."""
    spans = spans_of(job)
    state = state.model_copy(deep=True)
    left = state.stepChunks
    while state.span < len(spans):
        span = spans[state.span]
        start = max(state.chunk, span.first)
        take = min(span.end - start, left)
        if take == 0 and start < span.end:
            return state.model_copy(update={"step": state.step + 1, "chunk": start})
        ends = start + take == span.end
        finals = {kind: result_key(job.tenant, job.jobId, kind, span.file_index) for kind in RESULT_KINDS}
        if start == span.first and ends:  # the whole set in this step: written where it is read from
            _write(storage, job, span, range(start, span.end), finals)
        else:
            progress = {kind: state.files.get(kind, ResultFileProgress()) for kind in RESULT_KINDS}
            # named by this copy of the step too: the state it stores names only objects it wrote itself
            name = f"{state.span}/{start:010d}-{start + take:010d}-{uuid.uuid4().hex[:12]}"
            keys = {kind: result_step_key(job.tenant, job.jobId, f"{name}-{kind}.csv") for kind in RESULT_KINDS}
            carried = {kind: _read(storage, p.carry) for kind, p in progress.items()}
            sizes = _write(storage, job, span, range(start, start + take), keys, carried)
            for kind, file in progress.items():
                written = Segment(key=keys[kind], size=sizes[kind])
                if ends:
                    storage.join(finals[kind], [(s.key, s.size) for s in [*file.segments, written]], CSV_CONTENT_TYPE)
                elif written.size >= SEGMENT_MIN_BYTES:
                    file.segments.append(written)
                    file.carry = None
                else:
                    file.carry = written
            state.files = progress
        left -= take
        if ends:
            state.span += 1
            state.files = {}
        state.chunk = start + take
    return None


def _read(storage: Storage, segment: Segment | None) -> bytes:
    return bytes(storage.open(segment.key).read()) if segment is not None else b""


def _write(storage: Storage, job: Job, span: Span, chunks: range, keys: dict[str, str],
           carried: dict[str, bytes] | None = None) -> dict[str, int]:
    """Streams the chunks' result parts, in order, into one object per result kind (each uploaded in parts as it
    grows: no local disk, memory bounded), after the header row when the chunks are the span's first, or else after
    the bytes the step before carried to it. The parts are fetched ahead in parallel (one GET per chunk is the cost
    that grows). Returns each object's size."""
    header, kept = span.header, span.kept
    with contextlib.ExitStack() as stack:
        objects = {kind: StreamedObject(storage, key, CSV_CONTENT_TYPE) for kind, key in keys.items()}
        for streamed in objects.values():
            stack.callback(streamed.abort)  # unless closed (completed) first, below
        for kind, streamed in objects.items():
            streamed.write((carried or {}).get(kind, b""))
        texts = {kind: io.TextIOWrapper(io.BufferedWriter(streamed, RESULT_BUFFER_BYTES), encoding="utf-8",
                                        newline="") for kind, streamed in objects.items()}
        writers = {kind: csv.writer(text, lineterminator="\r\n") for kind, text in texts.items()}
        if chunks.start == span.first:
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
        return {kind: streamed.size for kind, streamed in objects.items()}


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
