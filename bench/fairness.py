"""Fairness: how long a one-row job of one tenant waits while another tenant's large jobs run, on the local stack.

`python -m bench.fairness [--rows 99000] [--jobs 3]`: tenant `big` submits the large jobs (upload form), and once
they are being processed tenant `small` submits one row; the wait is from that submit to Completed."""

from __future__ import annotations

import argparse
import time
from typing import Any

import requests

from sluice_local.spawn import spawn_stack

SCHEMA: dict[str, Any] = {"key": ["email"], "fields": {"email": {"type": "email", "required": True},
                                                       "name": {"type": "string"}, "age": {"type": "integer"}}}


def _headers(tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant}-key"}


def _wait(api: str, tenant: str, job_id: str, done: set[str], timeout: float = 900) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job: dict[str, Any] = requests.get(f"{api}/v1/jobs/{job_id}", headers=_headers(tenant), timeout=30).json()
        if job["status"] in done:
            return job
        time.sleep(0.2)
    raise TimeoutError(job_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=99_000)
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    stack = spawn_stack("big:big-key,small:small-key")
    try:
        for tenant in ("big", "small"):
            requests.put(f"{stack.api}/v1/item-types/person", json=SCHEMA, headers=_headers(tenant), timeout=30)
        data = "email,name,age\n" + "".join(f"u{i}@example.org,Name {i},{i % 90}\n" for i in range(args.rows))
        big_jobs = []
        for number in range(args.jobs):
            job = requests.post(f"{stack.api}/v1/jobs", headers=_headers("big"), timeout=30,
                                json={"itemType": "person", "fileName": f"big{number}.csv"}).json()
            requests.put(job["uploadUrl"], data=data.encode(), timeout=120).raise_for_status()
            big_jobs.append(job["jobId"])
        for job_id in big_jobs:
            _wait(stack.api, "big", job_id, {"Processing", "Completed"})
        started = time.perf_counter()
        small = requests.post(f"{stack.api}/v1/jobs?itemType=person", headers={
            **_headers("small"), "Content-Type": "application/x-ndjson"}, timeout=30,
            data=b'{"email": "solo@example.org", "name": "Solo"}\n').json()
        finished = _wait(stack.api, "small", small["jobId"], {"Completed", "Failed", "Rejected"})
        waited = time.perf_counter() - started
        progress = [requests.get(f"{stack.api}/v1/jobs/{j}", headers=_headers("big"), timeout=30).json()["counts"]
                    for j in big_jobs]
        print(f"one-row job of tenant 'small': {finished['status']} after {waited:.2f} s while tenant 'big' ran "
              f"{args.jobs} x {args.rows} rows (rows processed then: {[c['processed'] for c in progress]})",
              flush=True)
    finally:
        stack.process.terminate()  # stops within 5 s (tests/e2e/test_stop.py)
        stack.process.wait(timeout=10)


if __name__ == "__main__":
    main()
