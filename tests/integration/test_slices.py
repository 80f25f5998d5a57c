"""Files read in slices (issue 22): one ingest invocation reads at most IngestSliceBytes, ends at the end of a
record and hands the rest on; rows, row numbers, lines and duplicate keys come out exactly as in one reading,
under redelivery, shuffling and crashes between any two steps of a slice."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from sluice.intake import compression
from sluice.models.clock import now_ms
from sluice.models.slices import SliceMessage
from sluice.pipeline import ingest
from sluice.pipeline.sweeper import sweep
from sluice.store.jobs import JobStore
from sluice.store.queue import MessageSender
from sluice.store.slices import SliceStore
from tests.faults import FaultPlan, inject
from tests.harness import Harness, crash_once
from tests.integration.first_pass_support import SLICE, ingest_slice, read_slices

ROWS = 800
DUPLICATE_ROW, FIRST_ROW = 780, 7  # row 780 repeats row 7's key
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
        yield Harness(monkeypatch, rows_per_chunk=100, ingest_slice_bytes=SLICE)


def _assert_exact(h: Harness, job: dict[str, Any], multiline_row: int) -> None:
    assert job["status"] == "Completed", job
    assert job["counts"] == {"total": ROWS, "processed": ROWS, "created": ROWS - 1, "updated": 0, "unchanged": 0,
                             "deleted": 0, "failed": 1, "unprocessed": 0}
    (file,) = job["files"]
    assert file["rows"] == ROWS
    assert file["slices"] >= 5, file  # ~45 KB of text in 8 KiB slices
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


def test_a_file_read_in_slices_gives_exact_rows_lines_and_duplicates(sliced: Harness) -> None:
    text, multiline_row = sliced_csv()
    assert multiline_row
    sliced.define()
    job = sliced.submit_csv(text)
    _assert_exact(sliced, sliced.run(job["jobId"]), multiline_row)
    assert ingest_slice(sliced, job["jobId"]) == sliced.job(job["jobId"])["files"][0]["slices"] - 1


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


def test_a_continuation_delivered_before_its_job_moved_on_is_retried_not_dropped(
        sliced: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slice sends its continuation, then moves the job on to it: a continuation delivered in between waits
    for the move and, if it does not come, is retried (it was dropped as stale, which stopped the chain until the
    sweeper re-read the whole file)."""
    text, multiline_row = sliced_csv()
    sliced.define()
    monkeypatch.setattr(ingest, "AHEAD_PAUSES_SECONDS", (0.0, 0.0))
    advance = JobStore.advance_slice
    early: list[int] = []

    def deliver_the_continuation_first(self: JobStore, tenant: str, job_id: str, run: int, number: int,
                                       sent: int | None) -> bool:
        with pytest.raises(ingest.SliceAhead):
            ingest.ingest_slice(sliced.clients, SliceMessage(tenant=tenant, jobId=job_id, run=run, slice=number + 1))
        early.append(number + 1)
        return advance(self, tenant, job_id, run, number, sent)

    monkeypatch.setattr(JobStore, "advance_slice", deliver_the_continuation_first)
    job = sliced.submit_csv(text)
    done = sliced.run(job["jobId"])
    _assert_exact(sliced, done, multiline_row)
    assert early == list(range(1, done["files"][0]["slices"]))


def test_a_lost_continuation_is_re_driven_to_exact_counts(sliced: Harness) -> None:
    """The chain stops (its continuation lost); the sweeper re-drives: a new run reads from the first slice and
    sends only the chunks not counted, with the duplicate-key registry rebuilt on the way."""
    text, multiline_row = sliced_csv()
    sliced.define()
    job = sliced.submit_csv(text)
    read_slices(sliced, job["jobId"], 2, rounds=10)  # slices 0 and 1 read, slice 2 handed on...
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
    lines = [json.dumps({"email": f"j{n}@x.org", "name": f"{LONG}{n}"} if n < 300 else
                        {"age": n % 100, "email": f"j{n}@x.org", "name": f"{LONG}{n}", "extra": "ignored"})
             for n in range(1, 601)]
    reply = sliced.call("POST", "/v1/jobs?itemType=contact", body=("\n".join(lines) + "\n").encode(),
                        content_type="application/x-ndjson")
    assert reply.status_code == 202, reply.content
    job = sliced.run(reply.json()["jobId"])
    assert job["status"] == "Completed", job
    assert job["counts"]["created"] == 600 and job["counts"]["failed"] == 0
    assert job["files"][0]["slices"] >= 3
    assert job["ignoredColumns"] == ["extra"]
    assert _record(sliced, "j299@x.org")["attributes"] == {"email": "j299@x.org", "name": f"{LONG}299"}
    assert _record(sliced, "j599@x.org")["attributes"] == {"email": "j599@x.org", "name": f"{LONG}599",
                                                            "age": 99}


def test_a_job_canceled_between_slices_ends_canceled_with_exact_counts(sliced: Harness) -> None:
    text, _ = sliced_csv()
    sliced.define()
    job = sliced.submit_csv(text)
    read_slices(sliced, job["jobId"], 1, rounds=10)  # slice 0 read, slice 1 handed on
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
    first = "".join(f"a{n}@x.org,{LONG}{n},{n % 100}\n" for n in range(1, 401))
    third = "".join(f"{'a300' if n == 240 else f'c{n}'}@x.org,{LONG}{n},{n % 100}\n" for n in range(1, 401))
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
    assert done["counts"] == {"total": 802, "processed": 802, "created": 801, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 1, "unprocessed": 0}
    assert [(f["name"], f["rows"], f["counts"]["created"], f["counts"]["failed"]) for f in done["files"]] == [
        ("a.csv", 400, 400, 0), ("b.jsonl", 2, 2, 0), ("c.csv", 400, 399, 1)]
    assert done["files"][0]["slices"] >= 2 and done["files"][2]["slices"] >= 2
    assert [(e["file"], e["row"], e["line"], e["message"]) for e in done["errors"]] == [
        ("c.csv", 240, 241, "duplicate key, first seen at row 300 of a.csv")]


def _submit_file(h: Harness, name: str, data: bytes, content_type: str = "application/gzip") -> dict[str, Any]:
    reply = h.call("POST", "/v1/jobs", files={"file": (name, io.BytesIO(data), content_type)},
                   data={"itemType": "contact"})
    assert reply.status_code == 202, reply.content
    return dict(reply.json())


def test_a_gzip_file_is_streamed_and_read_in_slices(sliced: Harness) -> None:
    """`.csv.gz` (two gzip members in a row, as `cat a.gz b.gz` makes): decompressed as it streams, sliced by
    offsets in the text; a later slice decompresses from the start and skips to its offset."""
    text, multiline_row = sliced_csv()
    data = text.encode()
    middle = data.index(b"\n", len(data) // 2) + 1
    compressed = gzip.compress(data[:middle]) + gzip.compress(data[middle:])
    assert len(compressed) < len(data) / 2  # slices count the text read, not the compressed bytes
    sliced.define()
    job = _submit_file(sliced, "people.csv.gz", compressed)
    done = sliced.run(job["jobId"])
    _assert_exact(sliced, done, multiline_row)
    file = done["files"][0]
    assert file["compression"] == "gzip" and file["format"] == "csv"
    assert file["digest"] == hashlib.sha256(compressed).hexdigest() and file["size"] == len(compressed)


def test_gzip_that_is_truncated_or_expands_too_far_is_rejected(sliced: Harness,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    sliced.define()
    whole = gzip.compress(b"email,name\n" + b"".join(b"t%d@x.org,T\n" % n for n in range(5000)))
    truncated = sliced.run(_submit_file(sliced, "cut.csv.gz", whole[: len(whole) // 2])["jobId"])
    assert truncated["status"] == "Rejected"
    assert truncated["reason"] == "the gzip file is truncated: it ends inside its compressed data; upload it again"
    monkeypatch.setattr(compression, "MAX_DECOMPRESSED_BYTES", 10_000)
    monkeypatch.setattr(compression.Gunzip.__init__, "__defaults__", (10_000,))
    bomb = sliced.run(_submit_file(sliced, "big.csv.gz", whole)["jobId"])
    assert bomb["status"] == "Rejected"
    assert bomb["reason"] == ("the file expands beyond 10000 bytes when decompressed; compressed files of at most "
                              "10000 bytes uncompressed are imported")
    workbook = sliced.run(_submit_file(sliced, "book.xlsx.gz", gzip.compress(b"PK\x03\x04 not really"))["jobId"])
    assert workbook["status"] == "Rejected" and workbook["reason"].startswith("a compressed workbook is not read")
    assert sliced.call("GET", "/v1/records/contact/t1@x.org").status_code == 404


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_of_one_file_is_streamed_and_read_in_slices(sliced: Harness) -> None:
    text, multiline_row = sliced_csv()
    archive = _zip({"export/people.csv": text.encode(), "__MACOSX/export/._people.csv": b"\x00\x05\x16\x07"})
    sliced.define()
    done = sliced.run(_submit_file(sliced, "people.zip", archive, "application/zip")["jobId"])
    _assert_exact(sliced, done, multiline_row)
    assert done["files"][0]["compression"] == "zip" and done["files"][0]["format"] == "csv"


def test_zips_of_several_files_or_none_are_rejected(sliced: Harness) -> None:
    sliced.define()
    two = sliced.run(_submit_file(sliced, "two.zip", _zip({"a.csv": b"email\na@x.org\n", "b.csv": b"email\n"}),
                                  "application/zip")["jobId"])
    assert two["status"] == "Rejected" and two["reason"] == "a zip archive must hold exactly one file; this one holds 2"
    broken = sliced.run(_submit_file(sliced, "broken.zip", b"PK\x03\x04 and nothing else", "application/zip")["jobId"])
    assert broken["status"] == "Rejected" and broken["reason"].startswith("the file is not a readable zip archive")


@pytest.mark.parametrize("plan", [
    pytest.param(FaultPlan(throttle=0.1, timeout=0.1, lost_reply=0.1, seed=22), id="all-three"),
    pytest.param(FaultPlan(lost_reply=0.3, seed=23, only=("dynamodb",)), id="dynamodb-replies-lost"),
])
def test_slices_are_exact_under_faults(sliced: Harness, monkeypatch: pytest.MonkeyPatch, plan: FaultPlan) -> None:
    """Throttles, timeouts and lost replies under botocore (the chunk commit transaction, the slice checkpoint,
    the state and registry objects, the continuation), with every message shuffled and some delivered twice."""
    text, multiline_row = sliced_csv()
    sliced.define()
    sliced.retry_at_once()
    faults = inject(monkeypatch, plan)
    job = sliced.submit_csv(text)
    sliced.pump_shuffled(seed=plan.seed)
    finished = sliced.job(job["jobId"])
    faults.enabled = False
    _assert_exact(sliced, finished, multiline_row)
    assert faults.injected["lost_reply"] > 0
    assert faults.calls["dynamodb.TransactWriteItems"] > 0
    if plan.only:  # the commit transaction and the slice checkpoint each landed at least once without a reply
        assert faults.injected["lost_reply:dynamodb.TransactWriteItems"] > 0, faults.injected
        assert faults.injected["lost_reply:dynamodb.UpdateItem"] > 0, faults.injected
    assert sliced.dead_letters("IngestDeadLetterQueue") == 0 and sliced.dead_letters("ChunkDeadLetterQueue") == 0
