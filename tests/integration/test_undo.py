"""Undo: deleting records (one, by a delete job, a whole item type) and reverting a job, exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.pipeline import undo
from sluice.store.records import RecordMeta, RecordStore
from sluice.store.undo import UndoImages
from tests.harness import CONTACT_SCHEMA as CONTACT
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


def audit_log(h: Harness, query: str = "") -> list[dict[str, Any]]:
    reply = h.call("GET", f"/v1/audit{query}")
    assert reply.status_code == 200, reply.content
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def test_delete_one_record(harness: Harness) -> None:
    harness.define()
    harness.run(harness.submit_csv(SEED)["jobId"])
    reply = harness.call("DELETE", "/v1/records/contact/a%40x.org")
    assert reply.status_code == 204 and reply.content == b""
    assert harness.call("GET", "/v1/records/contact/a@x.org").status_code == 404
    missing = harness.call("DELETE", "/v1/records/contact/a@x.org")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "no contact record with key 'a@x.org'"
    assert harness.call("DELETE", "/v1/records/nothing/a@x.org").status_code == 404
    assert harness.call("DELETE", "/v1/records/contact/b@x.org", tenant="globex").status_code == 404
    reader = harness.key(permissions=("records:read",))
    assert harness.call("DELETE", "/v1/records/contact/b@x.org", key=reader).status_code == 403
    assert sorted(stored_records(harness)) == ["b@x.org", "z@x.org"]
    entry = audit_log(harness)[0]
    assert entry["action"] == "record.delete" and entry["target"] == "contact/a@x.org"
    assert entry["keyId"] and entry["sourceIp"] and entry["at"].endswith("Z")


DELETES = "E-mail,name\na@x.org,ignored\nnobody@x.org,\nb@x.org,x\nnot-an-email,\nb@x.org,\n"
DELETED = {"total": 5, "processed": 5, "created": 0, "updated": 0, "unchanged": 0, "deleted": 2, "failed": 3,
           "unprocessed": 0}


def _assert_deleted(h: Harness, job: dict[str, Any]) -> None:
    assert job["status"] == "Completed" and job["operation"] == "delete", job
    assert job["counts"] == DELETED
    assert [(e["row"], e["message"]) for e in job["errors"]] == [
        (2, "no contact record with key 'nobody@x.org'"), (4, "is not a valid email address"),
        (5, "duplicate key, first seen at row 3")]
    assert sorted(stored_records(h)) == ["z@x.org"]


def test_a_delete_job_reads_only_key_columns_and_reports_unknown_keys(harness: Harness) -> None:
    harness.define()
    harness.run(harness.submit_csv(SEED)["jobId"])
    job = harness.submit_csv(DELETES, operation="delete")
    _assert_deleted(harness, harness.run(job["jobId"]))
    assert audit_log(harness)[0]["action"] == "records.deleteJob"
    # a delete job is revertible too: the records come back as they were, as a new version
    reverted = harness.run(revert(harness, job["jobId"])["jobId"])
    assert reverted["counts"]["created"] == 2 and reverted["objectsCreated"] == ["a@x.org", "b@x.org"]
    back = harness.call("GET", "/v1/records/contact/a@x.org").json()
    assert back["attributes"] == {"email": "a@x.org", "name": "Ann", "age": 30} and back["version"] == 2


def test_a_delete_job_is_exact_under_redelivery(harness: Harness) -> None:
    harness.define()
    harness.run(harness.submit_csv(SEED)["jobId"])
    job = harness.submit_csv(DELETES, operation="delete")
    harness.pump_twice()
    _assert_deleted(harness, harness.job(job["jobId"]))


@pytest.mark.parametrize("after", [True, False], ids=["after-deletes", "before-deletes"])
def test_a_delete_job_is_exact_after_a_crash(harness: Harness, monkeypatch: pytest.MonkeyPatch, after: bool) -> None:
    harness.define()
    harness.run(harness.submit_csv(SEED)["jobId"])
    harness.retry_at_once()
    state = crash_once(monkeypatch, RecordStore, "delete", after=after, times=2)
    job = harness.submit_csv(DELETES, operation="delete")
    harness.pump()
    assert state["crashes"] == 2
    _assert_deleted(harness, harness.job(job["jobId"]))


def test_delete_jobs_need_a_key(harness: Harness) -> None:
    harness.define("note", {"fields": {"text": {"type": "string"}}})
    reply = harness.call("POST", "/v1/jobs", files={"file": ("d.csv", b"text\nx\n", "text/csv")},
                         data={"itemType": "note", "operation": "delete"})
    assert reply.status_code == 400 and "has no key, so rows cannot name records" in reply.json()["error"]["message"]
    reply = harness.call("POST", "/v1/jobs", files={"file": ("d.csv", b"text\nx\n", "text/csv")},
                         data={"itemType": "note", "operation": "erase"})
    assert reply.status_code == 400
    importer = harness.key(permissions=("imports:write",))
    reply = harness.call("POST", "/v1/jobs", key=importer, files={"file": ("d.csv", b"text\nx\n", "text/csv")},
                         data={"itemType": "note", "operation": "delete"})
    assert reply.status_code == 403 and "needs the records:write permission" in reply.json()["error"]["message"]


def test_delete_an_item_type_and_purge_one_with_records(harness: Harness) -> None:
    harness.define()
    harness.define("empty", {"fields": {"x": {"type": "string"}}})
    saved = harness.call("PUT", "/v1/item-types/empty/mappings/crm", json_body={"columns": {"X": "x"}})
    assert saved.status_code == 201, saved.content
    assert harness.call("DELETE", "/v1/item-types/empty").status_code == 204
    harness.define("empty", {"fields": {"x": {"type": "string"}}})  # a new item type of that name starts afresh
    assert harness.call("GET", "/v1/item-types/empty/mappings").json()["items"] == []
    assert harness.call("DELETE", "/v1/item-types/empty").status_code == 204
    assert harness.call("GET", "/v1/item-types/empty").status_code == 404
    assert harness.call("DELETE", "/v1/item-types/empty").status_code == 404
    harness.run(harness.submit_csv(SEED + "m@x.org,M,1\nn@x.org,N,2\n")["jobId"])
    refused = harness.call("DELETE", "/v1/item-types/contact")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == ("item type 'contact' has records; DELETE /v1/item-types/contact"
                                                  "?purge=true deletes them (a delete job) and then the item type")
    writer = harness.key(permissions=("records:write", "imports:write"))
    assert harness.call("DELETE", "/v1/item-types/contact?purge=true", key=writer).status_code == 403
    purge = harness.call("DELETE", "/v1/item-types/contact?purge=true")
    assert purge.status_code == 202 and purge.json()["operation"] == "purge"
    harness.pump_twice()
    done = harness.job(purge.json()["jobId"])
    assert done["status"] == "Completed", done
    assert done["counts"] == {"total": 5, "processed": 5, "created": 0, "updated": 0, "unchanged": 0, "deleted": 5,
                              "failed": 0, "unprocessed": 0}
    assert stored_records(harness) == {}
    assert harness.call("GET", "/v1/item-types/contact").status_code == 404
    assert [e["action"] for e in audit_log(harness)][:2] == ["itemType.purge", "itemType.delete"]
    refused = harness.call("POST", f"/v1/jobs/{done['jobId']}/revert")
    assert refused.status_code == 409 and "was deleted with its records" in refused.json()["error"]["message"]


def test_changing_the_key_of_an_item_type_with_records_is_refused(harness: Harness) -> None:
    harness.define()
    rekeyed = {**CONTACT, "key": ["name"]}
    assert harness.call("PUT", "/v1/item-types/contact", json_body=rekeyed).status_code == 200  # no records yet
    harness.define()  # back to email
    harness.run(harness.submit_csv(SEED)["jobId"])
    reply = harness.call("PUT", "/v1/item-types/contact", json_body=rekeyed)
    assert reply.status_code == 409
    assert reply.json()["error"]["message"].startswith(
        "item type 'contact' has records keyed by email; changing its key to name would leave them")
    same_key = {**CONTACT, "fields": {**CONTACT["fields"], "extra": {"type": "string"}}}
    assert harness.call("PUT", "/v1/item-types/contact", json_body=same_key).status_code == 200
    assert [e["action"] for e in audit_log(harness)] == ["itemType.rekey", "itemType.rekey"]


def test_the_audit_log_lists_who_did_what_newest_first(harness: Harness) -> None:
    created = harness.call("POST", "/v1/api-keys", json_body={"name": "ci", "permissions": ["imports:read"]}).json()
    assert harness.call("DELETE", f"/v1/api-keys/{created['keyId']}").status_code == 200
    entries = audit_log(harness)
    assert [(e["action"], e["target"]) for e in entries] == [("apiKey.revoke", created["keyId"]),
                                                            ("apiKey.create", created["keyId"])]
    assert entries[1]["details"] == {"permissions": ["imports:read"]}
    first = harness.call("GET", "/v1/audit?limit=1").json()
    assert len(first["items"]) == 1 and first["nextCursor"]
    second = harness.call("GET", f"/v1/audit?limit=1&cursor={first['nextCursor']}").json()
    assert second["items"] == [entries[1]]
    assert audit_log(harness, "?since=2999-01-01T00:00:00Z") == []
    assert harness.call("GET", "/v1/audit?since=yesterday").status_code == 400
    assert harness.call("GET", "/v1/audit?cursor=bad").status_code == 400
    assert harness.call("GET", "/v1/audit", tenant="globex").json()["items"] == []  # another tenant sees none
    reader = harness.key(permissions=("imports:read",))
    assert harness.call("GET", "/v1/audit", key=reader).status_code == 403


def test_keyless_reimport_warns_and_dedupe_content_creates_nothing_new(harness: Harness) -> None:
    harness.define("note", {"fields": {"text": {"type": "string"}, "n": {"type": "integer"}}})
    data = "text,n\nhello,1\nworld,2\nhello,1\n"
    first = harness.run(harness.submit_csv(data, item_type="note")["jobId"])
    assert first["counts"]["created"] == 3 and first["warnings"] == []
    again = harness.run(harness.submit_csv(data, item_type="note")["jobId"])
    assert again["counts"]["created"] == 3
    [warned] = again["warnings"]
    assert warned["code"] == "keyless-duplicates" and warned["firstJobId"] == first["jobId"]
    assert "every row created a new record again" in warned["message"]
    assert len(stored_records(harness)) == 6
    deduped = harness.run(harness.submit_csv(data, item_type="note", dedupe="content")["jobId"])
    assert deduped["counts"]["created"] == 2 and deduped["counts"]["unchanged"] == 1 and deduped["warnings"] == []
    twice = harness.run(harness.submit_csv(data, item_type="note", dedupe="content")["jobId"])
    assert twice["counts"]["created"] == 0 and twice["counts"]["unchanged"] == 3
    assert len(stored_records(harness)) == 8
    harness.define()
    reply = harness.call("POST", "/v1/jobs", files={"file": ("d.csv", b"email\na@x.org\n", "text/csv")},
                         data={"itemType": "contact", "dedupe": "content"})
    assert reply.status_code == 400 and "dedupe=content is for item types without a key" in reply.content.decode()


def _cli_while_pumping(h: Harness, argv: list[str]) -> int:
    """Runs a `sluice` command that waits for a job (in a thread) while the queues are delivered here; its exit code."""
    import threading

    from sluice_cli import main as cli

    outcome: dict[str, int] = {}
    thread = threading.Thread(target=lambda: outcome.update(code=cli.main(argv)))
    thread.start()
    while thread.is_alive():
        h.pump()
        thread.join(0.05)
    return outcome["code"]


def test_the_cli_previews_and_runs_a_revert_and_deletes_records(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:

    from sluice_cli import main as cli
    from tests.doors import served

    before, job = seeded_import(harness)
    with served(harness) as url:
        monkeypatch.setenv("SLUICE_URL", url)
        monkeypatch.setenv("SLUICE_API_KEY", harness.key())
        assert _cli_while_pumping(harness, ["revert", job["jobId"], "--dry-run", "--interval", "0.05"]) == 0
        streams = capsys.readouterr()
        printed = streams.out
        # a big job's revert takes minutes: the same progress line as `import --wait`, ending at its outcome
        assert streams.err.splitlines()[-1] == "[##############################] 100% 5/5 rows  Completed"
        assert f"of job {job['jobId']}: Completed" in printed
        assert ("would delete 3 created records, would restore 2 updated records, would bring back 0 deleted "
                "records; 0 already gone; 0 conflicts (left as they are)") in printed
        assert cli.main(["revert", job["jobId"]]) == 0
        started = capsys.readouterr().out
        assert started.startswith("revert ") and started.rstrip().endswith("Accepted (`sluice watch "
                                                                          f"{started.split()[1]}` follows it)")
        harness.pump()
        assert_restored(harness, before)
        assert cli.main(["revert", job["jobId"]]) == 3
        assert f"HTTP 409 conflict: job {job['jobId']} is reverted already" in capsys.readouterr().err
        assert cli.main(["records", "delete", "contact", "a@x.org", "gone@x.org", "z@x.org"]) == 1
        streams = capsys.readouterr()
        assert streams.out == "deleted a@x.org\ndeleted z@x.org\n" and "not found gone@x.org" in streams.err
    assert sorted(stored_records(harness)) == ["b@x.org"]


def test_revert_and_records_delete_take_json_and_show_an_example(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """README: every command takes `--json` and `--help` (with an example); `revert` and `records delete` took
    neither (`sluice revert ID --json` was a usage error), found by the new-user trial of big jobs."""
    import json

    from sluice_cli import main as cli
    from tests.doors import served

    for command in (["revert"], ["records", "delete"]):
        with pytest.raises(SystemExit):
            cli.main([*command, "--help"])
        shown = capsys.readouterr().out
        assert "--json" in shown and f"example:\n  sluice {' '.join(command)} " in shown
    _, job = seeded_import(harness)
    with served(harness) as url:
        monkeypatch.setenv("SLUICE_URL", url)
        monkeypatch.setenv("SLUICE_API_KEY", harness.key())
        assert _cli_while_pumping(harness, ["revert", job["jobId"], "--dry-run", "--json", "--interval", "0.05"]) == 0
        streams = capsys.readouterr()
        preview = json.loads(streams.out)
        assert streams.err == ""
        assert (preview["revertOf"], preview["mode"], preview["status"], preview["finished"]) == (
            job["jobId"], "dry-run", "Completed", True)
        assert {k: preview["counts"][k] for k in ("deleted", "updated", "failed")} == \
            {"deleted": 3, "updated": 2, "failed": 0}
        assert cli.main(["records", "delete", "contact", "a@x.org", "gone@x.org", "--json"]) == 1
        streams = capsys.readouterr()
        assert json.loads(streams.out) == [{"key": "a@x.org", "deleted": True},
                                           {"key": "gone@x.org", "deleted": False, "reason": "not found"}]
        assert streams.err == ""


def test_hostile_undo_requests_get_clear_4xx(harness: Harness) -> None:
    harness.define()
    long_key = "k" * 2000
    for method in ("GET", "DELETE"):
        reply = harness.call(method, f"/v1/records/contact/{long_key}")
        assert reply.status_code == 404, (method, reply.content)
    assert harness.call("DELETE", "/v1/records/bad%20name/x").status_code == 400
    assert harness.call("DELETE", "/v1/item-types/contact?purge=maybe").status_code in (204, 400)
    assert harness.call("POST", "/v1/jobs/not-a-job/revert").status_code == 404
    assert harness.call("POST", "/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/revert?dryRun=perhaps").status_code == 400
    for since in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00", "2026-01-01T00:00:00"):
        assert harness.call("GET", f"/v1/audit?since={since}").status_code in (200, 400)
    assert harness.call("GET", "/v1/audit?limit=0").status_code == 400


def test_a_completed_revert_is_job_reverted_on_webhooks_and_eventbridge(harness: Harness,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from standardwebhooks.webhooks import Webhook as ReferenceWebhook

    from sluice.store.clients import get_clients, reset_clients
    from tests.receiver import Receiver

    monkeypatch.setenv("SLUICE_WEBHOOKS_ALLOW_LOOPBACK", "true")
    reset_clients()
    harness.clients = get_clients()
    events, sqs = harness.session.client("events"), harness.sqs
    queue = sqs.create_queue(QueueName="reverts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="reverts", EventPattern=json.dumps({"source": ["sluice"], "detail-type": ["Job Reverted"]}))
    events.put_targets(Rule="reverts", Targets=[{"Id": "q", "Arn": arn}])
    receiver = Receiver().start()
    try:
        _, job = seeded_import(harness)
        hook = harness.call("POST", "/v1/webhooks", json_body={"url": receiver.url, "events": ["job.reverted"]}).json()
        harness.run(revert(harness, job["jobId"], dry_run=True)["jobId"])  # a dry run is no job.reverted
        reverted = harness.run(revert(harness, job["jobId"])["jobId"])
        got = receiver.wait_for(lambda seen: len(seen) >= 1)
        assert len(got) == 1
        event = dict(ReferenceWebhook(hook["secret"]).verify(got[0].body, got[0].headers))
        assert event["type"] == "job.reverted" and event["data"]["jobId"] == reverted["jobId"]
        assert event["data"]["revertOf"] == job["jobId"] and event["data"]["counts"] == REVERTED
    finally:
        receiver.stop()
    published = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
                 .get("Messages", [])]
    assert [(e["detail"]["type"], e["detail"]["jobId"], e["detail"]["revertOf"]) for e in published] == [
        ("job.reverted", reverted["jobId"], job["jobId"])]
    assert [e["action"] for e in audit_log(harness)][:2] == ["job.revert", "webhook.create"]


def test_a_delete_job_is_exact_under_shuffled_delivery_and_aws_faults(harness: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.faults import FaultPlan, inject

    harness.define()
    harness.run(harness.submit_csv(SEED)["jobId"])
    harness.retry_at_once()
    faults = inject(monkeypatch, FaultPlan(throttle=0.1, timeout=0.1, lost_reply=0.15, seed=7))
    job = harness.submit_csv(DELETES, operation="delete")
    harness.pump_shuffled(seed=7, duplicate=0.5)
    faults.enabled = False
    assert faults.injected["lost_reply"] > 0
    _assert_deleted(harness, harness.job(job["jobId"]))


def test_a_staged_job_of_two_item_types_is_reverted_in_both(harness: Harness) -> None:
    """Each chunk's before-images name their item type, so a job of several files reverts each file's records."""
    import io
    import json

    harness.define()
    harness.define("org", {"key": ["code"], "fields": {"code": {"type": "string", "required": True},
                                                        "title": {"type": "string"}}})
    harness.run(harness.submit_csv("code,title\nacme,Acme\n", item_type="org")["jobId"])
    harness.run(harness.submit_csv(SEED)["jobId"])
    before = stored_records(harness)
    control = {"files": {"people.csv": {"itemType": "contact"}, "orgs.csv": {"itemType": "org"}}}
    digest = harness.call("POST", "/v1/controls", body=json.dumps(control).encode(),
                          content_type="application/json").json()["digest"]
    job = harness.call("POST", "/v1/jobs", json_body={"control": digest}).json()
    for name, data in (("people.csv", b"email,name,age\na@x.org,Ann B,31\nnew@x.org,New,5\n"),
                       ("orgs.csv", b"code,title\nacme,Acme Inc\nini,Initech\n")):
        reply = harness.call("POST", f"/v1/jobs/{job['jobId']}/files", files={"file": (name, io.BytesIO(data))},
                             data={"name": name})
        assert reply.status_code == 200, reply.content
    assert harness.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "commit"}).status_code == 202
    done = harness.run(job["jobId"])
    assert (done["counts"]["created"], done["counts"]["updated"]) == (2, 2)
    reverted = harness.run(revert(harness, job["jobId"])["jobId"])
    assert reverted["status"] == "Completed"
    assert (reverted["counts"]["deleted"], reverted["counts"]["updated"]) == (2, 2)
    after = stored_records(harness)
    assert sorted(after) == sorted(before)
    assert all(after[k]["a"] == before[k]["a"] for k in after)
    assert harness.call("GET", "/v1/records/org/acme").json()["attributes"] == {"code": "acme", "title": "Acme"}
