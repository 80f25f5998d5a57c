"""AWS calls are batched to the services' limits; a job's cost grows with rows only through record I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from moto import mock_aws

from sluice_local.metering import RequestMeter
from tests.harness import Harness


@pytest.fixture
def big_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        yield Harness(monkeypatch, rows_per_chunk=250)


def test_requests_per_job_are_batched(big_chunks: Harness) -> None:
    h = big_chunks
    h.define()
    h.drain("IngestQueue")  # the S3 test event
    meter = RequestMeter().attach(h.clients.dynamodb, h.clients.sqs, h.clients.s3)
    rows = "".join(f"u{i}@x.org,U{i},{i % 100}\n" for i in range(2600))  # 11 chunks of <= 250 rows
    job = h.submit_csv("email,name,age\n" + rows)
    h.pump()
    done = h.job(job["jobId"])
    assert done["counts"]["created"] == 2600 and done["status"] == "Completed"

    chunks = 11
    assert meter.batch_sizes["SendMessageBatch"] == [10, 1]
    # 10 chunks of 250 keys (100 + 100 + 50) and one of 100
    assert sorted(meter.batch_sizes["BatchGetItem"]) == sorted([100, 100, 50] * 10 + [100] + [2] * chunks)
    # every record written once in full batches of 25, plus one ledger item (counts, created keys) per chunk
    assert Counter(meter.batch_sizes["BatchWriteItem"]) == Counter({25: 104, 1: chunks})
    assert meter.counts["UpdateItem"] <= 6  # job status moves; chunks commit by transaction
    assert meter.counts["TransactWriteItems"] == chunks  # one commit per chunk: its ledger marker and the counters
    # the upload, a result part and a before-image object (what a revert restores) per chunk, 3 result files
    assert meter.counts["PutObject"] == 1 + 2 * chunks + 3
    # Besides record reads and writes, a chunk costs 7 requests (the job and its ledger marker read in one
    # BatchGetItem, before-images, ledger write, result part, the commit transaction, the job read after it, the
    # part read when finalising): 7 per 1,000 rows at the default chunk size of 1,000.
    record_reads = meter.counts["BatchGetItem"] - chunks
    non_record = sum(meter.counts.values()) - record_reads - 104
    # + a fixed 28 per job: submit, ingest, finalise, API reads, and one look-up of the tenant's webhook endpoints
    # for each event (job.accepted, job.completed)
    assert non_record <= 7 * chunks + 28, meter.counts


def test_an_import_without_before_images_makes_one_put_fewer_per_chunk(big_chunks: Harness) -> None:
    h = big_chunks
    h.define()
    h.drain("IngestQueue")
    meter = RequestMeter().attach(h.clients.dynamodb, h.clients.sqs, h.clients.s3)
    rows = "".join(f"u{i}@x.org,U{i},{i % 100}\n" for i in range(2600))
    job = h.submit_csv("email,name,age\n" + rows, revertible="false")
    h.pump()
    assert h.job(job["jobId"])["counts"]["created"] == 2600
    assert meter.counts["PutObject"] == 1 + 11 + 3


def test_a_status_read_reads_the_ledger_only_as_far_as_it_shows(harness: Harness) -> None:
    """A job's status (the API's most frequent request) costs the key, the job, and one small query each for its
    first row errors and created keys, only when the counts say there are some, however many chunks it has."""
    h = harness  # 3 rows a chunk
    h.define()
    h.drain("IngestQueue")
    first = h.submit_csv("email,name,age\n" + "".join(f"u{i}@x.org,U{i},1\n" for i in range(9)))
    h.pump()
    assert h.job(first["jobId"])["counts"]["created"] == 9
    # the same 9 rows first (3 chunks that create nothing), then 51 new rows of which rows 31 and 47 fail
    rows = [f"u{i}@x.org,U{i},{'x' if i in (30, 46) else 1}\n" for i in range(60)]
    second = h.submit_csv("email,name,age\n" + "".join(rows))
    h.pump()
    meter = RequestMeter().attach(h.clients.dynamodb, h.clients.sqs, h.clients.s3)
    done = h.job(second["jobId"])
    assert done["counts"]["created"] == 49 and done["counts"]["unchanged"] == 9 and done["counts"]["failed"] == 2
    assert done["objectsCreated"] == [f"u{i}@x.org" for i in range(9, 60) if i not in (30, 46)]
    assert [(e["row"], e["field"]) for e in done["errors"]] == [(31, "age"), (47, "age")]
    # the key, the job; errors in one page of at most 21 items; created keys in pages of 1, 2, 4, 8, 16 chunks
    assert dict(meter.counts) == {"GetItem": 2, "Query": 1 + 5}, meter.counts

    meter.reset()  # the first keys only: the pages stop at the chunks that hold them
    from sluice.store.jobs import JobStore

    assert JobStore(h.clients).objects_created(second["jobId"], limit=10) == [f"u{i}@x.org" for i in range(9, 19)]
    assert dict(meter.counts) == {"Query": 3}  # chunks 0; 1-2; 3-6 (12 keys)

    again = h.submit_csv("email,name,age\n" + "".join(f"u{i}@x.org,U{i},1\n" for i in range(9)))
    h.pump()
    meter.reset()  # nothing created, nothing failed: no ledger read at all
    unchanged = h.job(again["jobId"])
    assert unchanged["counts"]["unchanged"] == 9 and unchanged["objectsCreated"] == [] and unchanged["errors"] == []
    assert dict(meter.counts) == {"GetItem": 2}, meter.counts
