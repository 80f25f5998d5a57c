"""Issue 18, honest feedback: what was ignored is said (warnings as objects, 400 for unknown options), error
thresholds stop a job, ambiguous dates are not guessed, and read problems name where they are."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.harness import Harness

HEADER = "email,name,age,joined,tier,score,active\n"


def _submit(h: Harness, text: str | bytes, file_name: str = "data.csv", item_type: str = "contact",
            **options: str) -> dict[str, Any]:
    data = text.encode() if isinstance(text, str) else text
    reply = h.call("POST", "/v1/jobs", files={"file": (file_name, io.BytesIO(data))},
                   data={"itemType": item_type, **options})
    assert reply.status_code == 202, reply.content
    return reply.json()


def _record_count(h: Harness) -> int:
    return int(h.dynamodb.scan(TableName=h.clients.settings.records_table, Select="COUNT")["Count"])


# --- warnings ---------------------------------------------------------------------------------------------


def test_a_misspelt_header_is_a_warning_naming_the_nearest_field(harness: Harness) -> None:
    harness.define()
    job = harness.run(_submit(harness, "email,nmae,Colour\na@x.org,Ann,red\n")["jobId"])
    assert job["status"] == "Completed" and job["counts"]["created"] == 1
    assert job["ignoredColumns"] == ["nmae", "Colour"]
    assert job["warnings"] == [
        {"code": "unknown-column", "column": "nmae", "suggestion": "name",
         "message": "column 'nmae' matches no field and was ignored; did you mean 'name'?"},
        {"code": "unknown-column", "column": "Colour", "message": "column 'Colour' matches no field and was ignored"},
    ]
    assert job["files"][0]["warnings"] == job["warnings"]
    listed = harness.call("GET", "/v1/jobs").json()["items"][0]
    assert listed["warnings"] == job["warnings"]  # listings render the same job view


def test_unknown_columns_ignore_and_reject(harness: Harness) -> None:
    harness.define()
    quiet = harness.run(_submit(harness, "email,nmae\na@x.org,Ann\n", unknownColumns="ignore")["jobId"])
    assert (quiet["status"], quiet["warnings"], quiet["unknownColumns"]) == ("Completed", [], "ignore")
    rejected = harness.run(_submit(harness, "email,nmae,x\nb@x.org,Bob,1\n", unknownColumns="reject")["jobId"])
    assert rejected["status"] == "Rejected"
    assert rejected["reason"] == ("unknownColumns is reject and 2 column(s) match no field: 'nmae', 'x'; known: "
                                  "email, name, age, joined, tier, score, active")
    assert _record_count(harness) == 1  # only the first job's row
    bad = harness.call("POST", "/v1/jobs", files={"file": ("d.csv", io.BytesIO(b"email\na@x.org\n"))},
                       data={"itemType": "contact", "unknownColumns": "shout"})
    assert bad.status_code == 400 and "unknownColumns" in bad.json()["error"]["message"]


def test_json_lines_reject_unknown_keys_even_in_a_late_row(harness: Harness) -> None:
    harness.define()
    lines = "".join(json.dumps({"email": f"u{i}@x.org"}) + "\n" for i in range(7))
    lines += json.dumps({"email": "late@x.org", "nickname": "L"}) + "\n"
    reply = harness.call("POST", "/v1/jobs?itemType=contact&unknownColumns=reject", body=lines.encode(),
                         content_type="application/x-ndjson")
    assert reply.status_code == 202, reply.content
    job = harness.run(reply.json()["jobId"])
    assert job["status"] == "Rejected"
    assert job["reason"].startswith("unknownColumns is reject and 1 column(s) match no field: 'nickname'")
    assert _record_count(harness) == 0  # nothing of the first 7 rows was applied


@pytest.fixture
def big_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        yield Harness(monkeypatch, rows_per_chunk=500)


def test_objects_created_truncation_is_a_warning(big_chunks: Harness) -> None:
    harness = big_chunks
    harness.define()
    job = _submit(harness, "email\n" + "".join(f"t{i}@x.org\n" for i in range(1001)))
    done = harness.run(job["jobId"])
    assert done["counts"]["created"] == 1001
    assert len(done["objectsCreated"]) == 1000
    assert done["warnings"] == [{"code": "objects-created-truncated", "message":
                                 "objectsCreated lists the first 1000 of the 1001 keys created; the succeeded "
                                 "result file lists every row"}]


def test_warnings_are_objects_in_the_openapi_document(harness: Harness) -> None:
    document = harness.call("GET", "/v1/openapi.json", key="").json()
    schemas = document["components"]["schemas"]
    assert schemas["JobView"]["properties"]["warnings"]["items"] == {"$ref": "#/components/schemas/JobWarning"}
    assert set(schemas["JobWarning"]["required"]) == {"code", "message"}
    assert {"column", "suggestion", "option"} <= set(schemas["JobWarning"]["properties"])
    options = schemas["JobOptions"]["properties"]
    assert {"unknownColumns", "maxFailedRows", "maxFailedPercent", "dateFormat"} <= set(options)


def test_export_warns_of_options_sql_query_overrides(harness: Harness) -> None:
    harness.define()
    reply = harness.call("POST", "/v1/exports", json_body={
        "itemType": "contact", "sqlQuery": "SELECT email FROM records", "filters": {"tier": "gold"},
        "template": ["email"]})
    assert reply.status_code == 202, reply.content
    assert reply.json()["warnings"] == [
        {"code": "option-ignored", "option": "filters",
         "message": "option 'filters' was ignored: sqlQuery was given, and it selects the rows"},
        {"code": "option-ignored", "option": "template",
         "message": "option 'template' was ignored: sqlQuery was given, and its SELECT names the columns"},
    ]
    plain = harness.call("POST", "/v1/exports", json_body={"itemType": "contact", "filters": {"tier": "gold"}})
    assert plain.status_code == 202 and plain.json()["warnings"] == []


# --- unknown request fields, JSON arrays, late options files, comparisons -------------------------------


def test_unknown_request_fields_and_parameters_are_400_naming_them(harness: Harness) -> None:
    harness.define()
    body = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "records": [{"email": "a@x.org"}]})
    assert body.status_code == 400
    assert body.json()["error"]["message"] == "records: unknown field (not one this request takes; check its spelling)"
    form = harness.call("POST", "/v1/jobs", files={"file": ("d.csv", io.BytesIO(b"email\na@x.org\n"))},
                        data={"itemType": "contact", "mrege": "true"})
    assert form.status_code == 400 and form.json()["error"]["message"].startswith("mrege: unknown field")
    lines = harness.call("POST", "/v1/jobs?itemType=contact&dryrun=true", body=b'{"email": "a@x.org"}\n',
                         content_type="application/x-ndjson")
    assert lines.status_code == 400
    assert lines.json()["error"]["message"].startswith("unknown query parameter(s): dryrun;")
    listing = harness.call("GET", "/v1/jobs?statuss=Completed")
    assert listing.status_code == 400
    assert listing.json()["error"]["message"] == (
        "unknown query parameter(s): statuss; this route takes: limit, cursor, status, itemType, creationPath")
    key = harness.call("POST", "/v1/api-keys", json_body={"name": "k", "permissions": ["imports:read"], "admin": 1})
    assert key.status_code == 400 and key.json()["error"]["message"].startswith("admin: unknown field")
    staged = harness.call("POST", "/v1/jobs", json_body={"control": "0" * 64, "coment": "typo"})
    assert staged.status_code == 400 and staged.json()["error"]["message"].startswith("coment: unknown field")
    export = harness.call("POST", "/v1/exports", json_body={"itemType": "contact", "filter": {"tier": "gold"}})
    assert export.status_code == 400 and export.json()["error"]["message"].startswith("filter: unknown field")
    form_query = harness.call("POST", "/v1/jobs?merge=true", files={"file": ("d.csv", io.BytesIO(b"email\n"))},
                              data={"itemType": "contact"})
    assert form_query.status_code == 400
    assert form_query.json()["error"]["message"] == (
        "query parameters (merge) are read only with a JSON Lines body; with this Content-Type, options go in the "
        "JSON body or the form")
    whoami = harness.call("GET", "/v1/whoami?verbose=1")
    assert whoami.status_code == 400
    assert whoami.json()["error"] == {"code": "invalid_request",
                                      "message": "unknown query parameter(s): verbose; this route takes none"}
    assert harness.call("GET", "/v1/jobs").json()["items"] == []  # nothing was created by any of them


def test_a_json_array_sent_as_json_lines_is_refused(harness: Harness) -> None:
    harness.define()
    reply = harness.call("POST", "/v1/jobs?itemType=contact", body=b'[{"email": "a@x.org"}, {"email": "b@x.org"}]',
                         content_type="application/x-ndjson")
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == (
        "the body is a JSON array, but JSON Lines (application/x-ndjson) is one JSON object per line: send each "
        "element on its own line, without the brackets and commas")
    uploaded = harness.run(_submit(harness, b'[\n{"email": "a@x.org"}\n]\n', file_name="d.jsonl")["jobId"])
    assert uploaded["status"] == "Rejected"
    assert uploaded["reason"].startswith("the file is a JSON array, but JSON Lines is one JSON object per line")


def test_an_options_file_after_its_data_file_is_reported_on_the_job(harness: Harness) -> None:
    harness.define()
    harness.key("acme")
    bucket = harness.clients.settings.bucket
    harness.s3.put_object(Bucket=bucket, Key="inbox/acme/contact/crm.csv", Body=b"email\nd1@x.org\n")
    harness.pump()
    harness.s3.put_object(Bucket=bucket, Key="inbox/acme/contact/crm.csv.options.json", Body=b'{"merge": true}')
    harness.pump()
    job = harness.call("GET", "/v1/jobs").json()["items"][0]
    assert (job["status"], job["merge"]) == ("Completed", False)
    assert job["warnings"] == [{"code": "options-file-late", "option": "crm.csv.options.json", "message":
                                "the options file crm.csv.options.json arrived after its data file was taken, so "
                                "this job ran without it; it was moved to rejected/. Put the options file first, "
                                "then the data file"}]
    listed = harness.s3.list_objects_v2(Bucket=bucket, Prefix="inbox/").get("Contents", [])
    assert listed == []  # it will not apply to a later drop of the same name either
    moved = harness.s3.get_object(Bucket=bucket, Key="rejected/inbox/acme/contact/crm.csv.options.json")
    assert moved["Body"].read() == b'{"merge": true}'
    # options first, new options included: they apply
    harness.s3.put_object(Bucket=bucket, Key="inbox/acme/contact/b.csv.options.json",
                          Body=b'{"unknownColumns": "reject"}')
    harness.s3.put_object(Bucket=bucket, Key="inbox/acme/contact/b.csv", Body=b"email,nmae\nb@x.org,B\n")
    harness.pump()
    second = next(j for j in harness.call("GET", "/v1/jobs").json()["items"] if j["jobName"] == "b.csv")
    assert second["status"] == "Rejected" and second["reason"].startswith("unknownColumns is reject")


def test_export_filters_refuse_comparisons(harness: Harness) -> None:
    harness.define()
    for wanted in (">30", "<= 5", "!=gold", ["gold", "<>silver"]):
        reply = harness.call("POST", "/v1/exports", json_body={"itemType": "contact", "filters": {"age": wanted}})
        assert reply.status_code == 400, wanted
        assert "filters only compare for equality: use sqlQuery" in reply.json()["error"]["message"]
    nested = harness.call("POST", "/v1/exports", json_body={"itemType": "contact", "filters": {"age": {"gt": 3}}})
    assert nested.status_code == 400 and "use sqlQuery for other conditions" in nested.json()["error"]["message"]
    assert harness.call("POST", "/v1/exports", json_body={"itemType": "contact",
                                                          "filters": {"tier": "gold"}}).status_code == 202


# --- where read problems are ------------------------------------------------------------------------------


def test_an_unclosed_quote_names_the_line_it_opened_on(harness: Harness) -> None:
    harness.define()
    job = harness.run(_submit(harness, 'email,name\na@x.org,Ann\nb@x.org,"Bob\nc@x.org,Cy\nd@x.org,Di\n')["jobId"])
    assert job["status"] == "Completed"
    assert job["counts"] == {"total": 2, "processed": 2, "created": 1, "updated": 0, "unchanged": 0,
                                  "deleted": 0, "failed": 1, "unprocessed": 0}
    assert [(e["row"], e["line"], e["message"]) for e in job["errors"]] == [
        (2, 3, "a quoted value opened on line 3 is never closed: the rest of the file (lines 3 to 5) was read "
               "into it")]


def test_a_header_problem_says_what_was_found(harness: Harness) -> None:
    harness.define("penguin", {"key": ["species", "island"], "fields": {
        "species": {"type": "string"}, "island": {"type": "string"}, "mass": {"type": "integer"}}})
    job = harness.run(_submit(harness, "speceis,island,mass\nAdelie,Torgersen,3750\n", item_type="penguin")["jobId"])
    assert job["status"] == "Rejected"
    assert job["reason"] == ("missing required columns: species; expected species, island, mass; "
                             "found speceis, island, mass")
    assert job["warnings"] == []  # nothing was read


def test_the_value_cap_is_a_row_error_naming_the_limit(harness: Harness) -> None:
    harness.define("note", {"key": ["id"], "fields": {"id": {"type": "string"}, "text": {"type": "string"}}})
    job = harness.run(_submit(harness, "id,text\n1," + "x" * 10_001 + "\n2,ok\n", item_type="note")["jobId"])
    assert (job["counts"]["created"], job["counts"]["failed"]) == (1, 1)
    assert job["errors"][0]["message"] == ("is 10001 characters long; text values are at most 10000 characters "
                                           "(the limit for a string field without maxLength)")


# --- error thresholds -------------------------------------------------------------------------------------

# 12 rows, chunks of 3: rows 2, 5, 8 and 11 fail (age 200 is over the maximum)
THRESHOLD_ROWS = HEADER + "".join(f"r{i}@x.org,R{i},{200 if i % 3 == 2 else 30},,,,\n" for i in range(1, 13))


def _partition(h: Harness, job: dict[str, Any]) -> dict[str, list[int]]:
    """Each result file's rows: together they cover every row once."""
    found = {kind: sorted(int(r[-3]) for r in h.result_rows(job["jobId"], kind)[1:])
             for kind in ("succeeded", "failed", "unprocessed")}
    assert sorted(found["succeeded"] + found["failed"] + found["unprocessed"]) == list(range(1, job["counts"]["total"]
                                                                                              + 1))
    return found


def test_max_failed_rows_stops_the_job_with_exact_counts(harness: Harness) -> None:
    harness.define()
    job = harness.run(_submit(harness, THRESHOLD_ROWS, maxFailedRows="1")["jobId"])
    assert job["status"] == "Failed"
    # chunks in order: [1-3] 1 failed, [4-6] 2 failed: past 1, so [7-9] and [10-12] are not taken
    assert job["counts"] == {"total": 12, "processed": 6, "created": 4, "updated": 0, "unchanged": 0, "deleted": 0,
                             "failed": 2, "unprocessed": 6}
    assert job["reason"] == ("stopped: more than maxFailedRows=1 rows failed. 2 rows failed, 4 succeeded (and stay "
                             "applied), 6 were not processed, of the 12 rows read")
    assert job["maxFailedRows"] == 1
    assert _partition(harness, job) == {"succeeded": [1, 3, 4, 6], "failed": [2, 5],
                                        "unprocessed": [7, 8, 9, 10, 11, 12]}
    assert {r[-1] for r in harness.result_rows(job["jobId"], "unprocessed")[1:]} == {
        "the job stopped (more than maxFailedRows=1 rows failed) before this row was processed"}
    assert _record_count(harness) == 4


def test_max_failed_percent_is_of_the_jobs_rows(harness: Harness) -> None:
    harness.define()
    under = harness.run(_submit(harness, THRESHOLD_ROWS, maxFailedPercent="40")["jobId"])
    assert (under["status"], under["counts"]["failed"]) == ("Completed", 4)  # 4 of 12 is 33%
    over = harness.run(_submit(harness, THRESHOLD_ROWS, maxFailedPercent="10")["jobId"])
    assert over["status"] == "Failed"
    assert over["counts"] == {"total": 12, "processed": 6, "created": 0, "updated": 0, "unchanged": 4, "deleted": 0,
                              "failed": 2, "unprocessed": 6}
    assert over["reason"].startswith("stopped: more than maxFailedPercent=10% of the 12 rows failed (16.67%). 2 rows")


@pytest.mark.parametrize("deliver", ["pump_twice", "pump_shuffled"])
def test_thresholds_stay_exact_under_redelivery(harness: Harness, deliver: str) -> None:
    harness.define()
    job_id = _submit(harness, THRESHOLD_ROWS, maxFailedRows="1")["jobId"]
    pump: Callable[[], int] = harness.pump_twice if deliver == "pump_twice" else lambda: harness.pump_shuffled(7)
    pump()
    job = harness.job(job_id)
    assert job["status"] == "Failed"
    counts = job["counts"]
    assert counts["failed"] >= 2 and counts["processed"] + counts["unprocessed"] == 12
    assert counts["processed"] == counts["created"] + counts["failed"]
    found = _partition(harness, job)
    assert (len(found["succeeded"]), len(found["failed"]), len(found["unprocessed"])) == (
        counts["created"], counts["failed"], counts["unprocessed"])
    assert _record_count(harness) == counts["created"]
    assert job["reason"].startswith("stopped: more than maxFailedRows=1 rows failed. "
                                    f"{counts['failed']} rows failed, {counts['created']} succeeded")


def test_a_dry_run_says_whether_the_threshold_would_trip(harness: Harness) -> None:
    harness.define()
    job = harness.run(_submit(harness, THRESHOLD_ROWS, maxFailedRows="3", mode="dry-run")["jobId"])
    assert job["status"] == "Completed" and job["counts"]["failed"] == 4 and job["counts"]["unprocessed"] == 0
    assert job["warnings"] == [{"code": "failed-rows-threshold", "message":
                                "more than maxFailedRows=3 rows failed: a commit of these rows would stop and end "
                                "Failed"}]
    fine = harness.run(_submit(harness, THRESHOLD_ROWS, maxFailedRows="4", mode="dry-run")["jobId"])
    assert fine["warnings"] == []


# --- dates and leading zeros ------------------------------------------------------------------------------


def test_ambiguous_dates_are_rejected_naming_the_column_and_samples(harness: Harness) -> None:
    harness.define()
    text = "email,joined\na@x.org,03/04/2024\nb@x.org,2024-01-31\nc@x.org,11/12/2023\nd@x.org,03/04/2024\n"
    job = harness.run(_submit(harness, text)["jobId"])
    assert job["status"] == "Rejected"
    assert job["reason"] == ("column 'joined' holds dates that read both day-first and month-first (03/04/2024, "
                             "11/12/2023); give dateFormat (e.g. %d/%m/%Y or %m/%d/%Y) on the request or on the field")
    assert _record_count(harness) == 0
    given = harness.run(_submit(harness, text, dateFormat="%d/%m/%Y")["jobId"])
    assert (given["status"], given["counts"]["created"], given["dateFormat"]) == ("Completed", 4, "%d/%m/%Y")
    joined = {k: harness.call("GET", f"/v1/records/contact/{k}").json()["attributes"]["joined"]
              for k in ("a@x.org", "b@x.org", "c@x.org")}
    assert joined == {"a@x.org": "2024-04-03", "b@x.org": "2024-01-31", "c@x.org": "2023-12-11"}
    bad = harness.call("POST", "/v1/jobs", files={"file": ("d.csv", io.BytesIO(text.encode()))},
                       data={"itemType": "contact", "dateFormat": "%d/%Y"})
    assert bad.status_code == 400 and "dateFormat '%d/%Y' is not a strftime pattern" in bad.json()["error"]["message"]


def test_a_fields_date_format_and_a_columns_own_evidence(harness: Harness) -> None:
    schema = {"key": ["id"], "fields": {"id": {"type": "string"}, "on": {"type": "date", "dateFormat": "%m/%d/%Y"},
                                        "since": {"type": "date"}}}
    harness.define("event", schema)
    job = harness.run(_submit(harness, "id,on,since\n1,03/04/2024,25.12.2023\n2,12/01/2024,01.02.2024\n"
                                       "3,12/31/2024,2024-02-29\n", item_type="event")["jobId"])
    assert job["status"] == "Completed" and job["counts"]["created"] == 3, job
    values = [harness.call("GET", f"/v1/records/event/{k}").json()["attributes"] for k in ("1", "2", "3")]
    # `on` by its field's pattern; `since` day-first, because 25.12.2023 only reads that way
    assert [(v["on"], v["since"]) for v in values] == [("2024-03-04", "2023-12-25"), ("2024-12-01", "2024-02-01"),
                                                       ("2024-12-31", "2024-02-29")]
    assert job["files"][0]["dateFormats"] == {"since": "%d.%m.%Y"}  # how the file's own dates were read
    mixed = harness.run(_submit(harness, "id,since\n4,25.12.2023\n5,12.25.2023\n", item_type="event")["jobId"])
    assert mixed["status"] == "Rejected"
    assert mixed["reason"] == ("column 'since' mixes day-first (25.12.2023) and month-first (12.25.2023) dates; fix "
                               "the file or give dateFormat")


def _zip_workbook() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["zip", "town"], ["00789", "Cc"], ["0010", "Dd"], [42, "Ee"]):
        sheet.append(row)
    sheet["A4"].number_format = "00000"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_leading_zeros_of_a_string_field_are_kept_in_csv_and_xlsx(harness: Harness) -> None:
    harness.define("place", {"key": ["zip"], "fields": {"zip": {"type": "string"}, "town": {"type": "string"}}})
    csv_job = harness.run(_submit(harness, "zip,town\n00123,Aa\n0456,Bb\n", item_type="place")["jobId"])
    xlsx_job = harness.run(_submit(harness, _zip_workbook(), file_name="p.xlsx", item_type="place")["jobId"])
    assert csv_job["counts"]["created"] == 2 and xlsx_job["counts"]["created"] == 3, xlsx_job
    keys = sorted(r["key"] for r in harness.call("GET", "/v1/records/place").json()["items"])
    # text cells as they are; a number shown as 00042 by its format (00000) as the text it shows
    assert keys == ["00042", "0010", "00123", "00789", "0456"]
    assert harness.call("GET", "/v1/records/place/00123").json()["attributes"] == {"zip": "00123", "town": "Aa"}


# --- retry of a retry ------------------------------------------------------------------------------------


def test_a_retry_of_a_retry_keeps_the_original_columns_once(harness: Harness) -> None:
    harness.define()
    first = harness.run(_submit(harness, "email,name,age\na@x.org,Ann,200\nb@x.org,Bob,3\n")["jobId"])
    assert first["counts"]["failed"] == 1
    second = harness.call("POST", f"/v1/jobs/{first['jobId']}/retry-failed").json()
    second = harness.run(second["jobId"])
    assert second["counts"]["failed"] == 1 and second["warnings"] == []
    third = harness.run(harness.call("POST", f"/v1/jobs/{second['jobId']}/retry-failed").json()["jobId"])
    assert third["counts"]["failed"] == 1
    expected_header = ["email", "name", "age", "sluice_row", "sluice_outcome", "sluice_message"]
    for job in (first, second, third):
        rows = harness.result_rows(job["jobId"], "failed")
        assert rows[0] == expected_header
        assert rows[1][:3] == ["a@x.org", "Ann", "200"] and rows[1][3:5] == ["1", "failed"]
        assert len(rows) == 2


def test_a_staged_job_takes_the_same_strictness_options(harness: Harness) -> None:
    harness.define()
    control = harness.call("POST", "/v1/controls", json_body={"files": {"people.csv": {"itemType": "contact"}}})
    digest = control.json()["digest"]
    opened = harness.call("POST", "/v1/jobs", json_body={"control": digest, "maxFailedRows": 0,
                                                         "unknownColumns": "ignore"})
    assert opened.status_code == 201, opened.content
    job_id = opened.json()["jobId"]
    assert (opened.json()["maxFailedRows"], opened.json()["unknownColumns"]) == (0, "ignore")
    added = harness.call("POST", f"/v1/jobs/{job_id}/files", data={"name": "people.csv"},
                         files={"file": ("people.csv", io.BytesIO(THRESHOLD_ROWS.encode()))})
    assert added.status_code == 200, added.content
    harness.call("POST", f"/v1/jobs/{job_id}/schedule", json_body={"mode": "commit"})
    job = harness.run(job_id)
    assert job["status"] == "Failed" and job["reason"].startswith("stopped: more than maxFailedRows=0 rows failed.")
    assert job["counts"]["failed"] == 1 and job["counts"]["processed"] + job["counts"]["unprocessed"] == 12


def test_seed_doors_ignore_unknown_fields_but_list_them(harness: Harness) -> None:
    harness.define()
    liquid = harness.call("POST", "/ls/api/batch/import", files={"file": ("d.csv", io.BytesIO(b"email\na@x.org\n"))},
                          data={"itemType": "contact", "contentType": "text/csv", "notificationEmial": "x@y.org"})
    assert liquid.status_code == 200, liquid.content
    tracks = harness.call("POST", "/objectimport/contact", files={"file": ("d.csv", io.BytesIO(b"email\nb@x.org\n"))},
                          data={"colour": "red"})
    assert tracks.status_code == 200, tracks.content
    batch = harness.call("POST", "/API/WorkflowImportQueue/CreateBatch?importProcessId=contact&priority=high",
                         body=b'{"email": "c@x.org"}\n', content_type="application/json")
    assert batch.status_code == 200, batch.content
    for job_id, field in ((liquid.json()["jobId"], "notificationEmial"), (tracks.json()["jobId"], "colour"),
                          (batch.json()["queueBatchId"], "priority")):
        job = harness.run(job_id)
        assert job["status"] == "Completed" and job["counts"]["created"] == 1
        assert job["warnings"] == [{"code": "option-ignored", "option": field, "message":
                                    f"option '{field}' was ignored: this front door does not use it (as its seed "
                                    "did not)"}]
