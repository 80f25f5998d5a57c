"""Seed 004, TeamTracks' object import, replayed as its documented cURL (--location, the `tenant`,
`Ocp-Apim-Subscription-Key` and Bearer headers, --form 'file=@"..."'): a workbook into a track, then the job
polled at /job/{jobId}, with failed rows split by whether their key matched a stored record."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import openpyxl
import pytest
import requests
import xlwt

from tests.doors import SEED_CONTACT, TRACK, curl, served
from tests.harness import Harness

CURL = ("curl --location \"$SERVER/objectimport/$TRACK\" --header 'tenant: acme' "
        "--header \"Ocp-Apim-Subscription-Key: $SUBSCRIPTION\" --header \"Authorization: Bearer $TOKEN\" "
        "--form 'file=@\"people.xlsx\"'")
ROWS: list[tuple[object, ...]] = [
    ("email", "name", "age"), ("ann@x.org", "Ann", 40), ("cy@x.org", "Cy", -1), ("dee@x.org", "Dee", 20),
    ("eve@x.org", "Eve", "old"), ("not-an-email", "Who", 5), ("fay@x.org", "Fay", 50)]
IN_PROGRESS = {"finished": False, "dateFinished": 0, "successfullyCreated": 0, "failedToCreate": 0,
               "successfullyUpdated": 0, "unchanged": 0, "failedToUpdate": 0}


def _xlsx(rows: Sequence[tuple[object, ...]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def tt(harness: Harness) -> Iterator[tuple[Harness, str]]:
    harness.define(schema=SEED_CONTACT)
    harness.run(harness.submit_csv("email,name,age\nann@x.org,Ann,30\ncy@x.org,Cy,35\nfay@x.org,Fay,50\n")["jobId"])
    with served(harness) as url:
        yield harness, url


def test_the_documented_curl_then_the_job_status(tt: tuple[Harness, str], tmp_path: Path) -> None:
    harness, url = tt
    (tmp_path / "people.xlsx").write_bytes(_xlsx(ROWS))
    key = harness.key()
    status, body = curl(CURL, cwd=str(tmp_path), SERVER=url, TRACK=TRACK, SUBSCRIPTION="any-subscription",
                        TOKEN=key)
    assert status == 200, body
    job_id = json.loads(body)["jobId"]
    assert json.loads(body) == {"jobId": job_id}
    poll = "curl --location \"$SERVER/job/$JOB\" --header 'tenant: acme' --header \"Authorization: Bearer $TOKEN\""
    status, body = curl(poll, SERVER=url, JOB=job_id, TOKEN=key)
    assert (status, json.loads(body)) == (200, IN_PROGRESS)  # exactly the seed's in-progress answer
    harness.pump()
    status, body = curl(poll, SERVER=url, JOB=job_id, TOKEN=key)
    done = json.loads(body)
    assert done["finished"] is True and done["dateFinished"] > 1_700_000_000_000
    assert {k: v for k, v in done.items() if k not in ("finished", "dateFinished", "errors")} == {
        "successfullyCreated": 1, "failedToCreate": 2, "successfullyUpdated": 1, "unchanged": 1, "failedToUpdate": 1,
        "objectsCreated": ["dee@x.org"]}
    assert list(done)[:7] == list(IN_PROGRESS)  # the seed's order
    assert [(e["row"], e["field"], e["message"]) for e in done["errors"]] == [
        (2, "age", "must be at least 0"), (4, "age", "expected an integer"),
        (5, "email", "is not a valid email address")]
    job = harness.job(job_id)  # a normal job of /v1, whose counters add up the same
    assert job["counts"]["processed"] == sum(done[k] for k in list(IN_PROGRESS)[2:]) == 6
    assert (job["itemType"], job["jobName"]) == ("contact", "people.xlsx")


def test_xls_csv_any_case_and_the_subscription_key_alone(tt: tuple[Harness, str]) -> None:
    harness, url = tt
    book = xlwt.Workbook()
    sheet = book.add_sheet("People")
    for r, row in enumerate([("email", "name"), ("gus@x.org", "Gus")]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    xls = io.BytesIO()
    book.save(xls)
    key = harness.key()
    sent = [("people.xls", xls.getvalue()), ("PEOPLE.CSV", b"email,name\nhal@x.org,Hal\n"),
            ("C:\\exports\\people.XLSX", _xlsx([("email",), ("ivy@x.org",)]))]
    for name, data in sent:
        reply = requests.post(f"{url}/objectimport/contact", headers={"Ocp-Apim-Subscription-Key": key},
                              files={"file": (name, data, "application/vnd.ms-excel")}, timeout=30)
        assert reply.status_code == 200, (name, reply.text)
        harness.pump()
        done = requests.get(f"{url}/job/{reply.json()['jobId']}", headers={"Ocp-Apim-Subscription-Key": key},
                            timeout=30).json()
        assert (done["successfullyCreated"], done["failedToCreate"]) == (1, 0), (name, done)


def test_errors_in_the_gateway_shape(tt: tuple[Harness, str]) -> None:
    harness, url = tt
    auth = {"Authorization": "Bearer " + harness.key()}
    job_id = harness.submit_csv("email\nzed@x.org\n")["jobId"]  # made on /v1, polled through the door
    cases = [
        (requests.post(f"{url}/objectimport/{TRACK}", headers=auth, files={"file": ("notes.txt", b"x")}, timeout=30),
         400, "Only xlsx, xls and csv files are supported"),
        (requests.post(f"{url}/objectimport/{TRACK}", headers=auth, files={"file": ("book.xlsb", b"x")}, timeout=30),
         400, "Only xlsx, xls and csv files are supported"),
        (requests.post(f"{url}/objectimport/{TRACK}", headers=auth, data={"x": "1"}, timeout=30),
         400, "A file is required: send it as the multipart form field 'file'"),
        (requests.post(f"{url}/objectimport/no-such-track", headers=auth, files={"file": ("a.csv", b"email\n")},
                       timeout=30), 404, "Track 'no-such-track' was not found"),
        (requests.post(f"{url}/objectimport/{TRACK}", headers={**auth, "tenant": "globex"},
                       files={"file": ("a.csv", b"email\n")}, timeout=30), 404,
         "Tenant 'globex' was not found for this key"),
        (requests.get(f"{url}/job/{job_id}", headers={**auth, "tenant": "globex"}, timeout=30), 404,
         "Tenant 'globex' was not found for this key"),
        (requests.get(f"{url}/job/{job_id}", headers={"Authorization": "Bearer " + harness.key("globex")},
                      timeout=30), 404, f"job {job_id} not found"),
        (requests.get(f"{url}/job/nope", headers=auth, timeout=30), 404, "job nope not found"),
        (requests.get(f"{url}/job/{job_id}", headers={"Authorization": "Bearer {token}"}, timeout=30), 401,
         "a valid API key is required: send 'Authorization: Bearer <key>'"),
        (requests.post(f"{url}/objectimport/{TRACK}", headers={"Authorization": "Bearer " + harness.key(
            permissions=("imports:read",))}, files={"file": ("a.csv", b"email\n")}, timeout=30), 403,
         "this key lacks the permission imports:write"),
    ]
    for reply, status, message in cases:
        assert (reply.status_code, reply.json()) == (status, {"statusCode": status, "message": message})
    assert requests.get(f"{url}/job/{job_id}", headers={**auth, "tenant": "acme"}, timeout=30).status_code == 200


def test_a_rejected_file_is_finished_with_its_reason(tt: tuple[Harness, str]) -> None:
    harness, url = tt
    auth = {"Authorization": "Bearer " + harness.key()}
    reply = requests.post(f"{url}/objectimport/Attendee", headers=auth,
                          files={"file": ("people.csv", b"name,age\nNo Key,3\n")}, timeout=30)
    harness.pump()
    done = requests.get(f"{url}/job/{reply.json()['jobId']}", headers=auth, timeout=30).json()
    assert done == {**IN_PROGRESS, "finished": True, "dateFinished": done["dateFinished"], "objectsCreated": [],
                    "errors": [{"message": "missing required columns: email; expected email, name, age, joined, "
                                           "tier, score, active; found name, age"}]}


def test_rows_replace_objects_unless_merge_is_asked(tt: tuple[Harness, str]) -> None:
    harness, url = tt
    auth = {"Authorization": "Bearer " + harness.key()}
    for data, email in (({}, "ann@x.org"), ({"merge": "true"}, "cy@x.org")):
        reply = requests.post(f"{url}/objectimport/{TRACK}", headers=auth, data=data, timeout=30,
                              files={"file": ("ages.csv", f"email,age\n{email},7\n".encode())})
        harness.pump()
        done = requests.get(f"{url}/job/{reply.json()['jobId']}", headers=auth, timeout=30).json()
        assert done["successfullyUpdated"] == 1
    assert harness.call("GET", "/v1/records/contact/ann@x.org").json()["attributes"] == {"email": "ann@x.org",
                                                                                         "age": 7}
    assert harness.call("GET", "/v1/records/contact/cy@x.org").json()["attributes"] == {
        "email": "cy@x.org", "name": "Cy", "age": 7}
