"""The chunk ledger has no ceiling (issue 22): a chunk is counted by a DONE# marker item of its own, committed in
one transaction with the job's counters, so the job item stays the same size however many chunks a job has
(the `doneChunks` set it replaced capped a job at ~40,000 chunks: DynamoDB's 400 KB item limit).

`SLUICE_LEDGER_CHUNKS` sets the chunks of the big test (300 in `make test`; `make soak-ledger` runs 40,001: ~24 ms
of CPU a chunk against moto, measured 16 minutes of CPU, 47 minutes on the loaded shared machine;
docs/benchmarks.md)."""

from __future__ import annotations

import os
from typing import Any

from sluice.models.job import Job, RowCounts, Status
from sluice.pipeline.finalize import settle
from sluice.store.blobs import Storage, result_part_key
from sluice.store.jobs import JobStore
from tests.harness import Harness

CHUNKS = int(os.environ.get("SLUICE_LEDGER_CHUNKS", "300"))


def _job(h: Harness, chunks: int, rows_per_chunk: int) -> Job:
    job = Job.begin(tenant="acme", submitted_by="test", status=Status.PROCESSING, creation_path="API",
                    file_specs=[], retention_days=30, total=chunks * rows_per_chunk, chunkCount=chunks,
                    sourceHeader=["email"])
    JobStore(h.clients).create(job)
    return job


def _item_bytes(h: Harness, job: Job) -> int:
    item = h.dynamodb.get_item(TableName=h.clients.settings.jobs_table,
                               Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{job.jobId}"}})["Item"]
    return sum(len(name) + len(str(value)) for name, value in item.items())


def _part(chunk: int) -> bytes:
    """Chunk c holds rows 3c+1..3c+3: two created, one failed."""
    first = 3 * chunk + 1
    return (f"{first},created,k{first},k{first}\n{first + 1},created,k{first + 1},k{first + 1}\n"
            f"{first + 2},failed,email: not an email,bad{first + 2}\n").encode()


def test_the_job_item_does_not_grow_with_its_chunks(harness: Harness) -> None:
    store = JobStore(harness.clients)
    job = _job(harness, 150, 1)
    sizes: dict[int, int] = {}
    for chunk in range(150):
        assert store.commit_chunk("acme", job.jobId, chunk, RowCounts(created=1)) is not None
        if chunk in (9, 149):
            sizes[chunk] = _item_bytes(harness, job)
    assert abs(sizes[149] - sizes[9]) <= 8, sizes  # the counters' digits, nothing per chunk
    assert store.done_chunks(job.jobId) == set(range(150))
    assert store.done_chunks(job.jobId, 140) == set(range(140, 150))


def test_a_job_of_any_number_of_chunks_commits_each_once_and_finalises_exact(harness: Harness) -> None:
    store = JobStore(harness.clients)
    storage = Storage(harness.clients)
    job = _job(harness, CHUNKS, 3)
    for chunk in range(CHUNKS):
        storage.put(result_part_key("acme", job.jobId, chunk), _part(chunk))
        counts = RowCounts(created=2, failed=1)
        latest = store.commit_chunk("acme", job.jobId, chunk, counts)
        assert latest is not None and latest.counts.processed == 3 * (chunk + 1)
        if chunk % 97 == 0:  # delivered again: never counted twice
            assert store.commit_chunk("acme", job.jobId, chunk, counts) is None
    current = store.get("acme", job.jobId)
    assert current is not None and current.settled
    assert current.counts == RowCounts(created=2 * CHUNKS, failed=CHUNKS)
    done = settle(harness.clients, current)
    assert done.status == Status.COMPLETED
    again = settle(harness.clients, store.get("acme", job.jobId))
    assert again.status == Status.COMPLETED and again.finishMs == done.finishMs  # one conditional step: once
    view: dict[str, Any] = harness.job(job.jobId)
    assert view["counts"] == {"total": 3 * CHUNKS, "processed": 3 * CHUNKS, "created": 2 * CHUNKS, "updated": 0,
                              "unchanged": 0, "deleted": 0, "failed": CHUNKS, "unprocessed": 0}
    succeeded = harness.result_rows(job.jobId, "succeeded")
    failed = harness.result_rows(job.jobId, "failed")
    assert len(succeeded) == 1 + 2 * CHUNKS and len(failed) == 1 + CHUNKS
    assert [int(r[1]) for r in failed[1:]] == [3 * c + 3 for c in range(CHUNKS)]
    assert len(store.done_chunks(job.jobId)) == CHUNKS
