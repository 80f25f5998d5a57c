"""The pollers honour the template's redrive policy: a message that keeps failing ends in the DLQ."""

from __future__ import annotations

import pytest

from sluice.store.records import RecordStore
from tests.harness import Harness, crash_once


def test_a_chunk_that_always_fails_moves_to_the_dead_letter_queue(harness: Harness,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    harness.retry_at_once()
    state = crash_once(monkeypatch, RecordStore, "apply", times=1000)
    job = harness.submit_csv("email\na@x.org\n")
    for _ in range(20):
        harness.pump()
    max_receives = int(harness.template.resources["ChunkQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"])
    assert state["crashes"] == max_receives
    assert harness.dead_letters("ChunkDeadLetterQueue") == 1
    stuck = harness.job(job["jobId"])
    assert stuck["status"] == "Processing" and stuck["counts"]["processed"] == 0
