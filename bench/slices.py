"""`python -m bench.slices`: what reading a file in slices costs next to reading it in one invocation.

Ingest only (the IngestQueue drained, the chunks left unprocessed), in-process against moto, the same 40,000-row
CSV read once in one slice and once in 256 KiB slices; then the first pass alone (sha256, decoding check, line
lengths) over a larger file, in one step and carried across 1 MiB steps, next to hashlib's sha256 of the same
bytes. Figures in docs/benchmarks.md."""

from __future__ import annotations

import os
import time

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                   "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true",
                   "POWERTOOLS_TRACE_DISABLED": "true"})

import pytest  # after the environment above: boto3 and moto read it at import
from moto import mock_aws

from sluice.store.jobs import JobStore
from tests.harness import Harness

ROWS = 40_000


def main() -> None:
    text = "email,name,age\n" + "".join(f"e{n}@example.org,Person number {n:06d} Smith,{n % 100}\n"
                                        for n in range(ROWS))
    for slice_bytes in (64_000_000, 262_144):
        patch = pytest.MonkeyPatch()
        with mock_aws():
            harness = Harness(patch, rows_per_chunk=1000, ingest_slice_bytes=slice_bytes)
            harness.define()
            job_id = harness.submit_csv(text)["jobId"]
            started = time.perf_counter()
            harness.drain("IngestQueue")
            elapsed = time.perf_counter() - started
            job = JobStore(harness.clients).get("acme", job_id)
            assert job is not None and job.total == ROWS
            print(f"IngestSliceBytes {slice_bytes:>10,}: {len(text) / 1e6:.2f} MB in {job.ingestSlice + 1} slice(s), "
                  f"{elapsed:.2f} s, {ROWS / elapsed:,.0f} rows/s")
        patch.undo()
    first_pass()


def first_pass(rows: int = 200_000, step: int = 1 << 20) -> None:
    import hashlib

    from sluice.intake.sources import inspect_upload, pass_over
    from sluice.models.filespec import FileSpec
    from sluice.models.slices import ByteScan, ScannedText
    from sluice.store.blobs import Storage

    data = ("email,name,age\n" + "".join(f"e{n}@example.org,Person number {n:06d} Smith,{n % 100}\n"
                                         for n in range(rows))).encode()
    started = time.perf_counter()
    hashlib.sha256(data).hexdigest()
    bare = time.perf_counter() - started
    patch = pytest.MonkeyPatch()
    with mock_aws():
        harness = Harness(patch)
        storage = Storage(harness.clients)
        storage.put("uploads/acme/bench/data.csv", data, "text/csv")
        spec = FileSpec(name="data.csv", itemType="contact", objectKey="uploads/acme/bench/data.csv")
        upload = inspect_upload(storage, spec)
        for budget in (len(data), step):
            started = time.perf_counter()
            scan: ByteScan | ScannedText | None = None
            steps = 0
            while not isinstance(scan, ScannedText):
                scan, _ = pass_over(storage, spec, upload, scan, budget)
                steps += 1
            elapsed = time.perf_counter() - started
            print(f"first pass, {steps:>3} step(s): {len(data) / 1e6:.1f} MB in {elapsed:.2f} s, "
                  f"{len(data) / 1e6 / elapsed:,.0f} MB/s (hashlib's sha256 alone: {len(data) / 1e6 / bare:,.0f} MB/s)")
    patch.undo()


if __name__ == "__main__":
    main()
