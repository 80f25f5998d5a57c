"""Staged jobs: control documents, open jobs, named files, dry run then commit, and every 4xx."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
import requests

from sluice.intake import staging
from sluice.models.clock import now_ms
from sluice.store.jobs import JobStore
from tests.harness import CONTACT_SCHEMA, Harness, Reply

ORG_SCHEMA = {"key": ["code"], "fields": {"code": {"type": "string", "required": True},
                                         "title": {"type": "string"}, "founded": {"type": "date"}}}
CONTROL = {"files": {
    "people.csv": {"itemType": "contact", "columns": {"Mail": "email", "Full name": "name"}},
    "orgs.jsonl": {"itemType": "org", "format": "jsonl", "columns": {"id": "code"}, "merge": True},
}}
PEOPLE = b"Mail,Full name,age\nann@x.org,Ann,30\nbob@x.org,Bob,-5\nANN@x.org,Again,31\n"
ORGS = b'{"id": "acme", "title": "Acme", "founded": "1999-01-02"}\n{"id": "ini", "founded": "never"}\n'


@pytest.fixture
def staged(harness: Harness) -> Harness:
    harness.define()
    harness.define("org", ORG_SCHEMA)
    return harness


def _control(h: Harness, document: object = CONTROL, tenant: str = "acme") -> str:
    reply = h.call("POST", "/v1/controls?comment=nightly", body=json.dumps(document).encode(),
                   content_type="application/json", tenant=tenant)
    assert reply.status_code in (200, 201), reply.content
    return str(reply.json()["digest"])


def _open(h: Harness, digest: str) -> dict[str, Any]:
    reply = h.call("POST", "/v1/jobs", json_body={"control": digest, "comment": "people and orgs"})
    assert reply.status_code == 201, reply.content
    return dict(reply.json())


def _upload(h: Harness, job_id: str, name: str, data: bytes) -> Reply:
    return h.call("POST", f"/v1/jobs/{job_id}/files", files={"file": (name, io.BytesIO(data))}, data={"name": name})


def test_controls_are_content_addressed_and_checked(staged: Harness) -> None:
    data = json.dumps(CONTROL).encode()
    first = staged.call("POST", "/v1/controls", body=data, content_type="application/json")
    assert first.status_code == 201 and first.json()["digest"] == hashlib.sha256(data).hexdigest()
    again = staged.call("POST", "/v1/controls", files={"file": ("control.json", io.BytesIO(data))},
                        data={"comment": "same bytes"})
    assert again.status_code == 200 and again.json() == first.json()
    bad = [
        ({"files": {"a.csv": {"itemType": "ghost"}}}, 400, "file 'a.csv' names unknown item type 'ghost'"),
        ({"files": {"a.csv": {"itemType": "contact", "columns": {"X": "nope"}}}}, 400,
         "file 'a.csv': column 'X' maps to 'nope', which item type 'contact' does not have"),
        ({"files": {"a.csv": {"itemType": "contact", "columns": {"A b": "name", "ab": "email"}}}}, 400,
         "file 'a.csv': columns 'A b' and 'ab' are the same header"),
        ({"files": {}}, 400, "files"),
        ({"files": {"../x": {"itemType": "contact"}}}, 400, "file names must match"),
        ({"files": {"a.csv": {"itemType": "contact", "format": "pdf"}}}, 400, "format"),
        ({"files": {f"f{i}.csv": {"itemType": "contact"} for i in range(21)}}, 400, "at most 20"),
        ({"files": {"a.csv": {"itemType": "contact"}}, "pad": "x" * 256 * 1024}, 400,
         "a control document is at most 262144 bytes"),
    ]
    for document, status, message in bad:
        reply = staged.call("POST", "/v1/controls", json_body=document)
        assert reply.status_code == status and message in reply.json()["error"]["message"], (document, reply.json())
    assert staged.call("POST", "/v1/controls", body=b"{nope", content_type="application/json").status_code == 400
    other = staged.call("POST", "/v1/jobs", json_body={"control": first.json()["digest"]}, tenant="globex")
    assert other.status_code == 400 and other.json()["error"]["code"] == "unknown_control"


def test_dry_run_then_commit_over_two_files(staged: Harness) -> None:
    job = _open(staged, _control(staged))
    assert job["status"] == "Initialized" and job["staged"] is True and job["itemTypes"] == ["contact", "org"]
    assert [(f["name"], f["uploaded"]) for f in job["files"]] == [("people.csv", False), ("orgs.jsonl", False)]

    missing = staged.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "dry-run"})
    assert missing.status_code == 409
    assert missing.json()["error"]["message"] == "declared file(s) not uploaded yet: people.csv, orgs.jsonl"
    undeclared = _upload(staged, job["jobId"], "other.csv", b"x")
    assert undeclared.status_code == 400 and "declares: people.csv, orgs.jsonl" in undeclared.json()["error"]["message"]

    first = _upload(staged, job["jobId"], "people.csv", b"Mail\nold@x.org\n")
    assert first.status_code == 200
    replaced = _upload(staged, job["jobId"], "people.csv", PEOPLE)
    assert replaced.json() == {"name": "people.csv", "digest": hashlib.sha256(PEOPLE).hexdigest(),
                               "size": len(PEOPLE)}
    link = staged.call("POST", f"/v1/jobs/{job['jobId']}/files", json_body={"name": "orgs.jsonl"}).json()
    assert requests.put(link["uploadUrl"], data=ORGS).status_code == 200
    staged.pump()  # the presigned upload lands in staging/: nothing starts
    assert staged.job(job["jobId"])["status"] == "Initialized"

    assert staged.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "sure"}).status_code == 400
    scheduled = staged.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "dry-run"})
    assert scheduled.status_code == 202 and scheduled.json()["status"] == "Accepted"
    late = _upload(staged, job["jobId"], "people.csv", PEOPLE)
    assert late.status_code == 409 and "before it is scheduled" in late.json()["error"]["message"]
    again = staged.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "commit"})
    assert again.status_code == 409

    dry = staged.run(job["jobId"])
    assert dry["status"] == "Completed" and dry["mode"] == "dry-run"
    assert dry["counts"] == {"total": 5, "processed": 5, "created": 2, "updated": 0, "unchanged": 0,
                             "deleted": 0, "failed": 3, "unprocessed": 0}
    people, orgs = dry["files"]
    assert (people["name"], people["digest"], people["rows"]) == ("people.csv", hashlib.sha256(PEOPLE).hexdigest(), 3)
    assert people["counts"] == {"total": 3, "processed": 3, "created": 1, "updated": 0, "unchanged": 0,
                                "deleted": 0, "failed": 2, "unprocessed": 0}
    assert orgs["counts"] == {"total": 2, "processed": 2, "created": 1, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 1, "unprocessed": 0}
    assert people["ignoredColumns"] == [] and orgs["ignoredColumns"] == []
    assert [(e["file"], e["row"], e["field"], e["message"]) for e in dry["errors"]] == [
        ("people.csv", 2, "age", "must be at least 0"),
        ("people.csv", 3, "email", "duplicate key, first seen at row 1"),
        ("orgs.jsonl", 2, "founded", "expected a date as YYYY-MM-DD"),
    ]
    assert staged.call("GET", "/v1/records/contact").json()["items"] == []  # a dry run writes nothing
    assert staged.call("GET", f"/v1/jobs/{job['jobId']}/results/failed").status_code == 400
    failed_link = staged.call("GET", f"/v1/jobs/{job['jobId']}/results/failed?file=orgs.jsonl")
    assert failed_link.status_code == 200
    orgs_failed = staged.s3.get_object(Bucket=staged.clients.settings.bucket,
                                       Key=f"results/acme/{job['jobId']}/1/failed.csv")["Body"].read().decode()
    assert orgs_failed.splitlines()[1] == "ini,,never,2,failed,founded: expected a date as YYYY-MM-DD"

    commit = staged.call("POST", f"/v1/jobs/{job['jobId']}/commit")
    assert commit.status_code == 202, commit.content
    committed = staged.run(commit.json()["jobId"])
    assert committed["commitOf"] == job["jobId"] and committed["mode"] == "commit"
    assert committed["counts"] == dry["counts"]
    assert [f["counts"] for f in committed["files"]] == [f["counts"] for f in dry["files"]]
    assert staged.call("GET", "/v1/records/contact/ann@x.org").json()["attributes"] == {
        "email": "ann@x.org", "name": "Ann", "age": 30}
    assert staged.call("GET", "/v1/records/org/acme").json()["attributes"] == {
        "code": "acme", "title": "Acme", "founded": "1999-01-02"}
    not_dry = staged.call("POST", f"/v1/jobs/{commit.json()['jobId']}/commit")
    assert not_dry.status_code == 409


def test_a_bad_file_rejects_the_whole_job_before_anything_applies(staged: Harness) -> None:
    job = _open(staged, _control(staged))
    _upload(staged, job["jobId"], "orgs.jsonl", ORGS)
    _upload(staged, job["jobId"], "people.csv", b"name\nNobody\n")
    staged.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "commit"})
    done = staged.run(job["jobId"])
    assert done["status"] == "Rejected"
    assert done["reason"] == ("people.csv: missing required columns: email; expected email, name, age, joined, tier, "
                              "score, active; found name")
    assert staged.call("GET", "/v1/records/org").json()["items"] == []


def test_duplicates_across_files_of_one_item_type(staged: Harness) -> None:
    control = {"files": {"a.csv": {"itemType": "contact"}, "b.csv": {"itemType": "contact"}}}
    job = _open(staged, _control(staged, control))
    _upload(staged, job["jobId"], "a.csv", b"email\nx@x.org\ny@x.org\n")
    _upload(staged, job["jobId"], "b.csv", b"email\nz@x.org\nY@x.org\n")
    staged.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "commit"})
    done = staged.run(job["jobId"])
    assert [(e["file"], e["row"], e["message"]) for e in done["errors"]] == [
        ("b.csv", 2, "duplicate key, first seen at row 2 of a.csv")]
    assert done["counts"]["created"] == 3


def test_commit_refuses_when_the_schema_changed(staged: Harness) -> None:
    job = staged.submit_csv("email\nq@x.org\n", mode="dry-run")
    staged.run(job["jobId"])
    staged.define(schema={**CONTACT_SCHEMA, "fields": {**CONTACT_SCHEMA["fields"], "extra": {"type": "string"}}})
    refused = staged.call("POST", f"/v1/jobs/{job['jobId']}/commit")
    assert refused.status_code == 409 and "changed since the dry run" in refused.json()["error"]["message"]


def test_commit_of_a_single_file_dry_run(staged: Harness) -> None:
    job = staged.submit_csv("email,name\nq@x.org,Q\n", mode="dry-run")
    assert staged.run(job["jobId"])["counts"]["created"] == 1
    assert staged.call("GET", "/v1/records/contact").json()["items"] == []
    commit = staged.call("POST", f"/v1/jobs/{job['jobId']}/commit").json()
    done = staged.run(commit["jobId"])
    assert done["counts"]["created"] == 1 and done["objectsCreated"] == ["q@x.org"]


def test_open_jobs_never_scheduled_are_canceled_after_their_time(staged: Harness) -> None:
    job = _open(staged, _control(staged))
    stored = JobStore(staged.clients).get("acme", job["jobId"])
    assert stored is not None
    assert staging.cancel_stale_open_job(staged.clients, stored, now=now_ms()) is None
    later = stored.submitMs + (staging.OPEN_JOB_HOURS + 1) * 3_600_000
    closed = staging.cancel_stale_open_job(staged.clients, stored, now=later)
    assert closed is not None and closed.status == "Canceled"
    assert closed.reason == f"canceled: opened {staging.OPEN_JOB_HOURS + 1} h ago and never scheduled"
    assert _upload(staged, job["jobId"], "people.csv", PEOPLE).status_code == 409


def test_a_file_of_several_without_rows_is_named_in_its_warning(staged: Harness) -> None:
    job = _open(staged, _control(staged))
    assert _upload(staged, job["jobId"], "people.csv", b"Mail,Full name,age\n").status_code == 200
    assert _upload(staged, job["jobId"], "orgs.jsonl", ORGS).status_code == 200
    scheduled = staged.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "commit"})
    assert scheduled.status_code == 202, scheduled.content
    done = staged.run(job["jobId"])
    assert done["status"] == "Completed" and done["counts"]["total"] == 2
    no_rows = {"code": "no-rows", "message": "the file has a header row but no data rows: there was nothing to import",
               "file": "people.csv"}
    assert done["warnings"] == [no_rows] and done["files"][0]["warnings"] == [no_rows]
    assert done["files"][1].get("warnings", []) == []
