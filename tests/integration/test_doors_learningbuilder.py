"""Seed 000, LearningBuilder's Workflow Import Queue, replayed as its clients send it: `POST
/API/WorkflowImportQueue/CreateBatch` with `Authorization: apikey`, the options in the query string and a JSON
Lines body (curl --data-binary, Python requests' data=), answered exactly as the seed shows; its errors as
ASP.NET's {"Message"}; a batch is a normal job in /v1/jobs; the success and failure addresses are mailed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sluice.store.clients import reset_clients
from tests.doors import SEED_CONTACT, curl, sent_mail, served
from tests.harness import Harness

PATH = "/API/WorkflowImportQueue/CreateBatch"
ROWS = [{"email": "ann@x.org", "name": "Ann", "age": 34}, {"email": "bob@x.org", "name": "Bob", "age": -1},
        {"email": "cy@x.org", "tier": "GOLD"}]


@pytest.fixture
def lb(harness: Harness) -> Iterator[tuple[Harness, str]]:
    harness.define(schema=SEED_CONTACT)
    with served(harness) as url:
        yield harness, url


def test_the_documented_curl_call(lb: tuple[Harness, str], tmp_path: Path) -> None:
    harness, url = lb
    (tmp_path / "people.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    status, body = curl(
        'curl -X POST "$SERVER/API/WorkflowImportQueue/CreateBatch?fileName=people.jsonl&importProcessId=7'
        '&creationPath=LH&sendSuccessEmailTo=lead@x.org&sendFailureEmailTo=ops@x.org" '
        '-H "Authorization: apikey $KEY" --data-binary @people.jsonl',
        cwd=str(tmp_path), SERVER=url, KEY=harness.key())
    assert status == 200, body
    answer = json.loads(body)
    job_id = answer["queueBatchId"]
    assert answer == {"queueBatchId": job_id, "queueBatchDetails": f"{url}/console/jobs/{job_id}"}
    job = harness.run(job_id)  # a normal job of /v1
    assert (job["status"], job["itemType"], job["jobName"], job["creationPath"]) == (
        "Completed", "contact", "people.jsonl", "IMPORT_QUEUE_API:LH")
    assert job["counts"] == {"total": 3, "processed": 3, "created": 2, "updated": 0, "unchanged": 0,
                             "deleted": 0, "failed": 1, "unprocessed": 0}
    assert job["errors"] == [{"row": 2, "line": 2, "field": "age", "value": "-1", "message": "must be at least 0"}]
    listed = harness.call("GET", "/v1/jobs?creationPath=IMPORT_QUEUE_API:LH").json()["items"]
    assert [j["jobId"] for j in listed] == [job_id]
    mails = sent_mail()  # a row failed: the failure address hears it, the success address does not
    assert [m.destinations["ToAddresses"] for m in mails] == [["ops@x.org"]]
    assert mails[0].subject == "Sluice import people.jsonl: Completed" and "row 2 (age): must be at least 0" in \
        mails[0].body


def test_python_requests_with_every_row_good_mails_the_success_address(lb: tuple[Harness, str]) -> None:
    harness, url = lb
    reply = requests.post(f"{url}{PATH}", headers={"Authorization": "apikey " + harness.key()},
                          params={"fileName": "nightly.jsonl", "importProcessId": "AI", "creationPath": "NIGHTLY_2",
                                  "sendSuccessEmailTo": "lead@x.org", "sendFailureEmailTo": "ops@x.org"},
                          data="\n".join(json.dumps(r) for r in ROWS[:1] + ROWS[2:]), timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/json"
    job = harness.run(reply.json()["queueBatchId"])
    assert (job["counts"]["created"], job["counts"]["failed"], job["creationPath"]) == (
        2, 0, "IMPORT_QUEUE_API:NIGHTLY_2")
    assert [m.destinations["ToAddresses"] for m in sent_mail()] == [["lead@x.org"]]
    record = harness.call("GET", "/v1/records/contact/cy@x.org").json()
    assert record["attributes"] == {"email": "cy@x.org", "tier": "gold"} and record["lastJobId"] == job["jobId"]


def test_a_job_that_does_not_complete_mails_the_failure_address(lb: tuple[Harness, str]) -> None:
    harness, _ = lb
    reply = harness.call("POST", f"{PATH}?importProcessId=contact&sendSuccessEmailTo=lead@x.org"
                         "&sendFailureEmailTo=ops@x.org", body=b'{"email": "c@x.org"}\n',
                         content_type="application/x-ndjson")
    job_id = reply.json()["queueBatchId"]
    assert harness.call("POST", f"/v1/jobs/{job_id}/cancel").status_code == 202
    job = harness.run(job_id)
    assert job["status"] == "Canceled" and job["counts"]["failed"] == 0
    assert [m.destinations["ToAddresses"] for m in sent_mail()] == [["ops@x.org"]]


def test_the_console_link_uses_the_public_address_when_one_is_set(lb: tuple[Harness, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    harness, _ = lb
    monkeypatch.setenv("PUBLIC_API_URL", "https://imports.example.org/")
    reset_clients()
    reply = harness.call("POST", f"{PATH}?importProcessId=7", body=b'{"email": "p@x.org"}\n',
                         content_type="application/x-ndjson")
    job_id = reply.json()["queueBatchId"]
    assert reply.json()["queueBatchDetails"] == f"https://imports.example.org/console/jobs/{job_id}"
    assert harness.run(job_id)["creationPath"] == "IMPORT_QUEUE_API"  # no creationPath given


def test_an_idempotency_key_queues_one_batch(lb: tuple[Harness, str]) -> None:
    harness, url = lb
    headers = {"Authorization": "apikey " + harness.key(), "Idempotency-Key": "nightly-2026-12-03"}
    sent = [requests.post(f"{url}{PATH}?importProcessId=7", headers=headers, data=b'{"email": "i@x.org"}\n',
                          timeout=30) for _ in range(2)]
    assert sent[0].json() == sent[1].json() and sent[1].headers["Idempotent-Replayed"] == "true"
    assert len(harness.call("GET", "/v1/jobs").json()["items"]) == 1


BAD = [
    ("?importProcessId=7", b'[{"email": "a@x.org"}]', None,
     "JSON Lines is required: the request body must hold one JSON object per line; the first line is a JSON list, "
     "not an object"),
    ("?importProcessId=7", b"email,name\na@x.org,A\n", "text/csv",
     "JSON Lines is required: the request body must hold one JSON object per line; the first line is not JSON "
     "(curl: send the file with --data-binary, which keeps its line breaks)"),
    # curl -d @file.jsonl strips the line breaks: the objects run together on one line
    ("?importProcessId=7", b'{"email": "a@x.org"}{"email": "b@x.org"}', "application/x-www-form-urlencoded",
     "JSON Lines is required: the request body must hold one JSON object per line; the first line is not JSON "
     "(curl: send the file with --data-binary, which keeps its line breaks)"),
    ("?importProcessId=7", b"\n\n", "application/x-ndjson",
     "JSON Lines is required: the request body must hold one JSON object per line; the body is empty"),
    ("", b'{"email": "a@x.org"}\n', "application/x-ndjson",
     "importProcessId is required: the import process (item type) the rows go to"),
    ("?importProcessId=42", b'{"email": "a@x.org"}\n', "application/x-ndjson", "Import process '42' was not found"),
    ("?importProcessId=ai", b'{"email": "a@x.org"}\n', "application/x-ndjson", "Import process 'ai' was not found"),
    ("?importProcessId=7&creationPath=lh", b'{"email": "a@x.org"}\n', None,
     "creationPath 'lh' is not valid: use 1 to 15 characters of A-Z, 0-9 and _"),
    ("?importProcessId=7&creationPath=LEARNING_HUB_SYNC", b'{"email": "a@x.org"}\n', None,
     "creationPath 'LEARNING_HUB_SYNC' is not valid: use 1 to 15 characters of A-Z, 0-9 and _"),
    ("?importProcessId=7&creationPath=L-H", b'{"email": "a@x.org"}\n', None,
     "creationPath 'L-H' is not valid: use 1 to 15 characters of A-Z, 0-9 and _"),
    ("?importProcessId=7&sendFailureEmailTo=ops", b'{"email": "a@x.org"}\n', None,
     "sendFailureEmailTo 'ops' is not a valid email address"),
    ("?importProcessId=7&fileName=" + "f" * 300, b'{"email": "a@x.org"}\n', None,
     "fileName: String should have at most 255 characters"),
]


@pytest.mark.parametrize(("query", "body", "content_type", "message"), BAD)
def test_bad_requests_are_400_in_the_seeds_shape(lb: tuple[Harness, str], query: str, body: bytes,
                                                 content_type: str | None, message: str) -> None:
    harness, _ = lb
    reply = harness.call("POST", PATH + query, body=body, content_type=content_type)
    assert (reply.status_code, reply.json()) == (400, {"Message": message})
    assert harness.call("GET", "/v1/jobs").json()["items"] == []  # nothing was queued


def test_multipart_auth_and_case_insensitive_query_names(lb: tuple[Harness, str]) -> None:
    harness, url = lb
    form = requests.post(f"{url}{PATH}?importProcessId=7", headers={"Authorization": "apikey " + harness.key()},
                         files={"file": ("a.jsonl", b'{"email": "a@x.org"}\n')}, timeout=30)
    assert (form.status_code, form.json()["Message"]) == (
        400, "JSON Lines is required: the request body must hold one JSON object per line, not a multipart form")
    anonymous = requests.post(f"{url}{PATH}?importProcessId=7", data=b'{"email": "a@x.org"}\n', timeout=30)
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"Message"}
    reader = harness.key(permissions=("imports:read",))
    refused = requests.post(f"{url}{PATH}?importProcessId=7", headers={"Authorization": f"apikey {reader}"},
                            data=b'{"email": "a@x.org"}\n', timeout=30)
    assert refused.status_code == 403 and refused.json() == {
        "Message": "this key lacks the permission BeginWorkflowImportProcess or imports:write"}
    lowered = requests.post(f"{url}{PATH}?importprocessid=7&FILENAME=x.jsonl",
                            headers={"Authorization": "apikey " + harness.key()}, data=b'{"email": "a@x.org"}\n',
                            timeout=30)
    assert lowered.status_code == 200 and harness.job(lowered.json()["queueBatchId"])["jobName"] == "x.jsonl"


def test_rows_replace_records_unless_merge_is_asked(lb: tuple[Harness, str]) -> None:
    harness, _ = lb
    harness.run(harness.submit_csv("email,name,age\nann@x.org,Ann,30\nbob@x.org,Bob,40\n")["jobId"])
    for query, email in (("", "ann@x.org"), ("&merge=true", "bob@x.org")):
        reply = harness.call("POST", f"{PATH}?importProcessId=7{query}", body=f'{{"email": "{email}", "age": 5}}\n'
                             .encode(), content_type="application/x-ndjson")
        assert harness.run(reply.json()["queueBatchId"])["counts"]["updated"] == 1
    assert harness.call("GET", "/v1/records/contact/ann@x.org").json()["attributes"] == {"email": "ann@x.org",
                                                                                         "age": 5}
    assert harness.call("GET", "/v1/records/contact/bob@x.org").json()["attributes"] == {
        "email": "bob@x.org", "name": "Bob", "age": 5}
