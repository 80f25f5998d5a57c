"""Seed 003, Liquid Decisions' batch API, replayed with the Python `requests` calls of its examples (Bearer token,
multipart import with a part that carries its own headers, form-encoded status and export, `str(filters)`),
answered with the Batch Status Response exactly as the seed shows it."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.doors import SEED_CONTACT, curl, served
from tests.harness import Harness

FIELDS = ["submitTime", "jobId", "notificationEmail", "jobName", "contentType", "itemType", "recordsProcessed",
          "runTime", "status", "reason"]
LIQUID_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")
ATTENDEES = [{"email": "ann@x.org", "name": "Ann", "tier": "gold"}, {"email": "bob@x.org", "name": "Bob", "age": 200},
             {"email": "cy@x.org", "name": "Cy", "tier": "gold", "age": 41}]


@pytest.fixture
def liquid(harness: Harness) -> Iterator[tuple[Harness, str, dict[str, str]]]:
    harness.define(schema=SEED_CONTACT)
    with served(harness) as server:
        yield harness, server, {"Authorization": "Bearer " + harness.key()}


def _status(server: str, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    payload = {"jobId": job_id}
    response = requests.post(server + "/ls/api/batch/status", headers=headers, data=payload, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_documented_import_then_status(liquid: tuple[Harness, str, dict[str, str]]) -> None:
    harness, server, headers = liquid
    files = {"file": ("data.json", io.BytesIO(json.dumps(ATTENDEES).encode()), "application/json", {"Expires": "0"})}
    parameters = {"notificationEmail": "ops@x.org", "jobName": "Attendee Import Job",
                  "contentType": "application/json", "itemType": "Attendee", "merge": False}
    responce = requests.post(server + "/ls/api/batch/import", headers=headers, files=files, data=parameters,
                             timeout=30)
    assert responce.status_code == 200, responce.text
    accepted = responce.json()
    assert list(accepted) == FIELDS and LIQUID_TIME.match(accepted["submitTime"])
    job_id = accepted["jobId"]
    assert accepted == {"submitTime": accepted["submitTime"], "jobId": job_id, "notificationEmail": "ops@x.org",
                        "jobName": "Attendee Import Job", "contentType": "application/json", "itemType": "contact",
                        "recordsProcessed": "0", "runTime": "0", "status": "Accepted",
                        "reason": "The file has been stored and the job is ready for processing"}
    job = harness.run(job_id)  # a normal job of /v1
    assert job["counts"]["created"] == 2 and job["counts"]["failed"] == 1 and job["notificationEmail"] == "ops@x.org"
    done = _status(server, headers, job_id)
    assert done["status"] == "Completed" and done["recordsProcessed"] == "3" and done["runTime"].isdigit()
    assert done["reason"] == ("The job has been completed: 3 records processed (2 created, 0 updated, 0 unchanged, "
                              "1 failed)")
    assert done["submitTime"] == accepted["submitTime"]


def test_csv_with_a_template_merge_in_any_case_and_every_csv_type(liquid: tuple[Harness, str, dict[str, str]]) -> None:
    harness, server, headers = liquid
    harness.run(harness.submit_csv("email,name,age\nann@x.org,Ann,30\n")["jobId"])
    for content_type, merge, age in (("plain/text", "TRUE", "31"), ("text/plain", "true", "32"),
                                     ("text/csv", "False", "33")):
        data = f"Attendee Mail,Years\nann@x.org,{age}\n".encode()
        reply = requests.post(server + "/ls/api/batch/import", headers=headers, timeout=30,
                              files={"file": ("people.csv", io.BytesIO(data))},
                              data={"jobName": "CSV", "itemType": "Attendee", "contentType": content_type,
                                    "merge": merge, "template": str({"Attendee Mail": "email", "Years": "age"})})
        assert reply.status_code == 200, reply.text
        harness.run(reply.json()["jobId"])
    record = harness.call("GET", "/v1/records/contact/ann@x.org").json()["attributes"]
    assert record == {"email": "ann@x.org", "age": 33}  # merged twice (the name kept), then replaced
    jsonl = requests.post(server + "/ls/api/batch/import", headers=headers, timeout=30,
                          files={"file": ("d.json", b'{"email": "dee@x.org"}\n{"email": "eve@x.org"}\n')},
                          data={"itemType": "contact", "contentType": "application/json",
                                "template": '{"email": "email"}'})
    assert harness.run(jsonl.json()["jobId"])["counts"]["created"] == 2  # JSON Lines, also application/json


def _download(link: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(requests.get(link, timeout=30).text)))


def test_the_documented_export_with_python_dict_filters(liquid: tuple[Harness, str, dict[str, str]]) -> None:
    harness, server, headers = liquid
    harness.run(harness.submit_csv("email,name,tier\nann@x.org,Ann,gold\nbob@x.org,Bob,silver\ncy@x.org,Cy,gold\n")
                ["jobId"])
    filters = {"tier": "gold",
               "name": "Cy"}
    sqlQuery = None
    parameters = {"notificationEmail": "ops@x.org", "jobName": "Gold export", "itemType": "Attendee",
                  "sqlQuery": sqlQuery, "contentType": "text/plain", "filters": str(filters),
                  "template": "$item.email,$!{item.name}", "rowHeader": True}
    response = requests.post(server + "/ls/api/batch/export", headers=headers, data=parameters, timeout=30)
    assert response.status_code == 200, response.text
    accepted = response.json()
    assert list(accepted) == FIELDS and accepted["status"] == "Accepted" and accepted["itemType"] == "contact"
    assert (accepted["jobName"], accepted["contentType"], accepted["recordsProcessed"]) == (
        "Gold export", "text/csv", "0")
    harness.pump()
    done = _status(server, headers, accepted["jobId"])  # exports share the status route
    assert list(done) == [*FIELDS, "links"] and done["status"] == "Completed" and done["recordsProcessed"] == "1"
    assert done["reason"] == "The job has been completed: 1 records exported"
    assert len(done["links"]) == 1 and done["links"][0].startswith(f"{server}/v1/export-links/")
    assert _download(done["links"][0]) == [["email", "name"], ["cy@x.org", "Cy"]]
    # sqlQuery wins over filters, which are then not even read; JSON filters and a JSON template work too
    sql = requests.post(server + "/ls/api/batch/export", headers=headers, timeout=30, data={
        "itemType": "contact", "sqlQuery": "SELECT email FROM records WHERE tier = 'gold' ORDER BY email",
        "filters": "{not: readable", "rowHeader": "false"})
    jsonish = requests.post(server + "/ls/api/batch/export", headers=headers, timeout=30, data={
        "itemType": "contact", "filters": json.dumps({"tier": "silver"}), "template": '["name"]',
        "contentType": "application/json"})
    harness.pump()
    assert _download(_status(server, headers, sql.json()["jobId"])["links"][0]) == [["ann@x.org"], ["cy@x.org"]]
    silver = _status(server, headers, jsonish.json()["jobId"])
    assert silver["contentType"] == "application/json"
    assert requests.get(silver["links"][0], timeout=30).text == '{"name":"Bob"}\n'


BAD_IMPORTS = [
    ({"itemType": "Attendee"}, None, "The file to import is required: send it as the multipart part 'file'"),
    ({}, b"email\na@x.org\n", "itemType is required: the item type as per the schema"),
    ({"itemType": "Speaker"}, b"email\na@x.org\n", "Item type 'Speaker' is not defined"),
    ({"itemType": "Attendee", "merge": "sometimes"}, b"email\n", "merge must be True or False, got 'sometimes'"),
    ({"itemType": "Attendee", "contentType": "text/xml"}, b"<a/>",
     "contentType 'text/xml' is not supported; one of: application/json, plain/text, text/plain, text/csv"),
    ({"itemType": "Attendee", "contentType": "application/json"}, b'[{"email": ',
     "The file is not a valid JSON array of objects: unexpected end of data: line 1 column 12 (char 11)"),
    ({"itemType": "Attendee", "template": "{'Mail': 'shoe'}"}, b"Mail\na@x.org\n",
     "template maps columns to unknown fields of contact: shoe"),
    ({"itemType": "Attendee", "template": "__import__('os').system('true')"}, b"email\n",
     "template could not be read: send it as JSON or as a Python dict's text, such as {'userId': 'a@b.org'}"),
    ({"itemType": "Attendee", "notificationEmail": "ops"}, b"email\n",
     "notificationEmail: is not an email address (name@domain, no spaces or control characters)"),
]


@pytest.mark.parametrize(("data", "file", "reason"), BAD_IMPORTS)
def test_bad_imports_are_rejected_with_a_reason(liquid: tuple[Harness, str, dict[str, str]], data: dict[str, str],
                                                file: bytes | None, reason: str) -> None:
    harness, server, headers = liquid
    files = {"file": ("data.csv", io.BytesIO(file))} if file is not None else None
    reply = requests.post(server + "/ls/api/batch/import", headers=headers, data=data, files=files, timeout=30)
    assert (reply.status_code, reply.json()) == (400, {"status": "Rejected", "reason": reason})
    assert harness.call("GET", "/v1/jobs").json()["items"] == []


@pytest.mark.parametrize(("data", "reason"), [
    ({"itemType": "Attendee", "filters": "{'tier': "},
     "filters could not be read: send it as JSON or as a Python dict's text, such as {'userId': 'a@b.org'}"),
    ({"itemType": "Attendee", "filters": "['tier']"}, "filters must be a dict (a JSON object), got list"),
    ({"itemType": "Attendee", "filters": "{'shoe': 1}"}, "filters name unknown fields: shoe"),
    ({"itemType": "Attendee", "filters": "().__class__.__bases__[0].__subclasses__()"},
     "filters could not be read: send it as JSON or as a Python dict's text, such as {'userId': 'a@b.org'}"),
    ({"itemType": "Attendee", "template": "just words"}, "template could not be read: give the fields to export as a "
     "JSON list or object, or a Velocity template referencing them ($item.field)"),
    ({"itemType": "Attendee", "template": "$item.shoe"},
     "template names unknown fields: shoe; known: key, email, name, age, joined, tier, score, active"),
    ({"itemType": "Attendee", "rowHeader": "maybe"}, "rowHeader must be True or False, got 'maybe'"),
    ({"itemType": "Attendee", "contentType": "text/xml"},
     "contentType 'text/xml' is not supported; one of: application/json, plain/text, text/plain, text/csv"),
])
def test_bad_exports_are_rejected_with_a_reason(liquid: tuple[Harness, str, dict[str, str]], data: dict[str, str],
                                                reason: str) -> None:
    _, server, headers = liquid
    reply = requests.post(server + "/ls/api/batch/export", headers=headers, data=data, timeout=30)
    assert (reply.status_code, reply.json()) == (400, {"status": "Rejected", "reason": reason})


def test_status_errors_and_tenants(liquid: tuple[Harness, str, dict[str, str]]) -> None:
    harness, server, headers = liquid
    job_id = harness.submit_csv("email\nann@x.org\n")["jobId"]  # a /v1 job is seen through the door too
    assert _status(server, headers, job_id)["status"] == "Accepted"
    missing = requests.post(server + "/ls/api/batch/status", headers=headers, data={}, timeout=30)
    assert (missing.status_code, missing.json()) == (400, {
        "jobId": None, "reason": "jobId is required: the id the import or export request answered with"})
    harness.key("globex")
    other = requests.post(server + "/ls/api/batch/status", data={"jobId": job_id}, timeout=30,
                          headers={"Authorization": "Bearer " + harness.key("globex")})
    assert (other.status_code, other.json()) == (404, {"jobId": None, "reason": f"Job {job_id} was not found"})
    status, body = curl("curl -X POST $SERVER/ls/api/batch/status -H \"Authorization: Bearer $TOKEN\" "
                        "-d jobId=nope", SERVER=server, TOKEN=harness.key())
    assert (status, json.loads(body)) == (404, {"jobId": None, "reason": "Job nope was not found"})
    exporter = harness.key(permissions=("exports:read",))  # may read exports, not import jobs
    hidden = requests.post(server + "/ls/api/batch/status", data={"jobId": job_id}, timeout=30,
                           headers={"Authorization": "Bearer " + exporter})
    assert hidden.status_code == 404
    anonymous = requests.post(server + "/ls/api/batch/import", data={"itemType": "contact"}, timeout=30)
    assert (anonymous.status_code, anonymous.json()["status"]) == (401, "Rejected")
