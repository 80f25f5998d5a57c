"""Files read in slices (issue 22): one ingest invocation reads at most IngestSliceBytes, ends at the end of a
record and hands the rest on; rows, row numbers, lines and duplicate keys come out exactly as in one reading,
under redelivery, shuffling and crashes between any two steps of a slice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from sluice.models.clock import now_ms
from sluice.pipeline.sweeper import sweep
from sluice.store.jobs import JobStore
from sluice.store.queue import MessageSender
from sluice.store.slices import SliceStore
from tests.harness import Harness, crash_once

SLICE = 65_536  # the smallest slice the template allows
ROWS = 4_000
DUPLICATE_ROW, FIRST_ROW = 3_900, 7  # row 3,900 repeats row 7's key
LONG = "x" * 40


def sliced_csv(rows: int = ROWS, straddle: int = SLICE) -> tuple[str, int]:
    """A CSV whose rows are u{n}@x.org; the row whose bytes cross offset `straddle` holds a quoted field with a
    line break in it (so the first slice must end after that record's second line). Returns the text and that
    row's number."""
    lines = ["email,name,age\n"]
    size = len(lines[0])
    multiline_row = 0
    for n in range(1, rows + 1):
        email = f"u{FIRST_ROW}@x.org" if n == DUPLICATE_ROW else f"u{n}@x.org"
        name = f"{LONG}{n}"
        if not multiline_row and size + 100 >= straddle:  # its line break 10 bytes before the boundary
            filler = "f" * (straddle - 10 - size - len(f'{email},"first half {n}'))
            name = f'"first half {n}{filler}\nsecond half, with a comma"'
            multiline_row = n
        line = f"{email},{name},{n % 100}\n"
        lines.append(line)
        if multiline_row == n:
            assert size + line.index("\n") == straddle - 10 and size + len(line) > straddle + 20
        size += len(line.encode())
    return "".join(lines), multiline_row


@pytest.fixture
def sliced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        yield Harness(monkeypatch, rows_per_chunk=500, ingest_slice_bytes=SLICE)


def _assert_exact(h: Harness, job: dict[str, Any], multiline_row: int) -> None:
    assert job["status"] == "Completed", job
    assert job["counts"] == {"total": ROWS, "processed": ROWS, "created": ROWS - 1, "updated": 0, "unchanged": 0,
                             "deleted": 0, "failed": 1, "unprocessed": 0}
    (file,) = job["files"]
    assert file["rows"] == ROWS
    assert file["slices"] >= 4, file  # ~190 KB of text in 64 KiB slices
    # the duplicate comes after the multi-line row: its physical line is its row + 1 (header) + 1
    assert [(e["row"], e["line"], e["message"]) for e in job["errors"]] == [
        (DUPLICATE_ROW, DUPLICATE_ROW + 2, f"duplicate key, first seen at row {FIRST_ROW}")]
    assert _record(h, f"u{multiline_row}@x.org")["attributes"]["name"].endswith(
        "f\nsecond half, with a comma")
    assert _record(h, f"u{multiline_row + 1}@x.org")["attributes"]["name"] == f"{LONG}{multiline_row + 1}"
    first = _record(h, f"u{FIRST_ROW}@x.org")
    assert first["attributes"]["age"] == FIRST_ROW and first["version"] == 1
    succeeded = h.result_rows(job["jobId"], "succeeded")
    assert [(int(r[3]), r[4], r[5]) for r in succeeded[1:]] == [
        (n, "created", f"u{n}@x.org") for n in range(1, ROWS + 1) if n != DUPLICATE_ROW]


def _record(h: Harness, key: str) -> dict[str, Any]:
    reply = h.call("GET", f"/v1/records/contact/{key}")
    assert reply.status_code == 200, reply.content
    body: dict[str, Any] = reply.json()
    return body


def _read_slices(h: Harness, job_id: str, slices: int) -> None:
    """Delivers IngestQueue messages one at a time until the job expects slice `slices`."""
    for _ in range(10):
        if _slice_invocations(h, job_id) == slices:
            return
        assert h.pollers["IngestQueue"].poll_once(0) == 1
    raise AssertionError("the slices did not come")


def _slice_invocations(h: Harness, job_id: str) -> int:
    job = JobStore(h.clients).get("acme", job_id)
    assert job is not None
    return job.ingestSlice


def test_a_file_read_in_slices_gives_exact_rows_lines_and_duplicates(sliced: Harness) -> None:
    text, multiline_row = sliced_csv()
    assert multiline_row
    sliced.define()
    job = sliced.submit_csv(text)
    _assert_exact(sliced, sliced.run(job["jobId"]), multiline_row)
    assert _slice_invocations(sliced, job["jobId"]) == sliced.job(job["jobId"])["files"][0]["slices"] - 1


def test_slices_delivered_twice_count_once(sliced: Harness) -> None:
    text, multiline_row = sliced_csv()
    sliced.define()
    job = sliced.submit_csv(text)
    sliced.pump_twice()
    _assert_exact(sliced, sliced.job(job["jobId"]), multiline_row)


def test_slices_shuffled_and_duplicated_count_once(sliced: Harness) -> None:
    text, multiline_row = sliced_csv()
    sliced.define()
    job = sliced.submit_csv(text)
    sliced.pump_shuffled(seed=22, duplicate=0.5)
    _assert_exact(sliced, sliced.job(job["jobId"]), multiline_row)


SLICE_CRASHES = [
    # (object, attribute, crash after the real call ran?, crashes)
    pytest.param(SliceStore, "save", False, 1, id="before-state-saved"),
    pytest.param(SliceStore, "send", True, 1, id="after-continuation-sent"),
    pytest.param(JobStore, "advance_slice", True, 1, id="after-slice-checkpoint"),
    pytest.param(JobStore, "advance_slice", False, 2, id="before-slice-checkpoint"),
    pytest.param(MessageSender, "flush", True, 2, id="after-some-chunks-sent"),
    pytest.param(SliceStore, "load", False, 1, id="before-slice-state-read"),
]


@pytest.mark.parametrize(("target", "name", "after", "times"), SLICE_CRASHES)
def test_a_crash_at_each_step_of_a_slice_is_retried_to_exact_counts(
        sliced: Harness, monkeypatch: pytest.MonkeyPatch, target: Any, name: str, after: bool, times: int) -> None:
    text, multiline_row = sliced_csv()
    sliced.define()
    sliced.retry_at_once()
    state = crash_once(monkeypatch, target, name, after=after, times=times)
    job = sliced.submit_csv(text)
    sliced.pump()
    assert state["crashes"] == times
    _assert_exact(sliced, sliced.job(job["jobId"]), multiline_row)
    assert sliced.dead_letters("IngestDeadLetterQueue") == 0


def test_a_lost_continuation_is_re_driven_to_exact_counts(sliced: Harness) -> None:
    """The chain stops (its continuation lost); the sweeper re-drives: a new run reads from the first slice and
    sends only the chunks not counted, with the duplicate-key registry rebuilt on the way."""
    text, multiline_row = sliced_csv()
    sliced.define()
    job = sliced.submit_csv(text)
    _read_slices(sliced, job["jobId"], 2)  # slices 0 and 1 read, slice 2 handed on...
    assert sliced.discard("IngestQueue") == 1  # ...and lost
    sliced.pump()
    stuck = sliced.job(job["jobId"])
    assert stuck["status"] == "Processing" and stuck["counts"]["total"] is None
    assert 0 < stuck["counts"]["processed"] < ROWS
    assert sweep(sliced.clients, now=now_ms() + 10**9) == {"jobs-redriven": 1}
    _assert_exact(sliced, sliced.run(job["jobId"]), multiline_row)


def test_json_lines_in_slices_keep_the_keys_seen_before(sliced: Harness) -> None:
    """A later slice of a JSON Lines file starts with the keys the earlier slices saw: positions stay put."""
    sliced.define()
    lines = [json.dumps({"email": f"j{n}@x.org", "name": f"{LONG}{n}"} if n < 1500 else
                        {"age": n % 100, "email": f"j{n}@x.org", "name": f"{LONG}{n}", "extra": "ignored"})
             for n in range(1, 3001)]
    reply = sliced.call("POST", "/v1/jobs?itemType=contact", body=("\n".join(lines) + "\n").encode(),
                        content_type="application/x-ndjson")
    assert reply.status_code == 202, reply.content
    job = sliced.run(reply.json()["jobId"])
    assert job["status"] == "Completed", job
    assert job["counts"]["created"] == 3000 and job["counts"]["failed"] == 0
    assert job["files"][0]["slices"] >= 3
    assert job["ignoredColumns"] == ["extra"]
    assert _record(sliced, "j1499@x.org")["attributes"] == {"email": "j1499@x.org", "name": f"{LONG}1499"}
    assert _record(sliced, "j2999@x.org")["attributes"] == {"email": "j2999@x.org", "name": f"{LONG}2999",
                                                            "age": 99}


def test_a_job_canceled_between_slices_ends_canceled_with_exact_counts(sliced: Harness) -> None:
    text, _ = sliced_csv()
    sliced.define()
    job = sliced.submit_csv(text)
    _read_slices(sliced, job["jobId"], 1)  # slice 0 read, slice 1 handed on
    assert sliced.call("POST", f"/v1/jobs/{job['jobId']}/cancel").status_code == 202
    final = sliced.run(job["jobId"])
    assert final["status"] == "Canceled", final
    counts = final["counts"]
    assert 0 < counts["total"] < ROWS, (counts, final["files"], final["reason"])
    assert counts["processed"] + counts["unprocessed"] == counts["total"]


def test_one_slice_when_the_file_fits(harness: Harness) -> None:
    harness.define()
    job = harness.run(harness.submit_csv("email,name\na@x.org,A\nb@x.org,B\n")["jobId"])
    assert job["files"][0]["slices"] == 1 and job["counts"]["created"] == 2


def test_a_staged_job_of_several_files_reads_each_in_slices(sliced: Harness) -> None:
    """Three files, two of them longer than a slice: each file's rows, chunks and slices are its own, a key of the
    first file repeated in the third is found across the slices between them, all under double delivery."""
    sliced.define()
    control = {"files": {"a.csv": {"itemType": "contact"}, "b.jsonl": {"itemType": "contact", "format": "jsonl"},
                         "c.csv": {"itemType": "contact"}}}
    digest = sliced.call("POST", "/v1/controls", body=json.dumps(control).encode(),
                         content_type="application/json").json()["digest"]
    job = sliced.call("POST", "/v1/jobs", json_body={"control": digest}).json()
    first = "".join(f"a{n}@x.org,{LONG}{n},{n % 100}\n" for n in range(1, 2001))
    third = "".join(f"{'a1500' if n == 1200 else f'c{n}'}@x.org,{LONG}{n},{n % 100}\n" for n in range(1, 2001))
    files = {"a.csv": "email,name,age\n" + first, "b.jsonl": '{"email": "b1@x.org"}\n{"email": "b2@x.org"}\n',
             "c.csv": "email,name,age\n" + third}
    for name, text in files.items():
        reply = sliced.call("POST", f"/v1/jobs/{job['jobId']}/files", files={"file": (name, text.encode())},
                            data={"name": name})
        assert reply.status_code in (200, 201), reply.content
    assert sliced.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "commit"}).status_code == 202
    sliced.pump_twice()
    done = sliced.job(job["jobId"])
    assert done["status"] == "Completed", done
    assert done["counts"] == {"total": 4002, "processed": 4002, "created": 4001, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 1, "unprocessed": 0}
    assert [(f["name"], f["rows"], f["counts"]["created"], f["counts"]["failed"]) for f in done["files"]] == [
        ("a.csv", 2000, 2000, 0), ("b.jsonl", 2, 2, 0), ("c.csv", 2000, 1999, 1)]
    assert done["files"][0]["slices"] >= 2 and done["files"][2]["slices"] >= 2
    assert [(e["file"], e["row"], e["line"], e["message"]) for e in done["errors"]] == [
        ("c.csv", 1200, 1201, "duplicate key, first seen at row 1500 of a.csv")]
