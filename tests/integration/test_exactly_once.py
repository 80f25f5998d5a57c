"""At-least-once delivery, crashes between steps, and concurrency never double count or misclassify."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.pipeline import finalize
from sluice.pipeline import worker as processing
from sluice.store.blobs import Storage
from sluice.store.jobs import JobStore
from sluice.store.records import RecordStore
from tests.harness import Harness, crash_once

# 10 rows over 4 chunks of 3: 2 updates of existing records, 1 unchanged, 5 creates, 1 invalid, 1 duplicate.
SEED = "email,name\nold1@x.org,Old\nold2@x.org,Old\nsame@x.org,Same\n"
DATA = ("email,name,age\nold1@x.org,New,1\nn1@x.org,N1,2\nsame@x.org,Same,\nn2@x.org,N2,x\nold2@x.org,New,3\n"
        "n3@x.org,N3,4\nn4@x.org,N4,5\nn1@x.org,Dup,6\nn5@x.org,N5,7\nn6@x.org,N6,8\n")
EXPECTED_COUNTS = {"total": 10, "processed": 10, "created": 5, "updated": 2, "unchanged": 1, "deleted": 0, "failed": 2,
                   "unprocessed": 0}


def _seeded(h: Harness) -> None:
    h.define()
    assert h.run(h.submit_csv(SEED)["jobId"])["counts"]["created"] == 3


def _assert_exact(h: Harness, job: dict[str, Any]) -> None:
    assert job["status"] == "Completed", job
    assert job["counts"] == EXPECTED_COUNTS
    assert [(e["row"], e["message"]) for e in job["errors"]] == [
        (4, "expected an integer"), (8, "duplicate key, first seen at row 2")]
    assert job["objectsCreated"] == ["n1@x.org", "n3@x.org", "n4@x.org", "n5@x.org", "n6@x.org"]
    records = {r["key"]: r for r in h.call("GET", "/v1/records/contact?limit=100").json()["items"]}
    assert sorted(records) == ["n1@x.org", "n3@x.org", "n4@x.org", "n5@x.org", "n6@x.org", "old1@x.org",
                               "old2@x.org", "same@x.org"]
    assert records["old1@x.org"]["version"] == 2 and records["old1@x.org"]["attributes"]["name"] == "New"
    assert records["same@x.org"]["version"] == 1
    assert records["n1@x.org"]["attributes"] == {"email": "n1@x.org", "name": "N1", "age": 2}
    assert all(r["version"] == 1 for k, r in records.items() if k.startswith("n"))
    assert len(h.result_rows(job["jobId"], "succeeded")) == 1 + 8
    assert len(h.result_rows(job["jobId"], "failed")) == 1 + 2


def test_every_message_delivered_twice(harness: Harness) -> None:
    _seeded(harness)
    job = harness.submit_csv(DATA)
    harness.pump_twice()
    _assert_exact(harness, harness.job(job["jobId"]))


def _is_part(_: Any, key: str, *__: Any, **___: Any) -> bool:
    return "/parts/" in key


CRASH_POINTS = [
    # (object, attribute, crash after the real call ran?, which calls)
    pytest.param(RecordStore, "apply", True, None, id="after-record-writes"),
    pytest.param(JobStore, "write_ledger", True, None, id="after-ledger-write"),
    pytest.param(Storage, "put", True, _is_part, id="after-result-part"),
    pytest.param(JobStore, "commit_chunk", True, None, id="after-counters-before-settle"),
    pytest.param(finalize, "write_results", True, None, id="after-result-files-before-status"),
    pytest.param(JobStore, "finish", False, None, id="during-finalisation"),
    pytest.param(processing, "settle", False, None, id="before-finalisation"),
]


@pytest.mark.parametrize(("target", "name", "after", "when"), CRASH_POINTS)
def test_a_crash_at_each_step_is_retried_to_exact_counts(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                         target: Any, name: str, after: bool, when: Any) -> None:
    _seeded(harness)
    harness.retry_at_once()
    state = crash_once(monkeypatch, target, name, after=after, times=2, when=when)
    job = harness.submit_csv(DATA)
    harness.pump()
    assert state["crashes"] == 2
    _assert_exact(harness, harness.job(job["jobId"]))
    assert harness.dead_letters("ChunkDeadLetterQueue") == 0


def test_ingest_crash_after_sending_some_chunks_resends_the_same_chunks(harness: Harness,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _seeded(harness)
    harness.retry_at_once()
    from sluice.pipeline import ingest

    state = crash_once(monkeypatch, ingest.JobStore, "update", after=True, times=1)
    job = harness.submit_csv(DATA)
    harness.pump()
    assert state["crashes"] == 1
    _assert_exact(harness, harness.job(job["jobId"]))


def test_concurrent_delivery_of_one_chunk_counts_it_once(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers hold the same chunk; the second runs to the end between the first's writes and commit."""
    _seeded(harness)
    original = JobStore.commit_chunk
    raced: set[int] = set()

    def racing_commit(self: JobStore, tenant: str, job_id: str, chunk: int, counts: Any, file: int = 0,
                      expires_at: int | None = None) -> Any:
        if chunk not in raced:
            raced.add(chunk)
            messages = harness.sent_chunks.get((job_id, chunk))
            if messages is not None:
                processing.process_chunk(harness.clients, messages)
        return original(self, tenant, job_id, chunk, counts, file, expires_at)

    monkeypatch.setattr(JobStore, "commit_chunk", racing_commit)
    original_process = processing.process_chunk

    def remember(clients: Any, message: Any, records: Any = None) -> str:
        harness.sent_chunks.setdefault((message.jobId, message.chunk), message)
        return original_process(clients, message, records)

    monkeypatch.setattr(processing, "process_chunk", remember)
    worker_module = harness.functions.pools["WorkerFunction"]._free.queue[0].__globals__
    monkeypatch.setitem(worker_module, "process_chunk", remember)
    job = harness.submit_csv(DATA)
    harness.pump()
    assert len(raced) >= 4
    _assert_exact(harness, harness.job(job["jobId"]))
