"""Import jobs end to end through the handlers: classification, merge/replace, dry runs, duplicates,
row errors, result files, listing and records."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
import requests

from sluice.store import blobs
from tests.harness import CONTACT_SCHEMA, Harness

HEADER = "email,name,age,joined,tier,score,active\n"


def _records(h: Harness, item_type: str = "contact", tenant: str = "acme") -> dict[str, dict]:
    out: dict[str, dict] = {}
    cursor = None
    while True:
        path = f"/v1/records/{item_type}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = h.call("GET", path, tenant=tenant).json()
        out.update({r["key"]: r for r in page["items"]})
        cursor = page["nextCursor"]
        if not cursor:
            return out


def test_counts_classify_created_updated_unchanged_and_failed(harness: Harness) -> None:
    harness.define()
    first = harness.submit_csv(HEADER + "a@x.org,Ann,30,2024-01-02,gold,1.50,yes\n"
                                        "b@x.org,Bob,40,,silver,,no\n"
                                        "c@x.org,Cy,50,,,,\n")
    done = harness.run(first["jobId"])
    assert done["counts"] == {"total": 3, "processed": 3, "created": 3, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 0, "unprocessed": 0}
    assert done["objectsCreated"] == ["a@x.org", "b@x.org", "c@x.org"]

    second = harness.submit_csv(HEADER + "a@x.org,Ann,30,2024-01-02,gold,1.5,true\n"   # unchanged (1.5 == 1.50)
                                         "B@X.org,Bobby,40,,silver,,no\n"               # updated (key case-folded)
                                         "d@x.org,Di,20,,,,\n"                           # created
                                         "e@x.org,Ed,200,,,,\n")                         # failed: age > 150
    done = harness.run(second["jobId"])
    assert done["status"] == "Completed"
    assert done["counts"] == {"total": 4, "processed": 4, "created": 1, "updated": 1, "unchanged": 1,
                              "deleted": 0, "failed": 1, "unprocessed": 0}
    assert done["errors"] == [{"row": 4, "line": 5, "field": "age", "value": "200", "message": "must be at most 150"}]
    assert done["objectsCreated"] == ["d@x.org"]
    assert done["finished"] is True and done["dateFinished"] > 0 and done["finishTime"].endswith("Z")

    records = _records(harness)
    assert sorted(records) == ["a@x.org", "b@x.org", "c@x.org", "d@x.org"]
    assert records["a@x.org"]["attributes"] == {"email": "a@x.org", "name": "Ann", "age": 30, "joined": "2024-01-02",
                                                "tier": "gold", "score": "1.5", "active": True}
    assert records["a@x.org"]["version"] == 1
    assert records["b@x.org"]["attributes"]["name"] == "Bobby"
    assert records["b@x.org"]["version"] == 2
    assert records["b@x.org"]["lastJobId"] == second["jobId"]


def test_merge_changes_only_given_fields_and_replace_drops_the_rest(harness: Harness) -> None:
    harness.define()
    harness.run(harness.submit_csv(HEADER + "a@x.org,Ann,30,2024-01-02,gold,2,yes\n")["jobId"])
    merged = harness.run(harness.submit_csv("email,name\na@x.org,Annie\n", merge="true")["jobId"])
    assert merged["merge"] is True and merged["counts"]["updated"] == 1
    record = harness.call("GET", "/v1/records/contact/a@x.org").json()
    assert record["attributes"] == {"email": "a@x.org", "name": "Annie", "age": 30, "joined": "2024-01-02",
                                    "tier": "gold", "score": "2", "active": True}
    same = harness.run(harness.submit_csv("email,name\na@x.org,Annie\n", merge="true")["jobId"])
    assert same["counts"]["unchanged"] == 1
    replaced = harness.run(harness.submit_csv("email,name\na@x.org,Annie\n")["jobId"])
    assert replaced["counts"]["updated"] == 1
    record = harness.call("GET", "/v1/records/contact/a@x.org").json()
    assert record["attributes"] == {"email": "a@x.org", "name": "Annie"}
    assert record["version"] == 3


def test_dry_run_validates_and_counts_but_writes_nothing(harness: Harness) -> None:
    harness.define()
    harness.run(harness.submit_csv("email,name\na@x.org,Ann\n")["jobId"])
    job = harness.submit_csv("email,name,age\na@x.org,Ann,\nb@x.org,Bob,x\nc@x.org,Cy,3\nc@x.org,Cy,3\n",
                             mode="dry-run")
    done = harness.run(job["jobId"])
    assert done["mode"] == "dry-run"
    assert done["counts"] == {"total": 4, "processed": 4, "created": 1, "updated": 0, "unchanged": 1,
                              "deleted": 0, "failed": 2, "unprocessed": 0}
    assert [(e["row"], e["field"], e["message"]) for e in done["errors"]] == [
        (2, "age", "expected an integer"), (4, "email", "duplicate key, first seen at row 3")]
    assert done["objectsCreated"] == []
    assert sorted(_records(harness)) == ["a@x.org"]


def test_duplicate_keys_fail_later_rows_across_chunks(harness: Harness) -> None:
    harness.define()
    rows = [f"u{i}@x.org,User {i}" for i in range(1, 8)] + ["U2@x.org,Again", "u7@x.org,Again", "u1@x.org,Again"]
    done = harness.run(harness.submit_csv("email,name\n" + "\n".join(rows) + "\n")["jobId"])
    assert done["counts"]["created"] == 7 and done["counts"]["failed"] == 3
    assert [(e["row"], e["field"], e["value"], e["message"]) for e in done["errors"]] == [
        (8, "email", "u2@x.org", "duplicate key, first seen at row 2"),
        (9, "email", "u7@x.org", "duplicate key, first seen at row 7"),
        (10, "email", "u1@x.org", "duplicate key, first seen at row 1"),
    ]
    assert _records(harness)["u2@x.org"]["attributes"]["name"] == "User 2"


def test_row_errors_page_in_row_order_with_cursor(harness: Harness) -> None:
    harness.define()
    lines = [f"bad{i},n{i},{i}" if i % 2 else f"ok{i}@x.org,n{i},{-i}" for i in range(1, 31)]
    done = harness.run(harness.submit_csv("email,name,age\n" + "\n".join(lines) + "\n")["jobId"])
    assert done["counts"]["failed"] == 30 and done["counts"]["processed"] == 30
    assert len(done["errors"]) == 20
    seen = []
    cursor = None
    while True:
        path = f"/v1/jobs/{done['jobId']}/errors?limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = harness.call("GET", path).json()
        seen.extend(page["items"])
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert [e["row"] for e in seen] == list(range(1, 31))
    assert seen[0] == {"row": 1, "line": 2, "field": "email", "value": "bad1",
                       "message": "is not a valid email address"}
    assert seen[1] == {"row": 2, "line": 3, "field": "age", "value": "-2", "message": "must be at least 0"}
    assert done["errors"] == seen[:20]
    bad = harness.call("GET", f"/v1/jobs/{done['jobId']}/errors?cursor=garbage")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


def test_result_files_hold_input_rows_with_outcomes(harness: Harness) -> None:
    harness.define()
    harness.run(harness.submit_csv("email,name\nold@x.org,Old\n")["jobId"])
    job = harness.submit_csv('email,name,extra\nold@x.org,New,"x,1"\nnew@x.org,"multi\nline",2\nnope,Bad,3\n')
    done = harness.run(job["jobId"])
    assert done["ignoredColumns"] == ["extra"]
    header = ["email", "name", "extra", "sluice_row", "sluice_outcome", "sluice_message"]
    assert harness.result_rows(job["jobId"], "succeeded") == [
        header,
        ["old@x.org", "New", "x,1", "1", "updated", "old@x.org"],
        ["new@x.org", "multi\nline", "2", "2", "created", "new@x.org"],
    ]
    assert harness.result_rows(job["jobId"], "failed") == [
        header, ["nope", "Bad", "3", "3", "failed", "email: is not a valid email address"]]
    assert harness.result_rows(job["jobId"], "unprocessed") == [header]
    link = harness.call("GET", f"/v1/jobs/{job['jobId']}/results/failed").json()
    assert link["url"].startswith("https://") and link["expiresAt"].endswith("Z")
    assert harness.call("GET", f"/v1/jobs/{job['jobId']}/results/other").status_code == 404


def test_jsonl_body_with_options_in_query(harness: Harness) -> None:
    harness.define()
    body = b'{"email": "a@x.org", "age": 3, "active": true}\n\n[1, 2]\n{"E-mail": "b@x.org", "name": {"x": 1}}\n' \
           b'{"email": "c@x.org", "unknown": 1}\nnot json\n'
    reply = harness.call("POST", "/v1/jobs?itemType=contact&creationPath=LH&jobName=nightly", body=body,
                         content_type="application/x-ndjson")
    assert reply.status_code == 202, reply.content
    assert reply.headers["location"] == f"/v1/jobs/{reply.json()['jobId']}"
    job = reply.json()
    assert job["creationPath"] == "API:LH" and job["jobName"] == "nightly"
    done = harness.run(job["jobId"])
    assert done["counts"] == {"total": 5, "processed": 5, "created": 2, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 3, "unprocessed": 0}
    assert [(e["row"], e["field"], e["message"]) for e in done["errors"]] == [
        (2, None, "is not a JSON object"),
        (3, "name", "expected text, got a nested JSON value"),
        (5, None, "is not valid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)"),
    ]
    assert done["ignoredColumns"] == ["unknown"]
    assert harness.call("GET", "/v1/records/contact/a@x.org").json()["attributes"] == {
        "email": "a@x.org", "age": 3, "active": True}


def test_upload_url_form_starts_on_upload(harness: Harness) -> None:
    harness.define()
    reply = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "big.csv"})
    assert reply.status_code == 201, reply.content
    job = reply.json()
    assert job["status"] == "Initialized" and job["uploadUrl"].startswith("https://")
    assert job["uploadExpiresAt"].endswith("Z")
    assert harness.run(job["jobId"])["status"] == "Initialized"
    put = requests.put(job["uploadUrl"], data=b"email\nz@x.org\n")
    assert put.status_code == 200
    done = harness.run(job["jobId"])
    assert done["status"] == "Completed" and done["counts"]["created"] == 1
    assert done["files"][0]["name"] == "big.csv" and done["files"][0]["size"] == 14 and done["files"][0]["rows"] == 1
    assert "uploadUrl" not in done


def test_keyless_schema_creates_a_record_per_row_with_stable_ids(harness: Harness) -> None:
    harness.define("note", {"fields": {"text": {"type": "string", "required": True}}})
    job = harness.submit_csv("text\nhello\nhello\n", item_type="note")
    done = harness.run(job["jobId"])
    assert done["counts"]["created"] == 2
    keys = done["objectsCreated"]
    assert len(set(keys)) == 2
    record = harness.call("GET", f"/v1/records/note/{keys[0]}").json()
    assert record["attributes"] == {"text": "hello"}


def test_records_api_reads_keys_with_separators_and_spaces(harness: Harness) -> None:
    harness.define("membership", {"key": ["org", "person"], "fields": {
        "org": {"type": "string"}, "person": {"type": "string"}, "since": {"type": "datetime"}}})
    job = harness.submit_csv("org,person,since\nAcme Inc/EU,p 1,2024-05-01T10:00:00+02:00\n", item_type="membership")
    assert harness.run(job["jobId"])["counts"]["created"] == 1
    key = "Acme Inc/EU|p 1"
    record = harness.call("GET", f"/v1/records/membership/{quote(key, safe='')}").json()
    assert record["key"] == key
    assert record["attributes"]["since"] == "2024-05-01T08:00:00Z"
    missing = harness.call("GET", "/v1/records/membership/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]["message"]


def test_listing_filters_and_cursor(harness: Harness) -> None:
    harness.define()
    harness.define("note", {"fields": {"text": {"type": "string"}}})
    ids = []
    for i in range(5):
        ids.append(harness.submit_csv("email\na@x.org\n", creationPath="LH" if i % 2 else "")["jobId"])
    ids.append(harness.submit_csv("text\nx\n", item_type="note")["jobId"])
    harness.pump()
    listed = harness.call("GET", "/v1/jobs?limit=4").json()
    assert [j["jobId"] for j in listed["items"]] == ids[::-1][:4]
    rest = harness.call("GET", f"/v1/jobs?limit=4&cursor={listed['nextCursor']}").json()
    assert [j["jobId"] for j in rest["items"]] == ids[::-1][4:]
    assert rest["nextCursor"] is None
    by_path = harness.call("GET", "/v1/jobs?creationPath=API:LH").json()
    assert [j["jobId"] for j in by_path["items"]] == [ids[3], ids[1]]
    by_type = harness.call("GET", "/v1/jobs?itemType=note&status=Completed").json()
    assert [j["jobId"] for j in by_type["items"]] == [ids[5]]
    assert harness.call("GET", "/v1/jobs?status=Nope").status_code == 400
    assert harness.call("GET", "/v1/jobs?limit=0").status_code == 400


def test_multipart_options_are_applied(harness: Harness) -> None:
    harness.define()
    reply = harness.call("POST", "/v1/jobs", files={"file": ("people.txt", io.BytesIO(b"email\na@x.org\n"))},
                         data={"itemType": "contact", "jobName": "People", "merge": "true", "mode": "dry-run",
                               "creationPath": "CRM", "notificationEmail": "ops@x.org", "contentType": "text/csv"})
    job = reply.json()
    assert (job["jobName"], job["merge"], job["mode"], job["creationPath"], job["notificationEmail"]) == (
        "People", True, "dry-run", "API:CRM", "ops@x.org")
    assert harness.run(job["jobId"])["counts"]["created"] == 1


def test_chunks_whose_encoding_outgrows_the_estimate_are_split_to_fit(harness: Harness) -> None:
    harness.define("doc", {"key": ["id"], "fields": {"id": {"type": "integer"},
                                                     "body": {"type": "string", "maxLength": 100_000}}})
    quoted = '"' * 60_000  # each quote doubles in CSV and becomes \" in JSON
    rows = "".join(f'{i},"{quoted * 2}"\n' for i in range(1, 4))
    job = harness.submit_csv("id,body\n" + rows, item_type="doc")
    done = harness.run(job["jobId"])
    assert done["counts"] == {"total": 3, "processed": 3, "created": 3, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 0, "unprocessed": 0}
    stored = harness.dynamodb.get_item(TableName=harness.clients.settings.jobs_table,
                                       Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{job['jobId']}"}})["Item"]
    # one chunk by the estimate (180 KB); encoded it is 360 KB, so it is halved into 1 + 2 rows (120 + 240 KB)
    assert int(stored["chunkCount"]["N"]) == 2
    record = harness.call("GET", "/v1/records/doc/2").json()
    assert record["attributes"]["body"] == '"' * 60_000


@pytest.mark.parametrize("copy_limit", [None, 10], ids=["copy-object", "copied-in-parts"])
def test_retry_failed_rows_after_fixing_the_schema(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                   copy_limit: int | None) -> None:
    """copied-in-parts: the failed rows' file over what one CopyObject takes (5 GB, lowered to 10 bytes here) is
    copied to the retry's upload in parts."""
    if copy_limit is not None:
        monkeypatch.setattr(blobs, "COPY_OBJECT_MAX_BYTES", copy_limit)
    harness.define()
    job = harness.submit_csv("email,name,age,tier\na@x.org,Ann,30,gold\nb@x.org,Bob,30,platinum\n"
                             "c@x.org,Cy,31,bronze\n", creationPath="CRM")
    done = harness.run(job["jobId"])
    assert done["counts"]["failed"] == 2
    assert harness.call("POST", f"/v1/jobs/{job['jobId']}/retry-failed", tenant="globex").status_code == 404
    schema = {**CONTACT_SCHEMA, "fields": {**CONTACT_SCHEMA["fields"],
                                           "tier": {"type": "enum", "values": ["gold", "silver", "platinum"]}}}
    harness.define(schema=schema)
    reply = harness.call("POST", f"/v1/jobs/{job['jobId']}/retry-failed")
    assert reply.status_code == 202, reply.content
    retry = harness.run(reply.json()["jobId"])
    upload = harness.s3.head_object(Bucket=harness.clients.settings.bucket, Key=f"uploads/acme/{retry['jobId']}/data")
    assert upload["ETag"].endswith('-1"') is (copy_limit is not None)  # a multipart object's ETag counts its parts
    assert retry["retryOf"] == job["jobId"] and retry["creationPath"] == "API:CRM"
    assert retry["counts"] == {"total": 2, "processed": 2, "created": 1, "updated": 0, "unchanged": 0,
                               "deleted": 0, "failed": 1, "unprocessed": 0}
    assert retry["ignoredColumns"] == ["sluice_row", "sluice_outcome", "sluice_message"]
    assert [(e["row"], e["field"], e["value"]) for e in retry["errors"]] == [(2, "tier", "bronze")]
    assert harness.call("GET", "/v1/records/contact/b@x.org").json()["attributes"]["tier"] == "platinum"
    clean = harness.run(harness.submit_csv("email\nz@x.org\n")["jobId"])
    nothing = harness.call("POST", f"/v1/jobs/{clean['jobId']}/retry-failed")
    assert nothing.status_code == 409 and "no failed rows" in nothing.json()["error"]["message"]
