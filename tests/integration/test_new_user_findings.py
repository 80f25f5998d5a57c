"""Findings of a new-user trial: an item type's numeric bounds come back as numbers, and a file with a header
but no data rows completes with total 0 and says so (`no-rows`)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.harness import Harness


def _submit(h: Harness, data: bytes, file_name: str = "data.csv", item_type: str = "contact") -> str:
    reply = h.call("POST", "/v1/jobs", files={"file": (file_name, io.BytesIO(data))}, data={"itemType": item_type})
    assert reply.status_code == 202, reply.content
    return str(reply.json()["jobId"])


# --- item types: min and max are numbers ---------------------------------------------------------------------

BOUNDED: dict[str, Any] = {
    "key": ["sku"],
    "fields": {"sku": {"type": "string", "required": True},
               "qty": {"type": "integer", "min": 0, "max": 150},
               "price": {"type": "decimal", "min": 0.01, "max": 99999.5},
               "weight": {"type": "decimal", "min": -3, "max": "12345678901234567890.123456789"}},
}


def test_min_and_max_come_back_as_numbers_on_put_get_and_list(harness: Harness) -> None:
    put = harness.call("PUT", "/v1/item-types/product", json_body=BOUNDED)
    assert put.status_code == 201, put.content
    fields = put.json()["fields"]
    assert fields["qty"] == {"type": "integer", "required": False, "min": 0, "max": 150}
    assert fields["price"] == {"type": "decimal", "required": False, "min": 0.01, "max": 99999.5}
    # a bound no JSON double holds exactly stays its exact text rather than a rounded number
    assert fields["weight"] == {"type": "decimal", "required": False, "min": -3,
                                "max": "12345678901234567890.123456789"}
    assert type(fields["qty"]["min"]) is int and type(fields["price"]["min"]) is float
    assert b'"min":0,' in put.content and b'"min":0.01,' in put.content  # numbers on the wire, not "0"
    got = harness.call("GET", "/v1/item-types/product").json()
    assert got["fields"] == fields
    listed = harness.call("GET", "/v1/item-types").json()["items"]
    assert [t["fields"] for t in listed if t["itemType"] == "product"] == [fields]
    again = harness.call("PUT", "/v1/item-types/product", json_body={**BOUNDED, "fields": {**BOUNDED["fields"],
                                                                     "qty": {"type": "integer", "min": 1}}})
    assert again.status_code == 200 and again.json()["fields"]["qty"] == {"type": "integer", "required": False,
                                                                         "min": 1}


def test_the_bounds_still_check_rows_exactly(harness: Harness) -> None:
    harness.call("PUT", "/v1/item-types/product", json_body=BOUNDED)
    job = harness.run(_submit(harness, b"sku,qty,price,weight\na,0,0.01,-3\nb,151,0.005,1\n", item_type="product"))
    assert (job["counts"]["created"], job["counts"]["failed"]) == (1, 1)
    errors = harness.call("GET", f"/v1/jobs/{job['jobId']}/errors").json()["items"]
    assert [(e["row"], e["field"], e["message"]) for e in errors] == [
        (2, "qty", "must be at most 150"), (2, "price", "must be at least 0.01")]


@pytest.mark.parametrize("field", [{"type": "date", "min": "2024-01-01"}, {"type": "string", "max": 5},
                                   {"type": "boolean", "min": 0}, {"type": "enum", "values": ["a"], "max": 1}])
def test_min_and_max_on_a_field_that_is_not_a_number_is_a_400(harness: Harness, field: dict[str, Any]) -> None:
    reply = harness.call("PUT", "/v1/item-types/product", json_body={"fields": {"f": field}})
    assert reply.status_code == 400, reply.content
    assert reply.json()["error"]["code"] == "invalid_request"
    assert ("'min' and 'max' apply to integer and decimal fields only (use minLength/maxLength for text)"
            in reply.json()["error"]["message"])


# --- a header and no data rows -------------------------------------------------------------------------------

NO_ROWS = {"code": "no-rows", "message": "the file has a header row but no data rows: there was nothing to import"}


@pytest.mark.parametrize("text", [b"email,name,age\n", b"email,name,age", b"email,name,age\r\n\r\n\r\n"])
def test_a_header_only_csv_completes_with_total_0_and_a_no_rows_warning(harness: Harness, text: bytes) -> None:
    harness.define()
    job = harness.run(_submit(harness, text))
    assert job["status"] == "Completed", job
    assert job["counts"] == {"total": 0, "processed": 0, "created": 0, "updated": 0, "unchanged": 0, "deleted": 0,
                             "failed": 0, "unprocessed": 0}
    assert job["warnings"] == [NO_ROWS]
    assert job["files"][0]["warnings"] == [NO_ROWS] and job["files"][0]["rows"] == 0
    assert harness.call("GET", "/v1/jobs").json()["items"][0]["warnings"] == [NO_ROWS]


def test_a_header_only_csv_under_redelivery_warns_once(harness: Harness) -> None:
    harness.define()
    job_id = _submit(harness, b"email,name\n")
    harness.pump_twice()
    job = harness.job(job_id)
    assert (job["status"], job["counts"]["total"], job["warnings"]) == ("Completed", 0, [NO_ROWS])


def test_a_header_only_workbook_warns_too(harness: Harness) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["email", "name"])
    buffer = io.BytesIO()
    book.save(buffer)
    harness.define()
    job = harness.run(_submit(harness, buffer.getvalue(), file_name="people.xlsx"))
    assert (job["status"], job["counts"]["total"], job["warnings"]) == ("Completed", 0, [NO_ROWS])


def test_a_file_with_rows_has_no_such_warning(harness: Harness) -> None:
    harness.define()
    job = harness.run(_submit(harness, b"email,name\na@x.org,Ann\n"))
    assert (job["counts"]["total"], job["warnings"]) == (1, [])


def test_json_lines_without_a_row_warn_that_the_file_holds_none(harness: Harness) -> None:
    harness.define()
    job = harness.run(_submit(harness, b"\n\n", file_name="people.jsonl"))
    assert (job["status"], job["counts"]["total"]) == ("Completed", 0), job
    assert job["warnings"] == [{"code": "no-rows", "message": "the file holds no rows: there was nothing to import"}]


def test_read_in_slices_the_warning_is_for_the_whole_file(passing: Harness) -> None:
    """8 KiB slices: blank lines spanning several slices are still no rows; a last slice holding only blank lines
    after rows is no warning (the rows of earlier slices count)."""
    passing.define()
    blank_only = passing.run(_submit(passing, b"email,name\n" + b",\n" * 20_000))
    assert blank_only["files"][0]["slices"] > 1
    assert (blank_only["status"], blank_only["counts"]["total"], blank_only["warnings"]) == ("Completed", 0, [NO_ROWS])
    rows_then_blank = passing.run(_submit(passing, b"email,name\na@x.org,Ann\n" + b",\n" * 20_000))
    assert rows_then_blank["files"][0]["slices"] > 1
    assert (rows_then_blank["counts"]["total"], rows_then_blank["warnings"]) == (1, [])
