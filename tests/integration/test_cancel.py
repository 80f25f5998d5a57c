"""Canceling: in-flight chunks stop at chunk boundaries, applied rows stay applied and counted."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.pipeline import cancel as canceling
from sluice.store.queue import MessageSender
from tests.harness import Harness


def _rows(n: int) -> str:
    return "email,name\n" + "".join(f"u{i}@x.org,U{i}\n" for i in range(1, n + 1))


def test_cancel_between_chunks_ends_canceled_with_exact_counts(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv(_rows(9))  # 3 chunks of 3
    harness.drain("IngestQueue")
    first = harness.receive("ChunkQueue", 1)
    assert len(first) == 1
    from sluice_local.runtime import sqs_event

    harness.invoke("WorkerFunction", sqs_event(first, "arn"))
    harness.sqs.delete_message(QueueUrl=harness.queue_url("ChunkQueue"), ReceiptHandle=first[0]["ReceiptHandle"])
    reply = harness.call("POST", f"/v1/jobs/{job['jobId']}/cancel")
    assert reply.status_code == 202 and reply.json()["status"] == "Canceling"
    assert harness.call("POST", f"/v1/jobs/{job['jobId']}/cancel").json()["status"] == "Canceling"
    done = harness.run(job["jobId"])
    assert done["status"] == "Canceled"
    assert done["counts"] == {"total": 9, "processed": 3, "created": 3, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 0, "unprocessed": 6}
    assert "3 rows were processed" in done["reason"] and "6 rows were not processed" in done["reason"]
    keys = [r["key"] for r in harness.call("GET", "/v1/records/contact").json()["items"]]
    assert len(keys) == 3
    unprocessed = harness.result_rows(job["jobId"], "unprocessed")
    assert len(unprocessed) == 7 and unprocessed[1][-2] == "unprocessed"
    again = harness.call("POST", f"/v1/jobs/{job['jobId']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_cancel_before_ingest_ends_canceled_with_nothing_read(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv(_rows(5))
    assert harness.call("POST", f"/v1/jobs/{job['jobId']}/cancel").json()["status"] == "Canceling"
    done = harness.run(job["jobId"])
    assert done["status"] == "Canceled" and done["counts"]["total"] == 0 and done["counts"]["processed"] == 0


def test_cancel_an_open_upload_job(harness: Harness) -> None:
    harness.define()
    job = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "x.csv"}).json()
    done = harness.call("POST", f"/v1/jobs/{job['jobId']}/cancel").json()
    assert done["status"] == "Canceled" and done["finished"] is True
    assert "uploadUrl" not in done


def test_cancel_during_ingest_stops_reading(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    job = harness.submit_csv(_rows(60))  # 20 chunks: ingest checkpoints after each 10
    original = MessageSender.flush
    state = {"flushes": 0}

    def flush_then_cancel(self: MessageSender) -> None:
        original(self)
        state["flushes"] += 1
        if state["flushes"] == 1:
            canceling.cancel(harness.clients, "acme", job["jobId"])

    monkeypatch.setattr(MessageSender, "flush", flush_then_cancel)
    done = harness.run(job["jobId"])
    assert done["status"] == "Canceled"
    counts: dict[str, Any] = done["counts"]
    assert counts["total"] == 30 and counts["processed"] + counts["unprocessed"] == 30
    assert counts["unprocessed"] == 30  # every sent chunk arrived after the cancel
