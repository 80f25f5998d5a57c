"""Reading ahead in slices (issue 22): the first pass over a file's bytes (sha256, decoding, line lengths) and the
date read-ahead run before any row is sent, and each may take many invocations — so no file is too big for one.
The hash and the checks carry their state between slices exactly: the digest is the file's sha256, a bad byte
or an overlong line in a late slice rejects the job with nothing applied, a character cut by a slice boundary
decodes whole, and a date column's order is learnt from rows read slices apart."""

from __future__ import annotations

import codecs
import hashlib
from typing import Any

import pytest

from sluice.intake import readers
from sluice.intake.sources import inspect_upload, pass_over
from sluice.models.filespec import FileSpec
from sluice.models.slices import ByteScan, ScannedText
from sluice.store.blobs import Storage
from sluice.store.slices import SliceStore
from tests.harness import Harness, crash_once
from tests.integration.first_pass_support import ingest_slice
from tests.integration.test_slices import ROWS, _assert_exact, sliced_csv


def _ingest_invocations(h: Harness, job_id: str) -> int:
    return ingest_slice(h, job_id) + 1


def _nothing_applied(h: Harness, job: dict[str, Any]) -> None:
    assert job["counts"]["processed"] == 0 and job["counts"]["created"] == 0, job["counts"]
    assert h.call("GET", "/v1/records/contact/u1@x.org").status_code == 404


def test_the_first_pass_runs_in_slices_and_the_digest_is_the_files_sha256(passing: Harness) -> None:
    text, multiline_row = sliced_csv()
    passing.define()
    job = passing.submit_csv(text)
    done = passing.run(job["jobId"])
    _assert_exact(passing, done, multiline_row)
    file = done["files"][0]
    assert file["digest"] == hashlib.sha256(text.encode()).hexdigest()
    invocations = _ingest_invocations(passing, job["jobId"])
    # ~45 KB: 6 slices of first pass, then 6 of rows (the last pass slice reads rows too): every one read the file
    assert invocations >= 11 and file["slices"] == invocations


def test_slices_of_the_first_pass_delivered_shuffled_and_twice_count_once(passing: Harness) -> None:
    text, multiline_row = sliced_csv()
    passing.define()
    job = passing.submit_csv(text)
    passing.pump_shuffled(seed=2201, duplicate=0.5)
    done = passing.job(job["jobId"])
    _assert_exact(passing, done, multiline_row)
    assert done["files"][0]["digest"] == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(("name", "after"), [("save", False), ("send", True), ("load", False)])
def test_a_crash_in_a_slice_of_the_first_pass_is_retried_to_exact_counts(
        passing: Harness, monkeypatch: pytest.MonkeyPatch, name: str, after: bool) -> None:
    text, multiline_row = sliced_csv()
    passing.define()
    passing.retry_at_once()
    state = crash_once(monkeypatch, SliceStore, name, after=after, times=1)
    job = passing.submit_csv(text)
    passing.pump()
    assert state["crashes"] == 1
    _assert_exact(passing, passing.job(job["jobId"]), multiline_row)


def test_a_bad_byte_in_the_last_slice_of_the_first_pass_rejects_with_nothing_applied(passing: Harness) -> None:
    text, _ = sliced_csv()
    data = text.encode()
    at = len(data) - 20
    data = data[:at] + b"\x81" + data[at + 1:]  # 0x81 is neither UTF-8 nor Windows-1252
    passing.define()
    reply = passing.call("POST", "/v1/jobs", files={"file": ("data.csv", data, "text/csv")},
                         data={"itemType": "contact"})
    done = passing.run(reply.json()["jobId"])
    assert done["status"] == "Rejected"
    assert done["reason"] == (f"the file is not utf-8 text: undecodable byte 0x81 at byte offset {at} for utf-8; "
                              "save it as UTF-8 or pass `encoding`")
    assert _ingest_invocations(passing, done["jobId"]) >= 6  # it was found in the first pass's last slice
    _nothing_applied(passing, done)


def test_a_fallback_encoding_found_late_is_carried_across_the_slices(passing: Harness) -> None:
    """One Windows-1252 byte near the end: UTF-8 fails there, the fallback decoder (alive since the first slice)
    decodes the whole file; the job reads it as Windows-1252 and says so."""
    text, _ = sliced_csv()
    data = text.encode().replace(f"{ROWS - 1}@x.org,{'x' * 40}".encode(), f"{ROWS - 1}@x.org,caf\xe9".encode("cp1252"))
    passing.define()
    reply = passing.call("POST", "/v1/jobs", files={"file": ("data.csv", data, "text/csv")},
                         data={"itemType": "contact"})
    done = passing.run(reply.json()["jobId"])
    assert done["status"] == "Completed", done
    assert done["files"][0]["encoding"] == "cp1252"
    assert [w["code"] for w in done["warnings"]] == ["encoding-guessed"]
    record = passing.call("GET", f"/v1/records/contact/u{ROWS - 1}@x.org").json()
    assert record["attributes"]["name"] == f"caf\xe9{ROWS - 1}"


def test_a_line_too_long_in_a_late_slice_of_the_first_pass_is_named(passing: Harness,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 500)
    text, _ = sliced_csv()
    lines = text.splitlines(keepends=True)
    lines[700] = lines[700].replace("x" * 40, "y" * 600)  # physical line 701 (the multi-line row came before)
    passing.define()
    done = passing.run(passing.submit_csv("".join(lines))["jobId"])
    assert done["status"] == "Rejected"
    assert done["reason"] == ("line 701 is longer than 500 bytes; lines of at most 500 bytes are read (is a line "
                              "ending or a quote missing?)")
    _nothing_applied(passing, done)


DATES_SCHEMA = {"key": ["email"], "fields": {"email": {"type": "email", "required": True},
                                              "joined": {"type": "date"}}}


def _dated_csv(tell_row: int | None, rows: int = 900) -> str:
    """Dates that read both ways (03/04/2024) on every row but `tell_row`, whose 25/04/2024 says day first."""
    body = "".join(f"d{n}@x.org,{'25/04/2024' if n == tell_row else '03/04/2024'}\n" for n in range(1, rows + 1))
    return "email,joined\n" + body


def test_the_date_read_ahead_learns_the_order_from_a_row_many_slices_on(passing: Harness) -> None:
    passing.define(schema=DATES_SCHEMA)
    done = passing.run(passing.submit_csv(_dated_csv(tell_row=880))["jobId"])
    assert done["status"] == "Completed", done
    assert done["counts"]["created"] == 900
    assert done["files"][0]["dateFormats"] == {"joined": "%d/%m/%Y"}
    assert passing.call("GET", "/v1/records/contact/d1@x.org").json()["attributes"]["joined"] == "2024-04-03"
    assert passing.call("GET", "/v1/records/contact/d880@x.org").json()["attributes"]["joined"] == "2024-04-25"
    assert _ingest_invocations(passing, done["jobId"]) >= 6


def test_dates_that_never_tell_their_order_reject_after_the_read_ahead_with_nothing_applied(
        passing: Harness) -> None:
    passing.define(schema=DATES_SCHEMA)
    done = passing.run(passing.submit_csv(_dated_csv(tell_row=None))["jobId"])
    assert done["status"] == "Rejected"
    assert done["reason"] == ("column 'joined' holds dates that read both day-first and month-first (03/04/2024); "
                              "give dateFormat (e.g. %d/%m/%Y or %m/%d/%Y) on the request or on the field")
    assert done["counts"]["processed"] == 0
    assert passing.call("GET", "/v1/records/contact/d1@x.org").status_code == 404


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le"])
@pytest.mark.parametrize("budget", [1, 7, 4096])
def test_the_first_pass_carried_in_any_steps_finds_what_one_pass_finds(
        harness: Harness, encoding: str, budget: int) -> None:
    """Characters cut at every possible boundary (budgets of 1 and 7 bytes), byte-order marks, UTF-16's byte
    order: the carried pass ends with the same digest and encoding as one pass over the whole file."""
    # budgets of 1 byte cut at every byte (a ranged GET each): a short text; the other budgets a longer one
    text = "email,name\n" + "".join(f"z{n}@x.org,Zoë ✓ 𝄞 {n}\n" for n in range(8 if budget == 1 else 60))
    data = text.encode(encoding)
    if encoding == "utf-16-le":
        assert not data.startswith(codecs.BOM_UTF16_LE)
    storage = Storage(harness.clients)
    key = "uploads/acme/job-x/data.csv"
    storage.put(key, data, "text/csv")
    spec = FileSpec(name="data.csv", itemType="contact", objectKey=key, contentType="text/csv")
    upload = inspect_upload(storage, spec)
    whole, _ = pass_over(storage, spec, upload, None, len(data))
    scan: ByteScan | ScannedText | None = None
    steps = 0
    while not isinstance(scan, ScannedText):
        scan, read = pass_over(storage, spec, upload, scan, budget)
        assert read == min(budget, len(data) - steps * budget)
        steps += 1
        scan = ByteScan.model_validate_json(scan.model_dump_json()) if isinstance(scan, ByteScan) else scan
    assert steps == -(-len(data) // budget)
    assert scan == whole
    assert scan.digest == hashlib.sha256(data).hexdigest()
    assert scan.encoding == {"utf-8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16",
                             "utf-16-le": "utf-16-le"}[encoding]


def test_a_re_drive_goes_on_with_the_checks_its_stopped_run_got_through(passing: Harness,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pass of a big file takes hours: a lost continuation in the middle of it must not start it again.
    The re-drive's run carries on from the stopped run's check state (the same object: its ETag is compared)."""
    from sluice.models.clock import now_ms
    from sluice.pipeline import ingest
    from sluice.pipeline.sweeper import sweep
    from tests.integration.first_pass_support import read_slices

    text, multiline_row = sliced_csv()
    passing.define()
    job = passing.submit_csv(text)
    read_slices(passing, job["jobId"], 3, rounds=10)  # three slices of first pass read, the fourth handed on...
    assert passing.discard("IngestQueue") == 1  # ...and lost
    offsets: list[int] = []
    real = ingest.pass_over

    def recorded(storage: Any, spec: Any, upload: Any, scan: ByteScan | None, budget: int) -> Any:
        offsets.append(0 if scan is None else scan.offset)
        return real(storage, spec, upload, scan, budget)

    monkeypatch.setattr(ingest, "pass_over", recorded)
    assert sweep(passing.clients, now=now_ms() + 10**9) == {"jobs-redriven": 1}
    done = passing.run(job["jobId"])
    _assert_exact(passing, done, multiline_row)
    assert done["files"][0]["digest"] == hashlib.sha256(text.encode()).hexdigest()
    assert offsets and offsets[0] == 3 * 8_192, offsets  # on from where the stopped run's pass had got
