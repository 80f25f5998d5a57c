"""Red team of the result-file chain (pipeline/results.py, issue 22): real jobs through the whole pipeline with
tiny steps (ResultStepChunks of 2 or 3 chunks of 3 rows), checked against what one invocation writes for the same
job, and the races and edges around the chain."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

from sluice.models.job import Status
from sluice.models.results import ResultStepMessage
from sluice.models.slices import SliceMessage
from sluice.pipeline import ingest, results
from sluice.pipeline.finalize import settle, write_result_step
from sluice.pipeline.sweeper import MAX_REDRIVES, sweep
from sluice.store.blobs import MIN_PART_BYTES, RESULT_KINDS, Storage, result_key
from sluice.store.jobs import JobStore
from sluice.store.records import RecordStore
from sluice_local.template import Template
from tests.harness import Crash, Harness, crash_once
from tests.integration.first_pass_support import SLICE
from tests.integration.test_result_steps import _deliver_steps, _digests, _expected, _settled_job
from tests.integration.test_slices import sliced_csv

HEADER = "email,name,age,joined,tier,score,active\n"


def _harness(monkeypatch: pytest.MonkeyPatch, step_chunks: int) -> Harness:
    h = Harness(monkeypatch, result_step_chunks=step_chunks)
    h.discard("IngestQueue")  # the s3:TestEvent S3 sends when notifications are set up
    _s3_refuses_byte_ranges_of_small_sources(h)
    h.define()
    return h


@pytest.fixture
def steps2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        yield _harness(monkeypatch, 2)


def _rows(count: int, failing: int = 3) -> str:
    """`count` contacts; every `failing`-th has age 200 (over the maximum: a failed row)."""
    return HEADER + "".join(f"r{i}@x.org,R{i},{200 if i % failing == 0 else 30},,,,\n" for i in range(1, count + 1))


def _submit(h: Harness, text: str, **options: str) -> str:
    reply = h.call("POST", "/v1/jobs", files={"file": ("data.csv", io.BytesIO(text.encode()))},
                   data={"itemType": "contact", **options})
    assert reply.status_code == 202, reply.content
    return str(reply.json()["jobId"])


def _files(h: Harness, job_id: str) -> dict[tuple[int | None, str], bytes]:
    job = JobStore(h.clients).get("acme", job_id)
    assert job is not None
    indexes: list[int | None] = [None] if len(job.files) <= 1 else list(range(len(job.files)))
    storage = Storage(h.clients)
    return {(index, kind): bytes(storage.open(result_key("acme", job_id, kind, index)).read())
            for index in indexes for kind in RESULT_KINDS}


def _assert_as_one_invocation(h: Harness, job_id: str) -> dict[tuple[int | None, str], bytes]:
    """The chain's result files, byte for byte what the settling invocation writes for the same job at once."""
    chained = _files(h, job_id)
    job = JobStore(h.clients).get("acme", job_id)
    assert job is not None and job.finished and job.resultStep is not None, "the files were not written in steps"
    results.write_results(Storage(h.clients), job)
    assert _files(h, job_id) == chained
    leftovers = h.s3.list_objects_v2(Bucket=h.clients.settings.bucket, Prefix=f"ingest/acme/{job_id}/results/")
    assert leftovers.get("KeyCount") == 0
    return chained


def _row_numbers(body: bytes) -> list[int]:
    return [int(r[-3]) for r in list(csv.reader(io.StringIO(body.decode())))[1:]]


def test_a_real_job_under_shuffled_duplicated_delivery_gets_the_same_bytes(steps2: Harness) -> None:
    h = steps2
    job_id = _submit(h, _rows(40))  # 14 chunks of 3: 7 steps
    h.pump_shuffled(seed=3, duplicate=0.5)
    job = h.job(job_id)
    assert job["status"] == "Completed", job
    assert (job["counts"]["created"], job["counts"]["failed"]) == (27, 13)
    files = _assert_as_one_invocation(h, job_id)
    assert _row_numbers(files[(None, "failed")]) == list(range(3, 41, 3))
    assert _row_numbers(files[(None, "succeeded")]) == [n for n in range(1, 41) if n % 3]
    assert files[(None, "unprocessed")] == b"email,name,age,joined,tier,score,active,sluice_row,sluice_outcome," \
                                           b"sluice_message\r\n"


def test_a_job_whose_every_row_failed(steps2: Harness) -> None:
    h = steps2
    job_id = _submit(h, _rows(20, failing=1))
    job = h.run(job_id)
    assert job["status"] == "Completed" and job["counts"]["failed"] == 20
    files = _assert_as_one_invocation(h, job_id)
    assert files[(None, "succeeded")].count(b"\r\n") == 1
    assert _row_numbers(files[(None, "failed")]) == list(range(1, 21))


def test_a_threshold_crossed_job_of_many_chunks_ends_failed_with_its_unprocessed_rows(steps2: Harness) -> None:
    h = steps2
    job_id = _submit(h, _rows(60), maxFailedRows="4")  # chunks of 3, one failed row each: the 5th crosses
    h.pump()
    job = h.job(job_id)
    assert job["status"] == "Failed", job
    assert job["reason"].startswith("stopped: more than maxFailedRows=4 rows failed.")
    counts = job["counts"]
    assert counts["processed"] + counts["unprocessed"] == 60 and counts["unprocessed"] > 0
    files = _assert_as_one_invocation(h, job_id)
    found = {kind: _row_numbers(files[(None, kind)]) for kind in RESULT_KINDS}
    assert sorted(found["succeeded"] + found["failed"] + found["unprocessed"]) == list(range(1, 61))
    assert len(found["unprocessed"]) == counts["unprocessed"]


def test_a_retry_of_a_chained_job_keeps_the_columns_once(steps2: Harness) -> None:
    h = steps2
    first = _submit(h, _rows(30))
    assert h.run(first)["counts"]["failed"] == 10
    _assert_as_one_invocation(h, first)
    retry = h.call("POST", f"/v1/jobs/{first}/retry-failed")
    assert retry.status_code == 202, retry.content
    second = h.run(retry.json()["jobId"])
    assert second["status"] == "Completed" and second["counts"]["failed"] == 10, second
    files = _assert_as_one_invocation(h, second["jobId"])
    failed = files[(None, "failed")].decode().split("\r\n")
    assert failed[0] == "email,name,age,joined,tier,score,active,sluice_row,sluice_outcome,sluice_message"
    assert failed[1].startswith("r3@x.org,R3,200,,,,,1,failed,")


def test_a_job_canceled_while_its_chunks_run_writes_its_unprocessed_rows(steps2: Harness) -> None:
    h = steps2
    job_id = _submit(h, _rows(60))
    h.drain("IngestQueue")  # read: 20 chunks queued
    for _ in range(2):
        h.pollers["ChunkQueue"].poll_once(0)
    canceled = h.call("POST", f"/v1/jobs/{job_id}/cancel")
    assert canceled.status_code == 202, canceled.content
    job = h.run(job_id)
    assert job["status"] == "Canceled", job
    assert job["counts"]["unprocessed"] > 0
    files = _assert_as_one_invocation(h, job_id)
    found = {kind: _row_numbers(files[(None, kind)]) for kind in RESULT_KINDS}
    assert sorted(found["succeeded"] + found["failed"] + found["unprocessed"]) == list(range(1, 61))


ORG_SCHEMA = {"key": ["code"], "fields": {"code": {"type": "string", "required": True},
                                         "title": {"type": "string"}}}


@pytest.mark.parametrize("sizes", [(6, 0, 7), (0, 6, 5), (7, 5, 0)])
def test_a_staged_job_of_several_files_some_empty_at_step_boundaries(steps2: Harness, sizes: tuple[int, ...]) -> None:
    """Files of 2 chunks, none (a header only) and 3 chunks: the empty file falls on a step boundary."""
    h = steps2
    h.define("org", ORG_SCHEMA)
    names = [f"f{i}.csv" for i in range(len(sizes))]
    control = {"files": {name: {"itemType": "contact"} for name in names}}
    digest = h.call("POST", "/v1/controls", body=json.dumps(control).encode(),
                    content_type="application/json").json()["digest"]
    opened = h.call("POST", "/v1/jobs", json_body={"control": digest})
    assert opened.status_code == 201, opened.content
    job_id = opened.json()["jobId"]
    first = 1
    for name, size in zip(names, sizes, strict=True):
        text = HEADER + "".join(f"{name[:2]}r{i}@x.org,R{i},{200 if i % 4 == 0 else 30},,,,\n"
                                for i in range(first, first + size))
        added = h.call("POST", f"/v1/jobs/{job_id}/files", files={"file": (name, io.BytesIO(text.encode()))},
                       data={"name": name})
        assert added.status_code == 200, added.content
    scheduled = h.call("POST", f"/v1/jobs/{job_id}/schedule", json_body={"mode": "commit"})
    assert scheduled.status_code == 202, scheduled.content
    job = h.run(job_id)
    assert job["status"] == "Completed", job
    assert [f["rows"] for f in job["files"]] == list(sizes)
    files = _assert_as_one_invocation(h, job_id)
    for index, size in enumerate(sizes):
        body = files[(index, "succeeded")] + files[(index, "failed")]
        assert body.count(b"\r\n") == 2 + size


def test_download_links_of_a_chained_job(steps2: Harness) -> None:
    h = steps2
    job_id = _submit(h, _rows(12))
    h.run(job_id)
    link = h.call("GET", f"/v1/jobs/{job_id}/results/failed").json()
    body = requests.get(link["url"], timeout=10).content
    assert _row_numbers(body) == [3, 6, 9, 12]




def test_a_job_with_dead_lettered_chunks_ends_failed_through_its_chain(steps2: Harness,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweeper counts the dead chunks (their rows unprocessed), settles the job and so starts its chain."""
    h = steps2
    h.retry_at_once()
    crash_once(monkeypatch, RecordStore, "apply", times=1000,
               when=lambda *a, **k: any(c.key in ("r8@x.org", "r32@x.org") for c in a[5]))
    job_id = _submit(h, _rows(45))  # chunks 2 (rows 7-9) and 10 (rows 31-33) never get through
    for _ in range(12):
        h.pump()
    assert h.dead_letters("ChunkDeadLetterQueue") == 2
    assert sweep(h.clients) == {"dead-chunks": 2, "dead-rows": 6}
    assert h.job(job_id)["status"] == "Processing"  # its chain runs
    job = h.run(job_id)
    assert job["status"] == "Failed" and job["reason"].startswith("6 rows could not be processed")
    files = _assert_as_one_invocation(h, job_id)
    assert _row_numbers(files[(None, "unprocessed")]) == [7, 8, 9, 31, 32, 33]


# --- the chain itself (settled jobs made by hand, as in test_result_steps.py) --------------------------------


@pytest.fixture
def stepped(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setattr(results, "SEGMENT_MIN_BYTES", MIN_PART_BYTES)  # a few MB make several segments
    with mock_aws():
        h = Harness(monkeypatch, result_step_chunks=15)
        h.discard("IngestQueue")
        _s3_refuses_byte_ranges_of_small_sources(h)
        yield h


def _queued_steps(h: Harness) -> list[int]:
    return sorted(json.loads(m["Body"])["resultStep"]["step"] for m in h.receive("IngestQueue", hide_seconds=0))


def test_two_copies_of_a_step_at_once_send_the_next_step_once(stepped: Harness,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the copy that moved the job on sends the next step: the other one's advance fails its condition.
    (It was taken for this copy's own retried write, as the job then names the next step either way: both copies
    sent it, and the two copies of every later step, started together, did so again, to the chain's end.)"""
    h = stepped
    job = _settled_job(h, 40)
    settle(h.clients, job)
    h.discard("IngestQueue")
    message = ResultStepMessage(tenant="acme", jobId=job.jobId, step=0)
    advance = JobStore.advance_result_step
    other: dict[str, str] = {}

    def advance_after_the_other_copy(self: JobStore, *args: Any) -> bool:
        if not other:
            other["outcome"] = "running"
            other["outcome"] = write_result_step(h.clients, message)
        return advance(self, *args)

    monkeypatch.setattr(JobStore, "advance_result_step", advance_after_the_other_copy)
    assert write_result_step(h.clients, message) == "continued"
    assert other["outcome"] == "continued"
    assert _queued_steps(h) == [1]


def test_a_job_re_driven_while_it_read_still_gets_its_result_step_re_sent(stepped: Harness) -> None:
    """The sweeper's re-drives of a job's reading are not the chain's: a job re-driven MAX_REDRIVES times before
    it settled has its lost result step sent again, not Failed at the first stall."""
    h = stepped
    (expected,) = _expected(h, 40)
    job = _settled_job(h, 40)
    assert JobStore(h.clients).update("acme", job.jobId, {"redrives": MAX_REDRIVES}) is not None
    settle(h.clients, JobStore(h.clients).get("acme", job.jobId))
    h.discard("IngestQueue")  # step 0 lost
    current = JobStore(h.clients).get("acme", job.jobId)
    assert current is not None and current.lastProgressMs is not None
    report = sweep(h.clients, now=current.lastProgressMs + h.clients.settings.stuck_minutes * 60_000 + 1)
    assert report.get("result-steps-redriven") == 1, report
    _deliver_steps(h, job.jobId)
    assert h.job(job.jobId)["status"] == "Completed"
    assert _digests(h, job) == expected


def test_a_cancel_while_the_result_files_are_written_does_not_hide_a_crossed_threshold(stepped: Harness) -> None:
    h = stepped
    job = _settled_job(h, 40)  # one failed row a chunk: 40 failed rows
    crossed = JobStore(h.clients).update("acme", job.jobId, {"maxFailedRows": 10})
    assert crossed is not None and crossed.threshold_crossed()
    assert settle(h.clients, crossed).resultStep == 0
    assert h.pollers["IngestQueue"].poll_once(0) == 1
    refused = h.call("POST", f"/v1/jobs/{job.jobId}/cancel")  # every row is processed: nothing to stop
    assert refused.status_code == 409 and refused.json()["error"]["message"] == (
        f"job {job.jobId} has processed every row (its result files are being written: 15 of 40 chunks so far); "
        "nothing to cancel: it finishes on its own")
    _deliver_steps(h, job.jobId)
    done = h.job(job.jobId)
    assert done["status"] == "Failed"
    assert done["reason"].startswith("stopped: more than maxFailedRows=10 rows failed.")


def _deploy(h: Harness, **settings: Any) -> None:
    """The functions' settings as a new deploy sets them (the clients are shared by every function here, and made
    again by the next test's harness)."""
    object.__setattr__(h.clients, "settings", h.clients.settings.model_copy(update=settings))


def test_result_step_chunks_changed_by_a_deploy_in_the_middle_of_a_chain(stepped: Harness,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 0 fixes the chain's step size in its state: later steps keep it whatever the setting says now. A step 0
    that died after storing the next state and runs again after the deploy starts over with the new size."""
    h = stepped
    (expected,) = _expected(h, 40)
    job = _settled_job(h, 40)
    settle(h.clients, job)
    crash_once(monkeypatch, JobStore, "advance_result_step")
    h.retry_at_once()
    assert h.pollers["IngestQueue"].poll_once(0) == 1  # step 0 (15 chunks) stored state 1, then died
    _deploy(h, result_step_chunks=7)
    _deliver_steps(h, job.jobId)  # step 0 again (7 chunks), then 7 a step
    assert _digests(h, job) == expected
    done = JobStore(h.clients).get("acme", job.jobId)
    assert done is not None and done.status == Status.COMPLETED and done.resultStep == 5  # 0-7, ..., 35-40

    other = _settled_job(h, 40)
    settle(h.clients, other)
    assert h.pollers["IngestQueue"].poll_once(0) == 1  # step 0 with 7 a step
    _deploy(h, result_step_chunks=30)
    _deliver_steps(h, other.jobId)
    assert _digests(h, other) == expected
    finished = JobStore(h.clients).get("acme", other.jobId)
    assert finished is not None and finished.resultStep == 5


def _s3_refuses_byte_ranges_of_small_sources(h: Harness) -> list[int]:
    """S3's rule that moto does not check: UploadPartCopy copies a byte range (x-amz-copy-source-range) only from a
    source object greater than 5 MB, else InvalidRequest "The specified copy source is not supported as a
    byte-range copy source" (API reference, UploadPartCopy). Returns the sizes of the sources copied whole."""
    whole: list[int] = []

    def check(params: dict[str, Any], **_: Any) -> None:
        source = params["CopySource"]
        size = int(h.s3.head_object(Bucket=source["Bucket"], Key=source["Key"])["ContentLength"])
        if "CopySourceRange" not in params:
            whole.append(size)
        elif size <= MIN_PART_BYTES:
            raise ClientError({"Error": {"Code": "InvalidRequest", "Message": "The specified copy source is not "
                                         "supported as a byte-range copy source."}}, "UploadPartCopy")

    h.clients.s3.meta.events.register("provide-client-params.s3.UploadPartCopy", check)
    return whole


def test_the_join_copies_a_small_segment_whole_as_s3_allows(stepped: Harness) -> None:
    """The failed and unprocessed files of a chained job are small (one carry of 40 rows): joined from one source
    of a few KB, copied whole (a byte range of it is refused by S3, which failed every chained job's last step)."""
    h = stepped
    whole = _s3_refuses_byte_ranges_of_small_sources(h)
    (expected,) = _expected(h, 40)
    job = _settled_job(h, 40)
    settle(h.clients, job)
    h.retry_at_once()
    _deliver_steps(h, job.jobId)
    assert h.job(job.jobId)["status"] == "Completed"
    assert _digests(h, job) == expected
    # succeeded: a segment over 5 MiB and the last one under it; failed and unprocessed: one small source each
    assert len(whole) == 4 and sum(size > MIN_PART_BYTES for size in whole) == 1


# --- slices: a continuation delivered before its job moved on (pipeline/ingest.py _moved_on) --------------------


def test_a_continuation_whose_job_ended_without_moving_on_to_it_is_dropped_not_retried(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Slice 0 sent its continuation and died before moving the job on; the job then ended (here the sweeper
    failed it). The continuation can never be moved on to: it is dropped as its job is finished, not retried until
    the dead-letter queue (where the sweeper logs it as a slice that failed repeatedly, of a job to re-drive)."""
    with mock_aws():
        h = Harness(monkeypatch, rows_per_chunk=100, ingest_slice_bytes=SLICE)
        h.define()
        monkeypatch.setattr(ingest, "AHEAD_PAUSES_SECONDS", (0.0, 0.0))
        crash_once(monkeypatch, JobStore, "advance_slice")
        job_id = h.submit_csv(sliced_csv()[0])["jobId"]
        with pytest.raises(Crash):
            ingest.ingest_upload(h.clients, f"uploads/acme/{job_id}/data")
        store = JobStore(h.clients)
        job = store.get("acme", job_id)
        assert job is not None and (job.ingestRun, job.ingestSlice) == (0, 0)
        orphan = SliceMessage(tenant="acme", jobId=job_id, run=0, slice=1)
        with pytest.raises(ingest.SliceAhead):  # the job may still move on to it (slice 0 is delivered again)
            ingest.ingest_slice(h.clients, orphan)
        assert store.finish(job, Status.FAILED, "no progress", {Status.PROCESSING}) is not None
        assert ingest.ingest_slice(h.clients, orphan) == "finished"


# --- permissions: moto checks none, so the template is read ------------------------------------------------------


def _tables_readable(function: dict[str, Any]) -> set[str]:
    return {arguments["TableName"]["Ref"] for policy in function["Properties"].get("Policies", [])
            for name, arguments in policy.items()
            if name in ("DynamoDBReadPolicy", "DynamoDBCrudPolicy") and isinstance(arguments, dict)}


@pytest.mark.parametrize("function", ["IngestFunction", "SweeperFunction", "WorkerFunction", "ApiFunction"])
def test_every_function_that_finishes_a_job_can_read_what_finishing_a_purge_reads(function: str) -> None:
    """Finishing a purge job asks whether records of its item type were written meanwhile (finish_purge: a query
    of the RecordsTable). A big job is now finished by the last step of its chain, in the ingest function; the
    sweeper finishes jobs too (and settles them when their last chunks are dead letters)."""
    resources = Template().resources
    assert "RecordsTable" in _tables_readable(resources[function])
