"""Files over one PUT (issue 22): form 3 with `"parts": N` opens an S3 multipart upload for the job's file; the job
carries a presigned URL per part and the route that completes it; completing it starts the import, exactly as a
single upload does. moto holds S3's rule that every part but the last has at least 5 MiB, so the file here is two
5 MiB parts and a short last one, of rows with long values (few rows, so the import itself stays quick)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from moto import mock_aws

from sluice.intake import sources
from sluice.models.clock import now_ms
from sluice.models.limits import MIN_UPLOAD_PART_BYTES
from sluice.pipeline.sweeper import sweep
from sluice.store.blobs import Storage, upload_key
from tests.harness import Harness

NOTE = {"key": ["id"], "fields": {"id": {"type": "integer", "required": True},
                                  "body": {"type": "string", "maxLength": 10_000}}}
BODY = 9_000  # characters of each row's body: ~1,200 rows make 10.5 MB


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        h = Harness(monkeypatch, rows_per_chunk=500)
        h.define("note", NOTE)
        yield h


def notes(rows: int) -> bytes:
    """rows rows: id n, a body of BODY characters that says its row."""
    lines = ["id,body\n"] + [f"{n},{str(n).rjust(8, '-') * (BODY // 8)}\n" for n in range(1, rows + 1)]
    return "".join(lines).encode()


def parts_of(data: bytes, part_bytes: int = MIN_UPLOAD_PART_BYTES) -> list[bytes]:
    return [data[i:i + part_bytes] for i in range(0, len(data), part_bytes)]


def open_multipart(h: Harness, parts: int, tenant: str = "acme") -> dict[str, Any]:
    reply = h.call("POST", "/v1/jobs", tenant=tenant,
                   json_body={"itemType": "note", "fileName": "notes.csv", "parts": parts})
    assert reply.status_code == 201, reply.content
    return dict(reply.json())


def put_parts(job: dict[str, Any], chunks: list[bytes]) -> list[dict[str, Any]]:
    etags = []
    for part, chunk in zip(job["uploadParts"], chunks, strict=True):
        answer = requests.put(part["url"], data=chunk, timeout=30)
        assert answer.status_code == 200, answer.text
        etags.append({"partNumber": part["partNumber"], "etag": answer.headers["ETag"]})
    return etags


def test_a_file_in_three_parts_imports_exactly_once_completed(harness: Harness) -> None:
    rows = 1_200
    data = notes(rows)
    chunks = parts_of(data)
    assert len(chunks) == 3 and len(chunks[2]) < MIN_UPLOAD_PART_BYTES  # two full parts and a short last one
    job = open_multipart(harness, 3)
    assert job["status"] == "Initialized"
    assert [p["partNumber"] for p in job["uploadParts"]] == [1, 2, 3]
    assert job["uploadComplete"] == f"/v1/jobs/{job['jobId']}/upload/complete"
    assert "uploadUrl" not in job and "uploadForm" not in job and job["uploadOpenUntil"] > job["uploadExpiresAt"]
    key = upload_key("acme", job["jobId"])
    assert all(f"/{key}?" in p["url"] and f"partNumber={p['partNumber']}" in p["url"] for p in job["uploadParts"])
    again = harness.job(job["jobId"])  # the job shown again: fresh links to the same parts
    assert [p["partNumber"] for p in again["uploadParts"]] == [1, 2, 3]
    etags = put_parts(job, chunks)
    harness.pump()
    assert harness.job(job["jobId"])["status"] == "Initialized"  # parts alone are no file

    done = harness.call("POST", f"/v1/jobs/{job['jobId']}/upload/complete", json_body={"parts": etags})
    assert done.status_code == 202, done.content
    assert "uploadParts" not in done.json()
    twice = harness.call("POST", f"/v1/jobs/{job['jobId']}/upload/complete", json_body={"parts": etags})
    assert twice.status_code == 202 and twice.json()["jobId"] == job["jobId"]  # completing again: same answer
    assert Storage(harness.clients).size(key) == len(data)

    harness.pump_twice()  # the object-created event (and every message after it) delivered twice
    final = harness.job(job["jobId"])
    assert final["status"] == "Completed", final
    assert final["counts"] == {"total": rows, "processed": rows, "created": rows, "updated": 0, "unchanged": 0,
                               "deleted": 0, "failed": 0, "unprocessed": 0}
    assert final["files"][0]["digest"] == hashlib.sha256(data).hexdigest()
    assert final["files"][0]["size"] == len(data)
    assert "uploadParts" not in final
    record = harness.call("GET", "/v1/records/note/1200").json()
    assert record["attributes"]["body"] == "----1200" * (BODY // 8)
    late = harness.call("POST", f"/v1/jobs/{job['jobId']}/upload/complete", json_body={"parts": etags})
    assert late.status_code == 202 and late.json()["status"] == "Completed"  # still the same answer, no new job
    assert harness.call("GET", "/v1/jobs").json()["items"].__len__() == 1


def test_parts_s3_refuses_are_a_400_with_its_reason_and_the_job_still_waits(harness: Harness) -> None:
    job = open_multipart(harness, 2)
    small = put_parts(job, [b"id,body\n1,a\n", b"2,b\n"])  # the first part is under 5 MiB
    refused = harness.call("POST", f"/v1/jobs/{job['jobId']}/upload/complete", json_body={"parts": small})
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["message"].startswith("S3 refused to join the parts: EntityTooSmall")
    wrong = [{"partNumber": 1, "etag": '"0123456789abcdef0123456789abcdef"'}]
    bad_etag = harness.call("POST", f"/v1/jobs/{job['jobId']}/upload/complete", json_body={"parts": wrong})
    assert bad_etag.status_code == 400 and "InvalidPart" in bad_etag.json()["error"]["message"]
    beyond = harness.call("POST", f"/v1/jobs/{job['jobId']}/upload/complete",
                          json_body={"parts": [{"partNumber": 3, "etag": "x"}]})
    assert beyond.status_code == 400 and beyond.json()["error"]["message"] == (
        f"job {job['jobId']} has 2 parts; no part numbered 3")
    assert harness.job(job["jobId"])["status"] == "Initialized"
    # parts uploaded again replace the first ones: then the upload completes
    data = notes(600)
    etags = put_parts(job, parts_of(data))
    assert harness.call("POST", f"/v1/jobs/{job['jobId']}/upload/complete",
                        json_body={"parts": etags}).status_code == 202
    final = harness.run(job["jobId"])
    assert final["status"] == "Completed" and final["counts"]["created"] == 600 == final["counts"]["total"]


def test_bad_requests_and_other_tenants_and_jobs_without_a_multipart_upload(harness: Harness) -> None:
    for parts in (0, 1001, "3", True, 2.5):
        reply = harness.call("POST", "/v1/jobs", json_body={"itemType": "note", "fileName": "n.csv", "parts": parts})
        assert reply.status_code == 400, (parts, reply.content)
        assert "parts" in reply.json()["error"]["message"]
    job = open_multipart(harness, 1)
    path = f"/v1/jobs/{job['jobId']}/upload/complete"
    bodies: list[dict[str, Any]] = [{}, {"parts": []}, {"parts": [{"partNumber": 1}]},
                                    {"parts": [{"partNumber": 1, "etag": "x"}], "extra": 1}]
    for body in bodies:
        assert harness.call("POST", path, json_body=body).status_code == 400, body
    etags = put_parts(job, [b"id,body\n1,one\n"])  # one part may be of any size
    harness.define("note", NOTE, tenant="other")
    foreign = harness.call("POST", path, tenant="other", json_body={"parts": etags})
    assert foreign.status_code == 404
    assert harness.call("GET", f"/v1/jobs/{job['jobId']}", tenant="other").status_code == 404
    reader = harness.key(permissions=("imports:read",))
    assert "uploadParts" not in harness.call("GET", f"/v1/jobs/{job['jobId']}", key=reader).json()
    assert harness.call("POST", path, key=reader, json_body={"parts": etags}).status_code == 403
    single = harness.call("POST", "/v1/jobs", json_body={"itemType": "note", "fileName": "n.csv"}).json()
    assert "uploadParts" not in single and single["uploadUrl"]
    not_multipart = harness.call("POST", f"/v1/jobs/{single['jobId']}/upload/complete", json_body={"parts": etags})
    assert not_multipart.status_code == 409
    assert harness.call("POST", path, json_body={"parts": etags}).status_code == 202
    assert harness.run(job["jobId"])["counts"]["created"] == 1


def test_an_upload_never_completed_is_aborted_and_its_job_canceled(harness: Harness) -> None:
    job = open_multipart(harness, 2)
    etags = put_parts(job, [b"x" * MIN_UPLOAD_PART_BYTES, b"y"])
    assert sweep(harness.clients) == {}
    much_later = now_ms() + (harness.clients.settings.open_job_hours + 1) * 3_600_000
    assert sweep(harness.clients, now=much_later) == {"multipart-uploads-aborted": 1}
    canceled = harness.job(job["jobId"])
    assert canceled["status"] == "Canceled" and "multipart upload was not completed within 24 h" in canceled["reason"]
    storage = Storage(harness.clients)
    assert storage.s3.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", []) == []
    late = harness.call("POST", f"/v1/jobs/{job['jobId']}/upload/complete", json_body={"parts": etags})
    assert late.status_code == 409 and "submit a new job" in late.json()["error"]["message"]
    assert sweep(harness.clients, now=much_later) == {}


def test_text_files_are_read_up_to_what_1000_parts_hold_but_workbooks_up_to_2_gib(harness: Harness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_WORKBOOK_BYTES", 10)
    job = harness.call("POST", "/v1/jobs", json_body={"itemType": "note", "fileName": "n.xlsx"}).json()
    assert requests.put(job["uploadUrl"], data=b"PK\x03\x04" + b"\0" * 40, timeout=10).status_code == 200
    done = harness.run(job["jobId"])
    assert done["status"] == "Rejected"
    assert done["reason"] == ("the workbook is 44 bytes; workbooks of at most 10 bytes are read (save the sheet as "
                              f"CSV: text files are read up to {sources.MAX_UPLOAD_BYTES} bytes)")
    assert sources.MAX_UPLOAD_BYTES == 1000 * 5 * 1024**3
