"""Helpers of the tests of files read in slices (issue 22): the rows, the first pass and the date read-ahead."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from sluice.store.jobs import JobStore
from tests.harness import Harness

SLICE = 8_192  # IngestSliceBytes in the slice tests: small slices keep them fast (~45 KB of rows in ~6 slices)


def ingest_slice(h: Harness, job_id: str) -> int:
    """The slice the job expects next (the number of ingest invocations that have run, less one)."""
    job = JobStore(h.clients).get("acme", job_id)
    assert job is not None
    return job.ingestSlice


def _deliver_until(h: Harness, reached: Callable[[], bool], rounds: int, failure: str) -> None:
    """Delivers IngestQueue messages one at a time until `reached()`."""
    for _ in range(rounds):
        if reached():
            return
        assert h.pollers["IngestQueue"].poll_once(0) == 1
    raise AssertionError(failure)


def read_slices(h: Harness, job_id: str, slices: int, rounds: int = 60) -> None:
    """Delivers IngestQueue messages one at a time until the job expects slice `slices`."""
    _deliver_until(h, lambda: ingest_slice(h, job_id) == slices, rounds, "the slices did not come")


def read_until_rows_sent(h: Harness, job_id: str, chunks: int) -> None:
    """Delivers IngestQueue messages one at a time until the job has sent `chunks` chunks (its check phase over)."""

    def sent() -> bool:
        job = JobStore(h.clients).get("acme", job_id)
        assert job is not None
        return job.chunksSent >= chunks

    _deliver_until(h, sent, 60, "no rows were sent")


def dated_csv(rows: int, tell_row: int | None) -> str:
    """Dates that read both ways (03/04/2024) on every row but `tell_row`, whose 25/04/2024 says day first."""
    body = "".join(f"d{n}@x.org,{'25/04/2024' if n == tell_row else '03/04/2024'},{'n' * 30}{n}\n"
                   for n in range(1, rows + 1))
    return "email,joined,name\n" + body


def submit_file(h: Harness, name: str, data: bytes, content_type: str, **options: str) -> str:
    reply = h.call("POST", "/v1/jobs", files={"file": (name, io.BytesIO(data), content_type)},
                   data={"itemType": "contact", **options})
    assert reply.status_code == 202, reply.content
    return str(reply.json()["jobId"])


def staged_job(h: Harness, files: dict[str, bytes], specs: dict[str, Any]) -> str:
    """A job of several files from a control document, its files uploaded and the job scheduled (commit)."""
    stored = h.call("POST", "/v1/controls", body=json.dumps({"files": specs}).encode(),
                    content_type="application/json")
    assert stored.status_code in (200, 201), stored.content
    job = h.call("POST", "/v1/jobs", json_body={"control": stored.json()["digest"]}).json()
    for name, data in files.items():
        reply = h.call("POST", f"/v1/jobs/{job['jobId']}/files", files={"file": (name, data)}, data={"name": name})
        assert reply.status_code in (200, 201), reply.content
    assert h.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": "commit"}).status_code == 202
    return str(job["jobId"])
