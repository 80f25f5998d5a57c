"""Edges of the first pass and the date read-ahead in slices (issue 22, a red-team review): the check phase under
cancel, loss and re-drive, staged jobs mixing a workbook, a read-ahead CSV and JSON Lines, gzip and UTF-16
read-aheads, a file of exactly one slice, faults."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from sluice.models.clock import now_ms
from sluice.pipeline.sweeper import sweep
from tests.harness import Harness
from tests.integration.first_pass_support import (
    SLICE,
    dated_csv,
    read_slices,
    read_until_rows_sent,
    staged_job,
    submit_file,
)


def _nothing_applied(h: Harness, job: dict[str, object], key: str) -> None:
    counts = job["counts"]
    assert isinstance(counts, dict) and counts["processed"] == 0, counts
    assert h.call("GET", f"/v1/records/contact/{key}").status_code == 404


def test_jsonl_refusing_unknown_keys_rejects_for_a_key_first_seen_in_a_late_slice(passing: Harness) -> None:
    passing.define()
    lines = [json.dumps({"email": f"j{n}@x.org", "name": "x" * 40 + str(n)}) for n in range(1, 601)]
    lines[590] = json.dumps({"email": "j591@x.org", "name": "late", "surprise": 1})
    job_id = submit_file(passing, "data.jsonl", ("\n".join(lines) + "\n").encode(), "application/x-ndjson",
                         unknownColumns="reject")
    done = passing.run(job_id)
    assert done["status"] == "Rejected", done
    assert done["reason"].startswith("unknownColumns is reject and 1 column(s) match no field: 'surprise'; known:")
    _nothing_applied(passing, done, "j1@x.org")


def test_a_staged_jobs_second_file_with_a_bad_byte_in_its_last_slice_rejects_with_nothing_applied(
        passing: Harness) -> None:
    passing.define()
    first = ("email,name\n" + "".join(f"a{n}@x.org,{'x' * 40}{n}\n" for n in range(1, 401))).encode()
    second = ("email,name\n" + "".join(f"b{n}@x.org,{'x' * 40}{n}\n" for n in range(1, 401))).encode()
    at = len(second) - 30
    second = second[:at] + b"\x81" + second[at + 1:]
    job_id = staged_job(passing, {"a.csv": first, "b.csv": second},
                        {"a.csv": {"itemType": "contact"}, "b.csv": {"itemType": "contact"}})
    passing.pump_twice()
    done = passing.job(job_id)
    assert done["status"] == "Rejected", done
    assert done["reason"] == (f"b.csv: the file is not utf-8 text: undecodable byte 0x81 at byte offset {at} for "
                              "utf-8; save it as UTF-8 or pass `encoding`")
    _nothing_applied(passing, done, "a1@x.org")


def test_a_job_canceled_during_its_check_phase_ends_canceled_with_nothing_read(passing: Harness) -> None:
    passing.define()
    job_id = passing.submit_csv(dated_csv(900, 880))["jobId"]
    read_slices(passing, job_id, 2)
    assert passing.call("POST", f"/v1/jobs/{job_id}/cancel").status_code == 202
    final = passing.run(job_id)
    assert final["status"] == "Canceled", final
    assert final["counts"]["total"] == 0
    _nothing_applied(passing, final, "d1@x.org")


@pytest.mark.parametrize("phase", ["check", "rows"])
def test_a_lost_continuation_is_re_driven_to_exact_counts(passing: Harness, phase: str) -> None:
    passing.define()
    job_id = passing.submit_csv(dated_csv(900, 880))["jobId"]
    if phase == "check":
        read_slices(passing, job_id, 3)
    else:
        read_until_rows_sent(passing, job_id, 4)
    assert passing.discard("IngestQueue") == 1
    passing.pump()
    stuck = passing.job(job_id)
    assert stuck["status"] == "Processing" and stuck["counts"]["total"] is None
    assert (stuck["counts"]["processed"] == 0) is (phase == "check")
    assert sweep(passing.clients, now=now_ms() + 10**9) == {"jobs-redriven": 1}
    done = passing.run(job_id)
    assert done["status"] == "Completed", done
    assert (done["counts"]["total"], done["counts"]["created"], done["counts"]["failed"]) == (900, 900, 0)
    assert done["files"][0]["dateFormats"] == {"joined": "%d/%m/%Y"}


def test_an_empty_file_is_rejected(passing: Harness) -> None:
    passing.define()
    done = passing.run(submit_file(passing, "data.csv", b"", "text/csv"))
    assert (done["status"], done["reason"]) == ("Rejected", "the file is empty: expected a header row")


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_a_file_of_one_slice_give_or_take_a_byte(passing: Harness, delta: int) -> None:
    passing.define()
    header = "email,name\n"
    rows: list[str] = []
    size, n = len(header), 0
    while size < SLICE - 40:
        n += 1
        rows.append(f"e{n}@x.org,{'x' * 20}\n")
        size += len(rows[-1])
    rows.append(f"e{n + 1}@x.org,{'y' * (SLICE + delta - size - len(f'e{n + 1}@x.org,') - 1)}\n")
    text = header + "".join(rows)
    assert len(text.encode()) == SLICE + delta
    done = passing.run(passing.submit_csv(text)["jobId"])
    assert done["status"] == "Completed", done
    assert done["counts"]["created"] == n + 1
    assert done["files"][0]["digest"] == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("form", ["gzip", "utf-16"])
def test_a_date_read_ahead_over_slices_of_gzip_or_utf16_text(passing: Harness, form: str) -> None:
    passing.define()
    text = dated_csv(700, 650)
    if form == "gzip":
        job_id = submit_file(passing, "d.csv.gz", gzip.compress(text.encode()), "application/gzip")
    else:
        job_id = submit_file(passing, "d.csv", text.encode("utf-16"), "text/csv")
    done = passing.run(job_id)
    assert done["status"] == "Completed", done
    assert (done["counts"]["created"], done["files"][0]["dateFormats"]) == (700, {"joined": "%d/%m/%Y"})
    assert passing.call("GET", "/v1/records/contact/d1@x.org").json()["attributes"]["joined"] == "2024-04-03"


def test_a_read_ahead_over_multi_line_fields_keeps_row_and_line_numbers(passing: Harness) -> None:
    passing.define()
    rows = []
    for n in range(1, 701):
        name = f'"two\nlines {n}"' if n % 50 == 0 else f"{'n' * 30}{n}"
        joined = {650: "25/04/2024", 600: "not a date"}.get(n, "03/04/2024")
        rows.append(f"d{n}@x.org,{joined},{name}\n")
    done = passing.run(passing.submit_csv("email,joined,name\n" + "".join(rows))["jobId"])
    assert done["status"] == "Completed", done
    assert (done["counts"]["created"], done["counts"]["failed"]) == (699, 1)
    # rows 50, 100, ..., 550 took two lines each: 11 extra lines before row 600, and the header's
    assert [(e["row"], e["line"]) for e in done["errors"]] == [(600, 600 + 1 + 11)]


def test_a_staged_workbook_read_ahead_csv_and_json_lines_shuffled_and_twice(passing: Harness) -> None:
    from tests.fixtures.corpus import _xlsx

    passing.define()
    book = _xlsx({"S": [["email", "joined"], *[[f"w{n}@x.org", "03/04/2024" if n != 5 else "04/25/2024"]
                                              for n in range(1, 11)]]})
    lines = [json.dumps({"email": f"j{n}@x.org", **({"joined": "13/01/2024"} if n == 400 else {})})
             for n in range(1, 451)]
    job_id = staged_job(passing, {"w.xlsx": book, "d.csv": dated_csv(700, 650).encode(),
                                  "j.jsonl": ("\n".join(lines) + "\n").encode()},
                        {"w.xlsx": {"itemType": "contact"}, "d.csv": {"itemType": "contact"},
                         "j.jsonl": {"itemType": "contact", "format": "jsonl"}})
    passing.pump_shuffled(seed=3, duplicate=0.5)
    done = passing.job(job_id)
    assert done["status"] == "Completed", done
    assert [(f["name"], f["rows"], f["counts"]["created"], f.get("dateFormats")) for f in done["files"]] == [
        ("w.xlsx", 10, 10, {"joined": "%m/%d/%Y"}), ("d.csv", 700, 700, {"joined": "%d/%m/%Y"}),
        ("j.jsonl", 450, 450, {"joined": "%d/%m/%Y"})]
    assert passing.call("GET", "/v1/records/contact/w1@x.org").json()["attributes"]["joined"] == "2024-03-04"
    assert passing.call("GET", "/v1/records/contact/d1@x.org").json()["attributes"]["joined"] == "2024-04-03"


def test_a_json_lines_date_key_first_seen_in_a_late_slice(passing: Harness) -> None:
    passing.define()
    lines = [json.dumps({"email": f"j{n}@x.org", "name": "x" * 40,
                         **({"joined": "03/04/2024" if n != 590 else "04/13/2024"} if n > 500 else {})})
             for n in range(1, 601)]
    done = passing.run(submit_file(passing, "data.jsonl", ("\n".join(lines) + "\n").encode(), "application/x-ndjson"))
    assert done["status"] == "Completed", done
    assert done["files"][0]["dateFormats"] == {"joined": "%m/%d/%Y"}
    assert passing.call("GET", "/v1/records/contact/j501@x.org").json()["attributes"]["joined"] == "2024-03-04"


def test_without_a_resumable_hash_the_first_pass_runs_whole_or_refuses(passing: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.intake import sources

    monkeypatch.setattr(sources, "RESUMABLE", False)
    passing.define()
    text = dated_csv(900, 880)
    done = passing.run(passing.submit_csv(text)["jobId"])
    assert done["status"] == "Completed", done
    assert done["files"][0]["digest"] == hashlib.sha256(text.encode()).hexdigest()
    monkeypatch.setattr(sources, "MAX_DECOMPRESSED_BYTES", 1000)
    refused = passing.run(passing.submit_csv(text)["jobId"])
    assert (refused["status"], refused["reason"]) == (
        "Rejected", f"the file is {len(text)} bytes; here files of at most 1000 bytes are read (the first pass "
        "cannot be carried across invocations)")


def test_a_compressed_file_over_the_limit_is_rejected_before_reading(passing: Harness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.intake import sources

    monkeypatch.setattr(sources, "MAX_DECOMPRESSED_BYTES", 100)
    passing.define()
    data = gzip.compress(dated_csv(50, 40).encode())
    done = passing.run(submit_file(passing, "d.csv.gz", data, "application/gzip"))
    assert (done["status"], done["reason"]) == (
        "Rejected", f"the compressed file is {len(data)} bytes; compressed files of at most 100 bytes are read "
        "(upload the text itself: it is read in slices)")


def test_the_check_phase_and_read_ahead_are_exact_under_faults(passing: Harness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.faults import FaultPlan, inject

    passing.define()
    passing.retry_at_once()
    faults = inject(monkeypatch, FaultPlan(throttle=0.1, timeout=0.1, lost_reply=0.1, seed=2207))
    job_id = passing.submit_csv(dated_csv(900, 880))["jobId"]
    passing.pump_shuffled(seed=2207)
    done = passing.job(job_id)
    faults.enabled = False
    assert done["status"] == "Completed", done
    assert (done["counts"]["total"], done["counts"]["created"]) == (900, 900)
    assert done["files"][0]["dateFormats"] == {"joined": "%d/%m/%Y"}
    assert passing.dead_letters("IngestDeadLetterQueue") == 0
