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
