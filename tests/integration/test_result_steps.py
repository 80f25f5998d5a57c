"""A big job's result files are written by a chain of steps (issue 22): no invocation's timeout bounds a job.

Each step reads `ResultStepChunks` chunks' result parts and writes, per result file, a segment (at least 64 MiB;
here S3's smallest part, 5 MiB, which moto enforces as S3 does) or a carry the next step writes first; a file's
last step joins its segments inside S3. The files must be byte for byte what one invocation writes, under
redelivery, duplicates, crashes between steps and a lost continuation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sluice.models.filespec import FileFacts
from sluice.models.job import Job, RowCounts, Status
from sluice.models.results import ResultStepMessage
from sluice.pipeline import cancel, results
from sluice.pipeline.finalize import settle, write_result_step
from sluice.pipeline.sweeper import MAX_REDRIVES, sweep
from sluice.store import blobs, result_steps
from sluice.store.blobs import RESULT_KINDS, Storage, result_key, result_part_key
from sluice.store.jobs import JobStore
from tests.harness import Crash, Harness, crash_once

ROWS_PER_CHUNK = 1_000
PAD = "p" * 200  # ~250-byte rows: a chunk's part is ~250 KB, so a few steps make a 5 MiB segment


def _harness(monkeypatch: pytest.MonkeyPatch, step_chunks: int) -> Harness:
    # segments at S3's own smallest part (moto refuses a smaller one as S3 does), so that a few MB make several
    monkeypatch.setattr(results, "SEGMENT_MIN_BYTES", blobs.MIN_PART_BYTES)
    h = Harness(monkeypatch, result_step_chunks=step_chunks)
    h.discard("IngestQueue")  # the s3:TestEvent S3 sends when notifications are set up
    return h


@pytest.fixture
def stepped(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        yield _harness(monkeypatch, 15)


def _part(chunk: int) -> bytes:
    """Chunk c: 998 rows created, one failed, one unprocessed (in that order at the chunk's end)."""
    first = chunk * ROWS_PER_CHUNK + 1
    lines = [f"{row},created,k{row},k{row}@x.org,{PAD}\n" for row in range(first, first + ROWS_PER_CHUNK - 2)]
    last = first + ROWS_PER_CHUNK - 2
    lines.append(f'{last},failed,"email: not an email",=bad{last},{PAD}\n')
    lines.append(f"{last + 1},unprocessed,job canceled before this row was processed,k{last + 1}@x.org,\n")
    return "".join(lines).encode()


def _settled_job(h: Harness, chunks: int, files: list[int] | None = None, parts: bool = True) -> Job:
    """A job whose `chunks` chunks are all counted, their result parts in place (as the worker leaves them);
    files: the chunks of each file, for a job of several files."""
    store, storage = JobStore(h.clients), Storage(h.clients)
    facts: list[FileFacts] = []
    first = 0
    for index, count in enumerate(files or []):
        facts.append(FileFacts(name=f"f{index}.csv", itemType="contact", digest="0" * 64, size=1,
                               rows=count * ROWS_PER_CHUNK, firstChunk=first, chunkCount=count,
                               header=["email", "note"]))
        first += count
    job = Job.begin(tenant="acme", submitted_by="test", status=Status.PROCESSING, creation_path="API",
                    file_specs=[], retention_days=30, total=chunks * ROWS_PER_CHUNK, chunkCount=chunks,
                    sourceHeader=["email", "note"], files=facts)
    store.create(job)
    for chunk in range(chunks):
        if parts:
            storage.put(result_part_key("acme", job.jobId, chunk), _part(chunk))
        assert store.commit_chunk("acme", job.jobId, chunk,
                                  RowCounts(created=ROWS_PER_CHUNK - 2, failed=1, unprocessed=1)) is not None
    settled = store.get("acme", job.jobId)
    assert settled is not None and settled.settled
    return settled


def _digests(h: Harness, job: Job, file_index: int | None = None) -> dict[str, tuple[int, str]]:
    storage = Storage(h.clients)
    found = {}
    for kind in RESULT_KINDS:
        body = storage.open(result_key("acme", job.jobId, kind, file_index)).read()
        found[kind] = (body.count(b"\r\n"), hashlib.sha256(body).hexdigest())
    return found


def _expected(h: Harness, chunks: int, files: list[int] | None = None) -> list[dict[str, tuple[int, str]]]:
    """The result files one invocation writes for the same rows (another job, written at once)."""
    twin = _settled_job(h, chunks, files)
    results.write_results(Storage(h.clients), twin)
    assert JobStore(h.clients).finish(twin, Status.COMPLETED, None, {Status.PROCESSING}) is not None
    return [_digests(h, twin, index) for index in ([None] if not files else range(len(files)))]


def _deliver_steps(h: Harness, job_id: str, limit: int = 50) -> int:
    """Delivers IngestQueue messages one at a time until the job finishes; the steps delivered."""
    for delivered in range(limit):
        job = JobStore(h.clients).get("acme", job_id)
        assert job is not None
        if job.finished:
            return delivered
        assert h.pollers["IngestQueue"].poll_once(0) == 1, "the chain stopped"
    raise AssertionError("the result steps did not end")


@pytest.mark.parametrize(("chunks", "step_chunks"), [(40, 15), (45, 45 - 1)])
def test_the_steps_write_the_same_bytes_as_one_invocation(monkeypatch: pytest.MonkeyPatch, chunks: int,
                                                          step_chunks: int) -> None:
    """15-chunk steps (~3.7 MB each) carry their bytes on until a segment passes 5 MiB; 44-chunk steps write an
    ~11 MB segment, which the join copies as two ranges (COPY_PART_MAX_BYTES lowered to 10 MiB here)."""
    monkeypatch.setattr(blobs, "COPY_PART_MAX_BYTES", 10 * 1024**2)
    with mock_aws():
        h = _harness(monkeypatch, step_chunks)
        (expected,) = _expected(h, chunks)
        job = _settled_job(h, chunks)
        started = settle(h.clients, job)
        assert started.status == Status.PROCESSING and started.resultStep == 0
        steps = _deliver_steps(h, job.jobId)
        assert steps == -(-chunks // step_chunks)
        done = h.job(job.jobId)
        assert done["status"] == "Completed" and "resultFiles" not in done
        assert _digests(h, job) == expected
        assert expected["succeeded"][0] == 1 + chunks * (ROWS_PER_CHUNK - 2)
        assert expected["failed"][0] == expected["unprocessed"][0] == 1 + chunks
        failed = h.result_rows(job.jobId, "failed")
        assert failed[0] == ["email", "note", "sluice_row", "sluice_outcome", "sluice_message"]
        assert failed[1] == ["'=bad999", PAD, "999", "failed", "email: not an email"]
        assert [int(r[2]) for r in failed[1:]] == [c * ROWS_PER_CHUNK + 999 for c in range(chunks)]
        leftovers = h.s3.list_objects_v2(Bucket=h.clients.settings.bucket, Prefix=f"ingest/acme/{job.jobId}/")
        assert leftovers.get("KeyCount") == 0  # the chain's states and segments are removed once the files are whole


def test_a_job_of_several_files_gets_each_files_results_and_the_view_shows_the_steps(stepped: Harness) -> None:
    h = stepped
    files = [20, 3, 0, 17]  # a file read in two steps, one inside a step, an empty one, one across two
    expected = _expected(h, 40, files)
    job = _settled_job(h, 40, files)
    settle(h.clients, job)
    assert h.job(job.jobId)["resultFiles"] == {"chunksRead": 0, "chunks": 40}
    assert h.pollers["IngestQueue"].poll_once(0) == 1
    view = h.job(job.jobId)
    assert view["status"] == "Processing" and view["resultFiles"] == {"chunksRead": 15, "chunks": 40}
    assert (view["counts"]["processed"], view["counts"]["unprocessed"], view["counts"]["total"]) == (39_960, 40, 40_000)
    early = h.call("GET", f"/v1/jobs/{job.jobId}/results/succeeded?file=f0.csv")
    assert early.status_code == 409 and early.json()["error"]["message"] == (
        "the result files are being written: 15 of 40 chunks so far; they can be fetched when the job has finished")
    _deliver_steps(h, job.jobId)
    assert [_digests(h, job, index) for index in range(4)] == expected
    assert expected[2] == {kind: (1, expected[2][kind][1]) for kind in RESULT_KINDS}  # the empty file: its header


def _two_copies_at_once(h: Harness, message: ResultStepMessage) -> tuple[str | None, str]:
    """Runs the step twice at once: both copies read the same state and write the same objects, the second running
    to its end just before the first stores the next state (or, in the last step, joins the first result file).
    Their outcomes (second, first)."""
    save, join = result_steps.ResultSteps.save, Storage.join
    second: dict[str, str] = {}

    def run_second() -> None:
        if not second:
            second["outcome"] = "running"
            second["outcome"] = write_result_step(h.clients, message)

    def save_after_second(self: Any, *args: Any) -> None:
        run_second()
        save(self, *args)

    def join_after_second(self: Any, *args: Any) -> None:
        run_second()
        join(self, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(result_steps.ResultSteps, "save", save_after_second)
        patch.setattr(Storage, "join", join_after_second)
        try:
            outcome = write_result_step(h.clients, message)
        except ClientError as error:  # the second copy ended the job and removed the segments: this one is retried
            outcome = error.response["Error"]["Code"]
    return second.get("outcome"), outcome


def test_every_step_delivered_twice_and_run_twice_at_once_changes_nothing(stepped: Harness) -> None:
    h = stepped
    (expected,) = _expected(h, 40)
    job = _settled_job(h, 40)
    settle(h.clients, job)
    for step in range(3):
        message = ResultStepMessage(tenant="acme", jobId=job.jobId, step=step)
        h.discard("IngestQueue")
        other, outcome = _two_copies_at_once(h, message)
        if step < 2:
            assert (other, outcome) == ("continued", "continued")
        else:  # the first copy's join found the segments gone (moto answers 404 where S3 says NoSuchKey)
            assert other == "Completed" and outcome in ("NoSuchKey", "404")
        assert write_result_step(h.clients, message) in ("stale-step", "finished")  # delivered again later
    job_now = JobStore(h.clients).get("acme", job.jobId)
    assert job_now is not None and job_now.status == Status.COMPLETED
    assert _digests(h, job) == expected
    assert job_now.counts == RowCounts(created=40 * 998, failed=40, unprocessed=40)


@pytest.mark.parametrize("where", ["join", "save", "advance"])
def test_a_crash_inside_a_step_is_redelivered_to_the_same_files(stepped: Harness, monkeypatch: pytest.MonkeyPatch,
                                                                where: str) -> None:
    h = stepped
    (expected,) = _expected(h, 40)
    job = _settled_job(h, 40)
    target, name = {"join": (Storage, "join"), "save": (result_steps.ResultSteps, "save"),
                    "advance": (JobStore, "advance_result_step")}[where]
    crashes = crash_once(monkeypatch, target, name, after=where == "save", times=2)
    settle(h.clients, job)
    h.retry_at_once()
    _deliver_steps(h, job.jobId)
    assert crashes["crashes"] == 2
    assert _digests(h, job) == expected
    assert h.job(job.jobId)["status"] == "Completed"


def test_a_lost_step_is_sent_again_by_the_sweeper_and_a_chain_that_never_moves_ends_failed(
        stepped: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = stepped
    (expected,) = _expected(h, 40)
    job = _settled_job(h, 40)
    crash_once(monkeypatch, result_steps.ResultSteps, "send", when=lambda _self, m: m.step == 2)
    settle(h.clients, job)
    assert h.pollers["IngestQueue"].poll_once(0) == 1  # step 0
    with pytest.raises(Crash):  # step 1 moved the job on to step 2, then died before sending it
        write_result_step(h.clients, ResultStepMessage(tenant="acme", jobId=job.jobId, step=1))
    h.discard("IngestQueue")
    assert write_result_step(h.clients, ResultStepMessage(tenant="acme", jobId=job.jobId, step=1)) == "stale-step"
    stuck = h.job(job.jobId)
    assert stuck["status"] == "Processing" and stuck["resultFiles"]["chunksRead"] == 30
    soon = sweep(h.clients)
    assert "result-steps-redriven" not in soon and "jobs-finalised" not in soon  # not stale yet: left alone
    later = JobStore(h.clients).get("acme", job.jobId)
    assert later is not None and later.lastProgressMs is not None
    report = sweep(h.clients, now=later.lastProgressMs + h.clients.settings.stuck_minutes * 60_000 + 1)
    assert report.get("result-steps-redriven") == 1
    _deliver_steps(h, job.jobId)
    assert _digests(h, job) == expected
    assert h.job(job.jobId)["status"] == "Completed"

    other = _settled_job(h, 40)
    settle(h.clients, other)
    h.discard("IngestQueue")  # step 0 lost, again and again
    now = 0
    for _ in range(MAX_REDRIVES + 1):
        current = JobStore(h.clients).get("acme", other.jobId)
        assert current is not None and current.lastProgressMs is not None
        now = current.lastProgressMs + h.clients.settings.stuck_minutes * 60_000 + 1
        sweep(h.clients, now=now)
        h.discard("IngestQueue")
    failed = h.job(other.jobId)
    assert failed["status"] == "Failed"
    assert failed["reason"] == (f"its result files could not be written: no progress for "
                                f"{h.clients.settings.stuck_minutes} minutes after {MAX_REDRIVES} re-drives; all "
                                f"{40 * 999} processed rows stay applied")


def test_settlers_at_once_start_one_chain(stepped: Harness) -> None:
    h = stepped
    (expected,) = _expected(h, 40)
    job = _settled_job(h, 40)
    first, second = settle(h.clients, job), settle(h.clients, job)  # both read the job before either claimed it
    assert first.resultStep == second.resultStep == 0
    assert len(h.receive("IngestQueue", hide_seconds=0)) == 1  # one step 0 sent
    assert settle(h.clients, JobStore(h.clients).get("acme", job.jobId)).resultStep == 0  # a chain runs: nothing
    assert _deliver_steps(h, job.jobId) == 3
    assert _digests(h, job) == expected


def test_a_small_job_is_written_at_once_by_its_settler(stepped: Harness) -> None:
    h = stepped
    job = _settled_job(h, 15)
    assert settle(h.clients, job).status == Status.COMPLETED
    assert h.receive("IngestQueue", hide_seconds=0) == []
    assert len(h.result_rows(job.jobId, "succeeded")) == 1 + 15 * 998


def test_a_cancel_as_the_last_chunk_lands_writes_few_chunks_in_the_api(stepped: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancel request that moves a job the instant its last chunk was counted settles it in the API, which answers
    inside its 30 s: a job of more than INLINE_RESULT_CHUNKS chunks has its result files written in steps. (A cancel
    of a job already settled is refused: test_result_steps_attacks.)"""
    h = stepped
    monkeypatch.setattr(cancel, "INLINE_RESULT_CHUNKS", 5)
    job = _settled_job(h, 10)
    store = JobStore(h.clients)
    unsettled = job.model_copy(update={"counts": RowCounts(created=998)})
    real_get = JobStore.get
    monkeypatch.setattr(JobStore, "get", lambda self, tenant, job_id: unsettled if job_id == job.jobId else
                        real_get(self, tenant, job_id))  # the cancel read the job before its last chunk landed
    reply = h.call("POST", f"/v1/jobs/{job.jobId}/cancel")
    monkeypatch.setattr(JobStore, "get", real_get)
    assert reply.status_code == 202 and reply.json()["status"] == "Canceling"
    assert reply.json()["resultFiles"] == {"chunksRead": 0, "chunks": 10}
    assert store.get("acme", job.jobId).resultStep == 0
    _deliver_steps(h, job.jobId)
    done = h.job(job.jobId)
    assert done["status"] == "Canceled" and len(h.result_rows(job.jobId, "succeeded")) == 1 + 10 * 998
