"""What the web console asks of the API besides /v1: a job's own column mapping, corrected rows linked to the
job they retry, a listing of exports, and console links in emails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness import Harness


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def test_a_job_may_bring_its_own_column_mapping(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv("Mail Address,Full Name\na@x.org,Ann\n", columns=json.dumps(
        {"Mail Address": "email", "Full Name": "name"}))
    done = harness.run(job["jobId"])
    assert done["counts"]["created"] == 1 and done["ignoredColumns"] == []
    assert harness.call("GET", "/v1/records/contact/a@x.org").json()["attributes"] == {"email": "a@x.org",
                                                                                       "name": "Ann"}
    bad = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "a.csv",
                                                     "columns": {"Mail": "nope"}})
    assert bad.status_code == 400 and bad.json()["error"]["message"] == (
        "columns map to fields item type 'contact' does not have: nope")


def test_corrected_rows_are_a_job_linked_both_ways(harness: Harness) -> None:
    harness.define()
    original = harness.run(harness.submit_csv("email,age\na@x.org,-1\nb@x.org,5\n")["jobId"])
    assert original["counts"]["failed"] == 1
    reply = harness.call("POST", f"/v1/jobs?itemType=contact&retryOf={original['jobId']}",
                         body=_jsonl([{"email": "a@x.org", "age": 1, "sluice_row": 1}]),
                         content_type="application/x-ndjson")
    assert reply.status_code == 202 and reply.json()["retryOf"] == original["jobId"]
    fixed = harness.run(reply.json()["jobId"])
    assert fixed["counts"]["created"] == 1 and fixed["ignoredColumns"] == ["sluice_row"]
    assert harness.job(original["jobId"])["retries"] == [fixed["jobId"]]
    missing = harness.call("POST", "/v1/jobs?itemType=contact&retryOf=01ARZ3NDEKTSV4RRFFQ69G5FAV",
                           body=_jsonl([{"email": "c@x.org"}]), content_type="application/x-ndjson")
    assert missing.status_code == 404
    other = harness.call("POST", f"/v1/jobs?itemType=contact&retryOf={original['jobId']}", tenant="globex",
                         body=_jsonl([{"email": "c@x.org"}]), content_type="application/x-ndjson")
    assert other.status_code in (400, 404)  # globex has no such item type, and no such job


def test_exports_are_listed_newest_first_with_a_cursor(harness: Harness) -> None:
    harness.define()
    ids = [harness.call("POST", "/v1/exports", json_body={"itemType": "contact", "jobName": f"e{i}"}).json()[
        "exportId"] for i in range(3)]
    first = harness.call("GET", "/v1/exports?limit=2").json()
    assert [e["exportId"] for e in first["items"]] == ids[::-1][:2] and first["nextCursor"]
    rest = harness.call("GET", f"/v1/exports?limit=2&cursor={first['nextCursor']}").json()
    assert [e["exportId"] for e in rest["items"]] == [ids[0]] and rest["nextCursor"] is None
    assert harness.call("GET", "/v1/exports", tenant="globex").json()["items"] == []


def test_completion_emails_link_to_the_console(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.store.clients import reset_clients
    from tests.integration.test_exports_and_notifications import _sent_mail

    monkeypatch.setenv("PUBLIC_API_URL", "https://sluice.example.org")
    reset_clients()
    harness.define()
    job = harness.run(harness.submit_csv("email\na@x.org\n", notificationEmail="ops@example.org")["jobId"])
    body = _sent_mail()[-1].body
    assert f"see it in the console: https://sluice.example.org/console/jobs/{job['jobId']}" in body
    assert f"job: https://sluice.example.org/v1/jobs/{job['jobId']}" in body


def test_named_mappings_are_saved_and_used_by_jobs(harness: Harness) -> None:
    harness.define()
    saved = harness.call("PUT", "/v1/item-types/contact/mappings/crm", json_body={"columns": {"Mail": "email",
                                                                                          "Who": "name"}})
    assert saved.status_code == 201 and saved.json()["columns"] == {"Mail": "email", "Who": "name"}
    assert harness.call("PUT", "/v1/item-types/contact/mappings/crm", json_body={
        "columns": {"Mail": "email", "Who": "name"}}).status_code == 200
    assert [m["name"] for m in harness.call("GET", "/v1/item-types/contact/mappings").json()["items"]] == ["crm"]
    reader = harness.key(permissions=("imports:read",))
    assert harness.call("GET", "/v1/item-types/contact/mappings/crm", key=reader).json()["name"] == "crm"
    job = harness.run(harness.submit_csv("Mail,Who\na@x.org,Ann\n", mapping="crm")["jobId"])
    assert job["counts"]["created"] == 1 and job["ignoredColumns"] == []
    assert harness.call("GET", "/v1/records/contact/a@x.org").json()["attributes"]["name"] == "Ann"
    unknown = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "a.csv",
                                                         "mapping": "nope"})
    assert unknown.status_code == 400 and "has no mapping 'nope'" in unknown.json()["error"]["message"]
    wrong = harness.call("PUT", "/v1/item-types/contact/mappings/bad", json_body={"columns": {"X": "nope"}})
    assert wrong.status_code == 400
    assert harness.call("GET", "/v1/item-types/contact/mappings/crm", tenant="globex").status_code == 404
    assert harness.call("DELETE", "/v1/item-types/contact/mappings/crm").status_code == 204
    assert harness.call("DELETE", "/v1/item-types/contact/mappings/crm").status_code == 404
