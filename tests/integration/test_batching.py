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
