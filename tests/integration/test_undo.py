"""Undo: deleting records (one, by a delete job, a whole item type) and reverting a job, exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.pipeline import undo
from sluice.store.records import RecordMeta, RecordStore
from sluice.store.undo import UndoImages
from tests.harness import Harness, crash_once

SEED = "email,name,age\na@x.org,Ann,30\nb@x.org,Bob,40\nz@x.org,Zed,50\n"
# creates c, d, e; updates a and b; z unchanged
IMPORT = "email,name,age\na@x.org,Ann B,31\nc@x.org,Cy,1\nb@x.org,Bob,41\nd@x.org,Di,2\ne@x.org,Ed,3\nz@x.org,Zed,50\n"


def stored_records(h: Harness) -> dict[str, dict[str, Any]]:
    """Every record item as DynamoDB holds it, by key."""
    table = h.clients.settings.records_table
    items: dict[str, dict[str, Any]] = {}
    for page in h.dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            items[item["sk"]["S"]] = item
    return items


def version(item: dict[str, Any]) -> int:
    return RecordMeta.decode(item["m"]["S"]).version


def seeded_import(h: Harness) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The store before the import, and the import (3 created, 2 updated, 1 unchanged)."""
    h.define()
    assert h.run(h.submit_csv(SEED)["jobId"])["counts"]["created"] == 3
    before = stored_records(h)
    job = h.run(h.submit_csv(IMPORT)["jobId"])
    assert job["counts"] == {"total": 6, "processed": 6, "created": 3, "updated": 2, "unchanged": 1, "deleted": 0,
                             "failed": 0, "unprocessed": 0}
    return before, job


def revert(h: Harness, job_id: str, dry_run: bool = False) -> dict[str, Any]:
    reply = h.call("POST", f"/v1/jobs/{job_id}/revert" + ("?dryRun=true" if dry_run else ""))
    assert reply.status_code == 202, reply.content
    return reply.json()


def assert_restored(h: Harness, before: dict[str, dict[str, Any]]) -> None:
    after = stored_records(h)
    assert sorted(after) == sorted(before) == ["a@x.org", "b@x.org", "z@x.org"]
    for key in after:
        assert after[key]["a"] == before[key]["a"]  # the attributes exactly as they were
    assert version(after["a@x.org"]) == version(after["b@x.org"]) == 3  # 1, the import's 2, the revert's 3
    assert after["z@x.org"] == before["z@x.org"]  # never touched


REVERTED = {"total": 5, "processed": 5, "created": 0, "updated": 2, "unchanged": 0, "deleted": 3, "failed": 0,
            "unprocessed": 0}


def test_revert_leaves_the_store_exactly_as_before(harness: Harness) -> None:
    before, job = seeded_import(harness)
    preview = revert(harness, job["jobId"], dry_run=True)
    assert preview["mode"] == "dry-run" and preview["operation"] == "revert"
    preview = harness.run(preview["jobId"])
    assert preview["status"] == "Completed" and preview["counts"] == REVERTED
    assert len(stored_records(harness)) == 6  # the dry run wrote nothing
    reverted = harness.run(revert(harness, job["jobId"])["jobId"])
    assert reverted["status"] == "Completed", reverted
    assert reverted["counts"] == REVERTED
    assert reverted["revertOf"] == job["jobId"] and harness.job(job["jobId"])["revertedBy"] == reverted["jobId"]
    assert_restored(harness, before)
    record = harness.call("GET", "/v1/records/contact/a@x.org").json()
    assert record["attributes"] == {"email": "a@x.org", "name": "Ann", "age": 30}
    assert record["version"] == 3 and record["lastJobId"] == reverted["jobId"]
    assert harness.call("GET", "/v1/records/contact/c@x.org").status_code == 404
    rows = harness.result_rows(reverted["jobId"], "succeeded")
    assert rows[0] == ["key", "sluice_row", "sluice_outcome", "sluice_message"]
    assert sorted((r[0], r[2]) for r in rows[1:]) == [("a@x.org", "updated"), ("b@x.org", "updated"),
                                                      ("c@x.org", "deleted"), ("d@x.org", "deleted"),
                                                      ("e@x.org", "deleted")]


def test_a_record_changed_since_the_import_is_a_conflict_and_left_as_it_is(harness: Harness) -> None:
    before, job = seeded_import(harness)
    updated = harness.call("POST", "/v1/attribute-updates", json_body=[
        {"itemType": "contact", "key": "a@x.org", "values": [{"attribute": "name", "value": "Later"}]},
        {"itemType": "contact", "key": "c@x.org", "values": [{"attribute": "age", "value": 9}]}])
    assert updated.json()["successCount"] == 2
    changed = stored_records(harness)
    reverted = harness.run(revert(harness, job["jobId"])["jobId"])
    assert reverted["status"] == "Completed"
    assert reverted["counts"] == {**REVERTED, "updated": 1, "deleted": 2, "failed": 2}
    conflicts = {e["value"]: e["message"] for e in reverted["errors"]}
    assert sorted(conflicts) == ["a@x.org", "c@x.org"]
    assert conflicts["a@x.org"].startswith("conflict: it was changed since (version 3, written by "
                                           "attribute-updates:")
    assert conflicts["a@x.org"].endswith("; left as it is")
    after = stored_records(harness)
    assert after["a@x.org"] == changed["a@x.org"] and after["c@x.org"] == changed["c@x.org"]  # untouched
    assert after["b@x.org"]["a"] == before["b@x.org"]["a"] and version(after["b@x.org"]) == 3
    assert sorted(after) == ["a@x.org", "b@x.org", "c@x.org", "z@x.org"]
    failed = harness.result_rows(reverted["jobId"], "failed")
    assert sorted(r[0] for r in failed[1:]) == ["a@x.org", "c@x.org"]


def test_revert_is_exact_when_every_message_is_delivered_twice(harness: Harness) -> None:
    before, job = seeded_import(harness)
    started = revert(harness, job["jobId"])
    harness.pump_twice()
    reverted = harness.job(started["jobId"])
    assert reverted["status"] == "Completed" and reverted["counts"] == REVERTED
    assert_restored(harness, before)


def test_revert_is_exact_under_shuffled_duplicated_delivery_and_aws_faults(harness: Harness,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.faults import FaultPlan, inject

    before, job = seeded_import(harness)
    harness.retry_at_once()
    faults = inject(monkeypatch, FaultPlan(throttle=0.1, timeout=0.1, lost_reply=0.15, seed=21))
    started = revert(harness, job["jobId"])
    harness.pump_shuffled(seed=21, duplicate=0.5)
    faults.enabled = False
    assert faults.injected["lost_reply"] > 0
    reverted = harness.job(started["jobId"])
    assert reverted["status"] == "Completed" and reverted["counts"] == REVERTED
    assert_restored(harness, before)


def _is_plan(_: Any, tenant: str, job_id: str, *__: Any, **___: Any) -> bool:
    return True


REVERT_CRASHES = [
    pytest.param(UndoImages, "put_once", True, id="after-plan"),
    pytest.param(RecordStore, "delete", True, id="after-deletes"),
    pytest.param(RecordStore, "put_stored", True, id="after-restores"),
    pytest.param(undo, "_carry_out", False, id="before-writes"),
]


@pytest.mark.parametrize(("target", "name", "after"), REVERT_CRASHES)
def test_a_crash_mid_revert_is_retried_to_the_exact_store(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                          target: Any, name: str, after: bool) -> None:
    before, job = seeded_import(harness)
    harness.retry_at_once()
    state = crash_once(monkeypatch, target, name, after=after, times=2)
    started = revert(harness, job["jobId"])
    harness.pump()
    assert state["crashes"] == 2
    reverted = harness.job(started["jobId"])
    assert reverted["status"] == "Completed" and reverted["counts"] == REVERTED
    assert_restored(harness, before)
    assert harness.dead_letters("ChunkDeadLetterQueue") == 0


def test_a_redelivered_import_chunk_keeps_its_first_before_images(harness: Harness,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The import crashes after its record writes: the retry reads its own writes, but its before-images put
    fails (If-None-Match) and the first attempt's stand, so the revert restores the records as they were."""
    harness.define()
    assert harness.run(harness.submit_csv(SEED)["jobId"])["counts"]["created"] == 3
    before = stored_records(harness)
    harness.retry_at_once()
    state = crash_once(monkeypatch, RecordStore, "apply", after=True, times=2)
    job = harness.run(harness.submit_csv(IMPORT)["jobId"])
    assert state["crashes"] == 2
    assert job["counts"]["created"] == 3 and job["counts"]["updated"] == 2
    images = UndoImages(harness.clients)
    chunks = images.chunks("acme", job["jobId"])
    assert chunks == [0, 1]
    first = images.get("acme", job["jobId"], 0)
    assert first is not None
    assert [(e["key"], e["outcome"], e["version"]) for e in first["entries"]] == [
        ("a@x.org", "updated", 2), ("c@x.org", "created", 1), ("b@x.org", "updated", 2)]
    a_before = first["entries"][0]["before"]
    assert a_before is not None and a_before["a"] == before["a@x.org"]["a"]
    reverted = harness.run(revert(harness, job["jobId"])["jobId"])
    assert reverted["counts"] == REVERTED
    assert_restored(harness, before)


def test_reverts_that_cannot_be(harness: Harness) -> None:
    _, job = seeded_import(harness)
    reverted = harness.run(revert(harness, job["jobId"])["jobId"])
    again = harness.call("POST", f"/v1/jobs/{job['jobId']}/revert")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == f"job {job['jobId']} is reverted already, by job {reverted['jobId']}"
    of_revert = harness.call("POST", f"/v1/jobs/{reverted['jobId']}/revert")
    assert of_revert.status_code == 409
    assert of_revert.json()["error"]["message"] == (
        f"job {reverted['jobId']} is itself a revert (of job {job['jobId']}); a revert cannot be reverted: "
        "import the data again instead")
    dry = harness.run(harness.submit_csv("email\nq@x.org\n", mode="dry-run")["jobId"])
    reply = harness.call("POST", f"/v1/jobs/{dry['jobId']}/revert")
    assert reply.status_code == 409 and "is a dry run: it wrote nothing" in reply.json()["error"]["message"]
    nothing = harness.run(harness.submit_csv("email,age\nbad@x.org,-4\n")["jobId"])
    reply = harness.call("POST", f"/v1/jobs/{nothing['jobId']}/revert")
    assert reply.status_code == 409 and "created, updated and deleted no record" in reply.json()["error"]["message"]
    kept = harness.run(harness.submit_csv("email\nk@x.org\n", revertible="false")["jobId"])
    assert kept["revertible"] is False
    assert UndoImages(harness.clients).chunks("acme", kept["jobId"]) == []
    reply = harness.call("POST", f"/v1/jobs/{kept['jobId']}/revert")
    assert reply.status_code == 409 and "revertible=false" in reply.json()["error"]["message"]
    assert harness.call("POST", "/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/revert").status_code == 404
    other = harness.call("POST", f"/v1/jobs/{job['jobId']}/revert", tenant="globex")
    assert other.status_code == 404
    reader = harness.key(permissions=("imports:read",))
    assert harness.call("POST", f"/v1/jobs/{job['jobId']}/revert", key=reader).status_code == 403
