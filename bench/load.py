"""`make load`: many concurrent clients against the local stack (its own process, real HTTP) for a while.

Each client, in a closed loop: submit a job (mostly small, some large; a share of rows invalid on purpose),
then poll it until it finishes and check its counts exactly. After the time is up, outstanding jobs are
waited for. Prints submit latency p50/p99, jobs/s, rows/s, every status seen (5xx must be zero) and the
number of jobs whose counts were not exact (must be zero); exits non-zero when either is not.

Clients poll a job's status once a second (`--poll-seconds`), as `sluice import --wait` (its `--interval`
default) and the web console's job page do: the figure is about what a person or an integration waiting on
its job sees. The stack's Server-Timing header splits each API request's time into the wait for a free API
worker process (`lane`) and the authorizer and function running (`run`); the machine's load average is
recorded at the start and the end (the machine may be shared)."""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from sluice_local.spawn import SpawnedStack, spawn_stack

SCHEMA: dict[str, Any] = {"key": ["email"], "fields": {"email": {"type": "email", "required": True},
                                                       "name": {"type": "string"},
                                                       "age": {"type": "integer", "min": 0, "max": 150}}}
TENANTS = 10


@dataclass
class Totals:
    submit_ms: list[float] = field(default_factory=list)
    later_submit_ms: list[float] = field(default_factory=list)  # a client's second job onwards
    read_ms: list[float] = field(default_factory=list)
    server_timing: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    jobs: int = 0
    rows: int = 0
    inexact: list[str] = field(default_factory=list)
    connection_errors: list[str] = field(default_factory=list)
    last_finish: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_stack() -> SpawnedStack:
    return spawn_stack(",".join(f"load{t}:load-key-{t}" for t in range(TENANTS)))


class Client:
    def __init__(self, api: str, number: int, totals: Totals, large_share: float, invalid_share: float,
                 poll_seconds: float) -> None:
        self.api = api
        self.poll_seconds = poll_seconds
        self.number = number
        self.totals = totals
        self.random = random.Random(number)
        self.large_share = large_share
        self.invalid_share = invalid_share
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer load-key-{number % TENANTS}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        while True:
            try:
                response = self.session.request(method, f"{self.api}{path}", timeout=120, **kwargs)
            except requests.ConnectionError as exc:  # counted as a failure of the service, and tried again
                with self.totals.lock:
                    self.totals.connection_errors.append(str(exc)[:200])
                time.sleep(1)
                continue
            with self.totals.lock:
                self.totals.statuses[response.status_code] += 1
                for part in response.headers.get("server-timing", "").split(","):
                    name, _, duration = part.strip().partition(";dur=")
                    if duration:
                        self.totals.server_timing.setdefault(name, []).append(float(duration))
            if response.status_code not in (429, 503):
                return response
            time.sleep(float(response.headers.get("Retry-After", "1")))

    def run(self, until: float) -> None:
        sequence = 0
        while time.time() < until:
            sequence += 1
            self.one_job(sequence)

    def one_job(self, sequence: int) -> None:
        rows = self.random.randint(5_000, 20_000) if self.random.random() < self.large_share \
            else self.random.randint(10, 200)
        invalid = {r for r in range(1, rows + 1) if self.random.random() < self.invalid_share}
        text = io.StringIO()
        text.write("email,name,age\n")
        for r in range(1, rows + 1):
            text.write(f"c{self.number}-j{sequence}-r{r}@load.test,Name {r},{'x' if r in invalid else r % 100}\n")
        started = time.perf_counter()
        reply = self.request("POST", "/v1/jobs", files={"file": ("load.csv", text.getvalue().encode(), "text/csv")},
                             data={"itemType": "person"})
        elapsed = (time.perf_counter() - started) * 1000
        if reply.status_code != 202:
            with self.totals.lock:
                self.totals.inexact.append(f"submit {reply.status_code}: {reply.text[:200]}")
            return
        with self.totals.lock:
            self.totals.submit_ms.append(elapsed)
            if sequence > 1:
                self.totals.later_submit_ms.append(elapsed)
        job_id = reply.json()["jobId"]
        while True:
            time.sleep(self.poll_seconds)
            started = time.perf_counter()
            job = self.request("GET", f"/v1/jobs/{job_id}").json()
            with self.totals.lock:
                self.totals.read_ms.append((time.perf_counter() - started) * 1000)
            if job.get("finished"):
                break
        expected = {"total": rows, "processed": rows, "created": rows - len(invalid), "updated": 0,
                    "unchanged": 0, "failed": len(invalid), "unprocessed": 0}
        counts = {k: job["counts"].get(k) for k in expected}
        with self.totals.lock:
            if job["status"] != "Completed" or counts != expected:
                self.totals.inexact.append(f"{job_id}: {job['status']} {counts} != {expected}")
            self.totals.jobs += 1
            self.totals.rows += rows
            self.totals.last_finish = time.time()


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    return {"p50": round(statistics.median(ordered), 1), "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1),
            "max": round(ordered[-1], 1), "count": len(ordered)}


def background_import(api: str, rows: int, reads: list[float]) -> dict[str, Any]:
    """A large import of tenant load0 (its file PUT to the upload URL), its status read every 0.5 s until it
    finishes: how long a status read takes while the pipeline is busy."""
    headers = {"Authorization": "Bearer load-key-0"}
    job = requests.post(f"{api}/v1/jobs", json={"itemType": "person", "fileName": "background.csv"},
                        headers=headers, timeout=60).json()
    body = "email,name,age\n" + "".join(f"bg-{r}@load.test,Name {r},{r % 100}\n" for r in range(rows))
    assert requests.put(job["uploadUrl"], data=body.encode(), timeout=600).status_code == 200
    while True:
        time.sleep(0.5)
        started = time.perf_counter()
        reply = requests.get(f"{api}/v1/jobs/{job['jobId']}", headers=headers, timeout=120)
        reads.append((time.perf_counter() - started) * 1000)
        current = reply.json()
        if current.get("finished"):
            return dict(current["counts"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--large-share", type=float, default=0.05, help="share of jobs with 5,000-20,000 rows")
    parser.add_argument("--invalid-share", type=float, default=0.05, help="share of rows that fail validation")
    parser.add_argument("--background-rows", type=int, default=100_000,
                        help="a large import running meanwhile, its status read every 0.5 s (0: none)")
    parser.add_argument("--poll-seconds", type=float, default=1.0,
                        help="between a client's status reads (1 s: the CLI's and the console's)")
    parser.add_argument("--out", default="bench/out/load.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    spawned = start_stack()
    api, process, log = spawned.api, spawned.process, spawned.log
    try:
        for tenant in range(TENANTS):
            reply = requests.put(f"{api}/v1/item-types/person", json=SCHEMA, timeout=30,
                                 headers={"Authorization": f"Bearer load-key-{tenant}"})
            assert reply.status_code in (200, 201), reply.text
        totals = Totals()
        started = time.time()
        until = started + args.seconds
        clients = [Client(api, n, totals, args.large_share, args.invalid_share, args.poll_seconds)
                   for n in range(args.clients)]
        background_reads: list[float] = []
        with ThreadPoolExecutor(max_workers=args.clients + 1) as pool:
            background = pool.submit(background_import, api, args.background_rows, background_reads) \
                if args.background_rows else None
            for future in [pool.submit(c.run, until) for c in clients]:
                future.result()
            background_counts = background.result() if background else None
        elapsed = max(totals.last_finish, until) - started
        load_after = os.getloadavg()
    finally:
        process.terminate()
        process.wait(timeout=30)
    server_errors = sum(n for status, n in totals.statuses.items() if status >= 500)
    if background_counts is not None and (background_counts["created"], background_counts["failed"]) != \
            (args.background_rows, 0):
        totals.inexact.append(f"background import: {background_counts}")
    report = {
        "clients": args.clients, "seconds": args.seconds, "pollSeconds": args.poll_seconds,
        "elapsedSeconds": round(elapsed, 1),
        "loadAverage": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
        "jobs": totals.jobs, "rows": totals.rows,
        "jobsPerSecond": round(totals.jobs / elapsed, 2), "rowsPerSecond": round(totals.rows / elapsed),
        "submitMs": _percentiles(totals.submit_ms),
        # without each client's first submit: all 50 clients start in the same instant, and those first submits
        # queue behind each other for the API processes (a burst no fleet of integrations makes together)
        "laterSubmitMs": _percentiles(totals.later_submit_ms),
        "statusReadMs": _percentiles(totals.read_ms),
        "backgroundImport": {"rows": args.background_rows, "counts": background_counts,
                             "statusReadMs": _percentiles(background_reads)},
        "serverTimingMs": {name: _percentiles(values) for name, values in sorted(totals.server_timing.items())},
        "statuses": dict(sorted(totals.statuses.items())), "serverErrors": server_errors,
        "connectionErrors": len(totals.connection_errors),
        "inexactJobs": len(totals.inexact), "inexactExamples": totals.inexact[:5],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if server_errors or totals.inexact or totals.connection_errors:
        raise SystemExit(f"load failed: {server_errors} server errors, {len(totals.connection_errors)} connection "
                         f"errors, {len(totals.inexact)} inexact jobs "
                         f"(stack log: {log})")
    log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
