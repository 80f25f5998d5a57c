"""`python -m bench.result_steps`: what writing a job's result files costs, at once and in a chain of steps.

In-process against moto: a settled job of CHUNKS chunks of 1,000 rows (~100-byte rows, one failed row a chunk),
its result parts in place as the workers leave them; its result files written by one invocation
(`write_results`), then those of an identical job by a chain of steps of STEP chunks (each step delivered
through the IngestQueue, the segments joined in S3). Prints rows/s for each and the S3 requests a step adds.
Figures in docs/benchmarks.md."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from typing import Any

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                   "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true",
                   "POWERTOOLS_TRACE_DISABLED": "true"})

import pytest  # after the environment above: boto3 and moto read it at import
from moto import mock_aws

from sluice.models.job import Job, RowCounts, Status
from sluice.pipeline.finalize import settle
from sluice.pipeline.results import write_results
from sluice.store.blobs import Storage, result_part_key
from sluice.store.jobs import JobStore
from tests.harness import Harness

ROWS_PER_CHUNK = 1_000


def _part(chunk: int) -> bytes:
    first = chunk * ROWS_PER_CHUNK + 1
    lines = [f"{row},created,k{row}@example.org,k{row}@example.org,Person number {row:09d} Smith,{row % 100},"
             f"2024-01-01,Springfield,{row * 7 % 1000}\n" for row in range(first, first + ROWS_PER_CHUNK - 1)]
    last = first + ROWS_PER_CHUNK - 1
    lines.append(f'{last},failed,"email: not an email",bad{last},Person,{last % 100},2024-01-01,Springfield,1\n')
    return "".join(lines).encode()


def _job(h: Harness, chunks: int) -> Job:
    store, storage = JobStore(h.clients), Storage(h.clients)
    job = Job.begin(tenant="acme", submitted_by="bench", status=Status.PROCESSING, creation_path="API",
                    file_specs=[], retention_days=30, total=chunks * ROWS_PER_CHUNK, chunkCount=chunks,
                    sourceHeader=["email", "name", "age", "joined", "city", "score"])
    store.create(job)
    for chunk in range(chunks):
        storage.put(result_part_key("acme", job.jobId, chunk), _part(chunk))
        store.commit_chunk("acme", job.jobId, chunk, RowCounts(created=ROWS_PER_CHUNK - 1, failed=1))
    settled = store.get("acme", job.jobId)
    assert settled is not None and settled.settled
    return settled


def _count_requests(h: Harness, counter: Counter[str]) -> None:
    def count(params: Any, model: Any, **_: Any) -> None:
        counter[model.name] += 1

    h.clients.s3.meta.events.register("before-call.s3", count)


def main(chunks: int = 200, step: int = 50) -> None:
    patch = pytest.MonkeyPatch()
    with mock_aws():
        h = Harness(patch, result_step_chunks=step)
        h.discard("IngestQueue")
        counter: Counter[str] = Counter()
        _count_requests(h, counter)
        at_once = _job(h, chunks)
        counter.clear()
        started = time.perf_counter()
        write_results(Storage(h.clients), at_once)
        inline = time.perf_counter() - started
        inline_requests = dict(counter)
        stepped = _job(h, chunks)
        counter.clear()
        started = time.perf_counter()
        settle(h.clients, stepped)
        steps = 0
        while True:
            current = JobStore(h.clients).get("acme", stepped.jobId)
            assert current is not None
            if current.finished:
                break
            assert h.pollers["IngestQueue"].poll_once(0) == 1
            steps += 1
        chained = time.perf_counter() - started
        assert current.status == Status.COMPLETED
        size = Storage(h.clients).size(f"results/acme/{stepped.jobId}/succeeded.csv")
        rows = chunks * ROWS_PER_CHUNK
        print(f"{chunks} chunks ({rows:,} rows, succeeded file {size / 1e6:.1f} MB)")
        print(f"  at once:           {inline:6.2f} s  {rows / inline:9,.0f} rows/s  S3 {inline_requests}")
        print(f"  {steps} steps of {step}: {chained:6.2f} s  {rows / chained:9,.0f} rows/s  S3 {dict(counter)}")
    patch.undo()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
