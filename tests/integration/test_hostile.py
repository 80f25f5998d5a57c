"""The hostile corpus (issue 15): small files, odd values and misused keys that once hurt the service or another
tenant. Each answers with a clear 4xx, a Rejected or Failed job naming the limit, or a row error."""

from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.harness import Harness

NUMBERS: dict[str, Any] = {"key": ["code"], "fields": {"code": {"type": "string", "required": True},
                                                      "n": {"type": "integer"},
                                       "d": {"type": "decimal"}, "note": {"type": "string"}}}
PAIR: dict[str, Any] = {"key": ["a", "b"], "fields": {"a": {"type": "string", "required": True},
                                      "b": {"type": "string", "required": True}, "v": {"type": "string"}}}


def _error(reply: Any) -> tuple[int, str]:
    return reply.status_code, reply.json()["error"]["message"]


def _jsonl(h: Harness, item_type: str, lines: list[str]) -> dict[str, Any]:
    reply = h.call("POST", f"/v1/jobs?itemType={item_type}", body="\n".join(lines).encode() + b"\n",
                   content_type="application/x-ndjson")
    assert reply.status_code == 202, reply.content
    return h.run(reply.json()["jobId"])


# --- resource exhaustion -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["bz2", "zlib", "base64", "rot13", "hex", "klingon"])
def test_only_text_encodings_are_accepted_at_submit(harness: Harness, encoding: str) -> None:
    harness.define()
    reply = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", io.BytesIO(b"email\na@x.org\n"))},
                         data={"itemType": "contact", "encoding": encoding})
    status, message = _error(reply)
    assert status == 400
    assert message.startswith(f"encoding: '{encoding}' is not an accepted text encoding; one of: utf-8,")
    upload = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "a.csv",
                                                        "encoding": encoding})
    assert upload.status_code == 400 and "is not an accepted text encoding" in upload.json()["error"]["message"]
    control = harness.call("POST", "/v1/controls", json_body={"files": {"a.csv": {"itemType": "contact",
                                                                                  "encoding": encoding}}})
    assert control.status_code == 400 and "is not an accepted text encoding" in control.json()["error"]["message"]


def test_a_drop_folder_options_file_with_a_codec_rejects_the_job(harness: Harness) -> None:
    harness.define()
    bucket = harness.clients.settings.bucket
    harness.s3.put_object(Bucket=bucket, Key="inbox/acme/contact/a.csv.options.json", Body=b'{"encoding": "bz2"}')
    harness.s3.put_object(Bucket=bucket, Key="inbox/acme/contact/a.csv", Body=b"email\na@x.org\n")
    harness.pump()
    job = harness.call("GET", "/v1/jobs").json()["items"][0]
    assert job["status"] == "Rejected" and "'bz2' is not an accepted text encoding" in job["reason"]


def test_a_line_longer_than_the_limit_rejects_the_file_naming_it(harness: Harness) -> None:
    harness.define()
    data = b"email,name\na@x.org,Ann\nb@x.org," + b"x" * (1024 * 1024 + 10) + b"\nc@x.org,Cy\n"
    reply = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "long.csv"})
    assert requests.put(reply.json()["uploadUrl"], data=data).status_code == 200
    job = harness.run(reply.json()["jobId"])
    assert job["status"] == "Rejected"
    assert job["reason"] == ("line 3 is longer than 1048576 bytes; lines of at most 1048576 bytes are read (is a line "
                             "ending or a quote missing?)")
    assert job["counts"]["created"] == 0 and harness.call("GET", "/v1/records/contact").json()["items"] == []


def test_a_form_of_many_parts_is_refused_before_it_is_parsed(harness: Harness) -> None:
    boundary = "b"
    parts = b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n' * 73_000  # 3.7 MB, under the body limit
    started = time.perf_counter()
    reply = harness.call("POST", "/v1/jobs", body=parts + f"--{boundary}--\r\n".encode(),
                         content_type=f"multipart/form-data; boundary={boundary}")
    assert time.perf_counter() - started < 2
    assert _error(reply) == (413, "the form has 73000 parts; a form has at most 50")
    field = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", io.BytesIO(b"email\n"))},
                         data={"itemType": "x" * 70_000})
    assert _error(field) == (413, "form field 'itemType' is 70000 bytes; text fields are at most 65536 bytes")


def test_export_filters_are_bounded(harness: Harness) -> None:
    harness.define()
    many = harness.call("POST", "/v1/exports", json_body={"itemType": "contact",
                                                         "filters": {"name": [f"n{i}" for i in range(55_000)]}})
    assert _error(many) == (400, "filters: filter 'name' lists 55000 values; at most 100")
    nested = harness.call("POST", "/v1/exports", json_body={"itemType": "contact", "filters": {"name": {"$gt": 1}}})
    assert nested.status_code == 400 and "nested value" in nested.json()["error"]["message"]


# --- one bad value fails one row ----------------------------------------------------------------------


def test_huge_numbers_and_keys_fail_their_row_only(harness: Harness) -> None:
    harness.define("thing", NUMBERS)
    rows = [
        "code,n,d,note",
        "a,1,1.5,fine",
        f"b,{'9' * 5000},,a 5000-digit integer",
        f"{'k' * 1500},2,,a 1500-byte key",
        "c,9223372036854775808,,one past the 64-bit range",
        f"d,,{'1' * 39},39 significant digits",
        "e,-9223372036854775808,12345678901234567890.123456789012345678,the edges",
    ]
    job = harness.run(harness.submit_csv("\n".join(rows) + "\n", item_type="thing")["jobId"])
    assert job["status"] == "Completed"
    assert job["counts"] == {"total": 6, "processed": 6, "created": 2, "updated": 0, "unchanged": 0,
                             "deleted": 0, "failed": 4, "unprocessed": 0}
    errors = {e["row"]: (e["field"], e["message"]) for e in harness.call(
        "GET", f"/v1/jobs/{job['jobId']}/errors").json()["items"]}
    assert errors == {
        2: ("n", "is 5000 characters long, too long for an integer: integers are stored from "
                 "-9223372036854775808 to 9223372036854775807"),
        3: ("code", "the record key is 1500 bytes; keys of at most 1024 bytes are stored"),
        4: ("n", "is out of range: integers are stored from -9223372036854775808 to 9223372036854775807"),
        5: ("d", "has more than 38 significant digits, which is what is stored exactly"),
    }
    edge = harness.call("GET", "/v1/records/thing/e").json()["attributes"]
    assert edge == {"code": "e", "n": -9223372036854775808, "d": "12345678901234567890.123456789012345678",
                    "note": "the edges"}


def test_json_numbers_stay_exact_end_to_end(harness: Harness) -> None:
    harness.define("thing", NUMBERS)
    job = _jsonl(harness, "thing", [
        '{"code": "a", "n": 9007199254740993, "d": 0.1}',
        '{"code": "b", "n": 123456789012345678901234}',
        '{"code": "c", "d": 1234567890.12345678901234567, "note": 98765432109876543210}',
    ])
    assert job["counts"]["created"] == 2 and job["counts"]["failed"] == 1
    assert harness.call("GET", f"/v1/jobs/{job['jobId']}/errors").json()["items"][0]["message"] == (
        "is out of range: integers are stored from -9223372036854775808 to 9223372036854775807")
    a = harness.call("GET", "/v1/records/thing/a")
    assert a.status_code == 200 and json.loads(a.content)["attributes"] == {"code": "a", "n": 9007199254740993,
                                                                          "d": "0.1"}
    c = harness.call("GET", "/v1/records/thing/c").json()["attributes"]
    assert c == {"code": "c", "d": "1234567890.12345678901234567", "note": "98765432109876543210"}
    update = harness.call("POST", "/v1/attribute-updates", json_body=[
        {"itemType": "thing", "key": "a", "values": [{"attribute": "n", "value": 10**30},
                                                     {"attribute": "note", "value": 10**30}]}])
    assert update.status_code == 200 and update.json()["successCount"] == 1 and update.json()["errorCount"] == 1
    assert harness.call("GET", "/v1/records/thing/a").json()["attributes"]["note"] == str(10**30)


def test_composite_keys_escape_their_separator(harness: Harness) -> None:
    harness.define("pair", PAIR)
    job = _jsonl(harness, "pair", ['{"a": "a|b", "b": "c", "v": "first"}', '{"a": "a", "b": "b|c", "v": "second"}',
                                   '{"a": "x\\\\", "b": "y", "v": "third"}'])
    assert job["counts"]["created"] == 3
    assert sorted(job["objectsCreated"]) == ["a\\|b|c", "a|b\\|c", "x\\\\|y"]
    first = harness.call("GET", "/v1/records/pair/" + requests.utils.quote("a\\|b|c", safe=""))
    second = harness.call("GET", "/v1/records/pair/" + requests.utils.quote("a|b\\|c", safe=""))
    assert first.json()["attributes"]["v"] == "first" and second.json()["attributes"]["v"] == "second"


# --- exports finish or fail, in seconds ------------------------------------------------------------------


def _export(h: Harness, body: dict[str, Any]) -> dict[str, Any]:
    reply = h.call("POST", "/v1/exports", json_body=body)
    assert reply.status_code == 202, reply.content
    h.pump()
    return h.call("GET", f"/v1/exports/{reply.json()['exportId']}").json()


def test_sql_exports_of_awkward_item_types_end_with_a_reason(harness: Harness) -> None:
    harness.define("cased", {"key": ["Name"], "fields": {"Name": {"type": "string"}, "name": {"type": "string"}}})
    _jsonl(harness, "cased", ['{"Name": "A", "name": "a"}'])
    started = time.perf_counter()
    cased = _export(harness, {"itemType": "cased", "sqlQuery": "SELECT * FROM records"})
    assert cased["status"] == "Rejected" and cased["reason"] == (
        "fields 'Name' and 'name' differ only in case, so sqlQuery cannot tell them apart; export with filters and "
        "a template instead")
    assert _export(harness, {"itemType": "cased"})["status"] == "Completed"  # no SQL: both columns, as is
    harness.define("thing", NUMBERS)
    _jsonl(harness, "thing", ['{"code": "a", "note": "abc"}'])
    retyped = {**NUMBERS, "fields": {**NUMBERS["fields"], "note": {"type": "integer"}}}
    harness.define("thing", retyped)
    changed = _export(harness, {"itemType": "thing", "sqlQuery": "SELECT * FROM records"})
    assert changed["status"] == "Rejected" and changed["reason"].startswith(
        "a stored record does not fit its item type's field types (was a field's type changed after records were "
        "imported?)")
    assert "/tmp" not in changed["reason"]
    assert time.perf_counter() - started < 30


def test_an_export_that_breaks_unexpectedly_fails_at_once(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.exports import run

    harness.define()
    monkeypatch.setattr(run, "columns_of", lambda *_: 1 / 0)
    broken = _export(harness, {"itemType": "contact"})
    assert broken["status"] == "Failed" and broken["reason"].startswith("the export failed unexpectedly")
    assert harness.dead_letters("ExportDeadLetterQueue") == 0


# --- permissions and links -----------------------------------------------------------------------------


def test_a_key_grants_only_what_it_holds(harness: Harness) -> None:
    admin = harness.key(permissions=("keys:admin", "imports:read"))
    star = harness.call("POST", "/v1/api-keys", key=admin, json_body={"name": "x", "permissions": ["*"]})
    assert _error(star) == (403, "a key can grant only permissions it holds itself; this key does not hold: *")
    more = harness.call("POST", "/v1/api-keys", key=admin, json_body={"name": "x", "permissions": ["imports:write"]})
    assert _error(more)[0] == 403 and "imports:write" in _error(more)[1]
    held = harness.call("POST", "/v1/api-keys", key=admin, json_body={"name": "x", "permissions": ["imports:read"]})
    assert held.status_code == 201 and held.json()["permissions"] == ["imports:read"]


def test_upload_links_are_shown_only_to_keys_that_may_write(harness: Harness) -> None:
    harness.define()
    job = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "a.csv"}).json()
    assert "uploadUrl" in job and "uploadForm" in job
    reader = harness.key(permissions=("imports:read",))
    seen = harness.call("GET", f"/v1/jobs/{job['jobId']}", key=reader).json()
    assert seen["status"] == "Initialized" and "uploadUrl" not in seen and "uploadForm" not in seen
    listed = harness.call("GET", "/v1/jobs", key=reader).json()["items"]
    assert all("uploadUrl" not in j for j in listed)
    assert "uploadUrl" in harness.call("GET", f"/v1/jobs/{job['jobId']}").json()


def test_a_revoked_keys_upload_and_export_links_stop_working(harness: Harness) -> None:
    harness.define()
    created = harness.call("POST", "/v1/api-keys", json_body={"name": "temp", "permissions": ["*"]}).json()
    key = created["key"]
    job = harness.call("POST", "/v1/jobs", key=key, json_body={"itemType": "contact", "fileName": "a.csv"}).json()
    assert job["uploadExpiresAt"] is not None
    export = harness.call("POST", "/v1/exports", key=key, json_body={"itemType": "contact"}).json()
    harness.pump()
    link = harness.call("GET", f"/v1/exports/{export['exportId']}", key=key).json()["links"]["download"][0]
    assert harness.call("GET", urlsplit(link).path, key="").status_code == 302
    assert harness.call("DELETE", f"/v1/api-keys/{created['keyId']}").status_code == 200
    assert requests.put(job["uploadUrl"], data=b"email\na@x.org\n").status_code == 200
    done = harness.run(job["jobId"])
    assert done["status"] == "Rejected" and done["reason"] == (
        f"the key that created this job ({created['keyId']}) was revoked before its data was read; submit again with "
        "a valid key")
    assert harness.call("GET", "/v1/records/contact").json()["items"] == []
    gone = harness.call("GET", urlsplit(link).path, key="")
    assert _error(gone) == (404, "this download link ended when the key that created the export was revoked")


def test_upload_links_last_fifteen_minutes(harness: Harness) -> None:
    harness.define()
    job = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "a.csv"}).json()
    assert harness.clients.settings.upload_url_seconds == 900
    assert "X-Amz-Expires=900" in job["uploadUrl"]


@pytest.mark.parametrize("address", ["a@x.org\r\nBcc: victim@y.org", "not an address", "a@x.org\n", "a @x.org"])
def test_notification_addresses_are_checked(harness: Harness, address: str) -> None:
    harness.define()
    job = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", io.BytesIO(b"email\na@x.org\n"))},
                       data={"itemType": "contact", "notificationEmail": address})
    assert job.status_code == 400 and job.json()["error"]["message"].startswith("notificationEmail: is "
                                                                                "not an email address")
    export = harness.call("POST", "/v1/exports", json_body={"itemType": "contact", "notificationEmail": address})
    assert export.status_code == 400


def test_names_with_a_trailing_newline_are_refused(harness: Harness) -> None:
    assert _error(harness.call("PUT", "/v1/item-types/contact%0A", json_body={"fields": {"a": {"type": "string"}}}))[
        0] == 400
    bad_field = harness.call("PUT", "/v1/item-types/contact", json_body={"fields": {"a\n": {"type": "string"}}})
    assert bad_field.status_code == 400
    control = harness.call("POST", "/v1/controls", json_body={"files": {"a.csv\n": {"itemType": "contact"}}})
    assert control.status_code == 400


def test_key_names_are_normalised_and_free_of_control_characters(harness: Harness) -> None:
    composed = harness.call("POST", "/v1/api-keys", json_body={"name": "Cafe\u0301", "permissions": ["imports:read"]})
    assert composed.json()["name"] == "Caf\u00e9"
    hidden = harness.call("POST", "/v1/api-keys", json_body={"name": "ci\u202ereverse", "permissions": ["*"]})
    assert hidden.status_code == 400


# --- 5xx and disclosure -------------------------------------------------------------------------------


def test_malformed_requests_are_4xx(harness: Harness) -> None:
    harness.define()
    truncated = harness.call("POST", "/v1/jobs", body=b'{"itemType": "person', content_type="application/json")
    assert truncated.status_code == 400 and truncated.json()["error"]["message"].startswith("the body is not valid")
    assert harness.call("GET", "/v1/jobs").json()["items"] == []
    cursor = requests.utils.quote(
        __import__("base64").urlsafe_b64encode(json.dumps({"pk": {"S": "TENANT#acme"}, "sk": {"S": "JOB#x"},
                                                           "x": {"S": "y"}}).encode()).decode().rstrip("="))
    assert harness.call("GET", f"/v1/jobs?cursor={cursor}").status_code == 400
    digest = harness.call("POST", "/v1/controls", json_body={"files": {"a.csv": {"itemType": "contact"}}}).json()
    staged = harness.call("POST", "/v1/jobs", json_body={"control": digest["digest"], "jobName": "n" * 420_000})
    assert staged.status_code == 400 and staged.json()["error"]["message"].startswith("jobName:")
    huge = {"fields": {"tier": {"type": "enum", "values": [f"v{i}" for i in range(60_000)]}}}
    assert harness.call("PUT", "/v1/item-types/big", json_body=huge).status_code in (400, 413)


@pytest.mark.parametrize(("cell", "reason"), [
    ("XFD1048576", "sheet 'Sheet' has a cell in column 16384; sheets of at most 1000 columns are read"),
    ("A1048577", None),
    ("ZZ20000", "sheet 'Sheet' spans 20000 rows x 702 columns = 14040000 cells; sheets of at most 10000000 cells "
                "(rows x columns, empty ones included) are read"),
])
def test_a_sparse_sheet_is_refused_before_it_is_read(harness: Harness, cell: str, reason: str | None) -> None:
    import openpyxl

    harness.define()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "email"
    sheet["A2"] = "a@x.org"
    if cell == "A1048577":  # past Excel's last row: openpyxl refuses to write it, so the XML says it
        buffer = io.BytesIO()
        book.save(buffer)
        data = _with_cell_ref(buffer.getvalue(), "A1048577")
        reason = "sheet 'Sheet' has a cell in row 1048577; sheets of at most 1048576 rows are read"
    else:
        sheet[cell] = "x"
        buffer = io.BytesIO()
        book.save(buffer)
        data = buffer.getvalue()
    assert len(data) < 10_000
    reply = harness.call("POST", "/v1/jobs", files={"file": ("sparse.xlsx", io.BytesIO(data))},
                         data={"itemType": "contact"})
    job = harness.run(reply.json()["jobId"])
    assert job["status"] == "Rejected" and job["reason"] == reason


def _with_cell_ref(xlsx: bytes, ref: str) -> bytes:
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'r="A2"', f'r="{ref}"'.encode())
            target.writestr(info, data)
    return out.getvalue()


def test_local_invoke_answers_loopback_only(harness: Harness) -> None:
    status, _, body = harness.gateway.handle("POST", "/_local/invoke/SweeperFunction", [], b"{}", "10.1.2.3")
    assert status == 403 and json.loads(body)["error"]["message"] == "/_local/invoke answers loopback only"
    assert harness.gateway.handle("POST", "/_local/invoke/Nope", [], b"{}", "127.0.0.1")[0] == 404


# --- idempotent submit -----------------------------------------------------------------------------------


def test_a_repeated_submit_with_the_same_key_makes_one_job(harness: Harness) -> None:
    harness.define()
    data = b"email\na@x.org\nb@x.org\n"
    headers = {"Idempotency-Key": "upload-2026-12-03"}
    first = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", io.BytesIO(data))},
                         data={"itemType": "contact"}, headers=headers)
    again = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", io.BytesIO(data))},
                         data={"itemType": "contact"}, headers=headers)  # a new multipart boundary, same request
    assert first.status_code == again.status_code == 202
    assert again.json()["jobId"] == first.json()["jobId"] and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == f"/v1/jobs/{first.json()['jobId']}"
    other = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", io.BytesIO(b"email\nc@x.org\n"))},
                         data={"itemType": "contact"}, headers=headers)
    assert _error(other) == (409, "this Idempotency-Key was used with a different request; use a new key for a new "
                                  "request")
    body = b'{"email": "d@x.org"}\n'
    lines = [harness.call("POST", "/v1/jobs?itemType=contact", body=body, content_type="application/x-ndjson",
                          headers={"Idempotency-Key": "lines-1"}).json()["jobId"] for _ in range(2)]
    assert lines[0] == lines[1]
    exports = [harness.call("POST", "/v1/exports", json_body={"itemType": "contact"},
                            headers={"Idempotency-Key": "export-1"}).json()["exportId"] for _ in range(2)]
    assert exports[0] == exports[1]
    harness.pump()
    assert len(harness.call("GET", "/v1/jobs").json()["items"]) == 2
    assert harness.call("GET", f"/v1/jobs/{first.json()['jobId']}").json()["counts"]["created"] == 2
    bad = harness.call("POST", "/v1/jobs?itemType=contact", body=body, content_type="application/x-ndjson",
                       headers={"Idempotency-Key": "k" * 256})
    assert _error(bad) == (400, "Idempotency-Key must be 1 to 255 printable ASCII characters")
    other_tenant = harness.call("POST", "/v1/jobs?itemType=contact", body=body, content_type="application/x-ndjson",
                                tenant="globex", headers={"Idempotency-Key": "lines-1"})
    assert other_tenant.status_code == 400  # globex's own namespace: its item type is unknown, nothing replayed


def test_a_failing_message_is_logged_at_error_with_its_job(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from sluice.store.records import RecordStore
    from tests.integration.test_limits_and_secrets import _Lines

    harness.define()
    job = harness.submit_csv("email\na@x.org\n")
    calls = {"n": 0}
    apply = RecordStore.apply

    def fail_once(self: RecordStore, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the record store broke")
        return apply(self, *args, **kwargs)

    monkeypatch.setattr(RecordStore, "apply", fail_once)
    harness.retry_at_once()
    sluice_logger = logging.getLogger("sluice")
    formatter = next(h.formatter for h in sluice_logger.handlers if h.formatter)  # Powertools' JSON lines
    collected = _Lines(formatter)
    sluice_logger.addHandler(collected)
    try:
        done = harness.run(job["jobId"])
    finally:
        sluice_logger.removeHandler(collected)
    assert done["status"] == "Completed" and done["counts"]["created"] == 1
    failures = [json.loads(line) for line in collected.lines if "will be retried" in line]
    assert len(failures) == 1
    assert failures[0]["level"] == "ERROR" and failures[0]["jobId"] == job["jobId"]
    assert failures[0]["exception_name"] == "RuntimeError" and "the record store broke" in failures[0]["exception"]


# --- fairness --------------------------------------------------------------------------------------------


def test_a_small_job_does_not_wait_behind_another_tenants_large_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    with mock_aws():
        h = Harness(monkeypatch, rows_per_chunk=100, quick_job_bytes=256 * 1024)
        h.define(tenant="acme")
        h.define(tenant="globex")
        big_rows = "".join(f"user{i:06d}@example.org,Name {i},{i % 100}\n" for i in range(10_000))
        big = h.submit_csv("email,name,age\n" + big_rows, tenant="acme")  # ~400 KB: the main lane
        small = h.submit_csv("email\nsolo@x.org\n", tenant="globex")
        h.drain("IngestQueue")
        backlog = h.receive("ChunkQueue", 10, hide_seconds=0)
        assert len(backlog) == 10 and all(m["Attributes"]["MessageGroupId"] == "acme" for m in backlog)
        h.drain("QuickChunkQueue")  # the small job's lane: nothing of the large job's 100 chunks is ahead of it
        done = h.job(small["jobId"], tenant="globex")
        assert done["status"] == "Completed" and done["counts"]["created"] == 1
        assert h.job(big["jobId"], tenant="acme")["counts"]["processed"] == 0
        h.pump()
        assert h.job(big["jobId"], tenant="acme")["counts"]["created"] == 10_000


def test_aliases_are_plain_ascii_so_no_look_alike_can_pass_for_another(harness: Harness) -> None:
    ok = harness.call("PUT", "/v1/item-types/contact", json_body={"fields": {"a": {"type": "string"}},
                                                                  "aliases": ["AI", "7"]})
    assert ok.status_code == 201
    cyrillic = harness.call("PUT", "/v1/item-types/other", json_body={"fields": {"a": {"type": "string"}},
                                                                      "aliases": ["\u0410I"]})
    assert cyrillic.status_code == 400 and "must be printable ASCII" in cyrillic.json()["error"]["message"]
