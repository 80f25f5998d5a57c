"""`make run` stops within 5 s on SIGTERM or Ctrl-C (SIGINT), every time, under load, and loses nothing it
acknowledged: rounds of start (on the same data directory) → imports from several clients → a signal at a random
moment; then a last start, where every job a client was answered 202 for finishes with exact counts.

`make test` runs SLUICE_STOP_ROUNDS=6 rounds; `make soak-stop` runs 20."""

from __future__ import annotations

import io
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import requests

from sluice_local.spawn import SpawnedStack, spawn_stack

ROUNDS = int(os.environ.get("SLUICE_STOP_ROUNDS", "6"))
ROWS = 200
HEADERS = {"Authorization": "Bearer acme-key"}
SCHEMA: dict[str, Any] = {"key": ["email"],
                          "fields": {"email": {"type": "email", "required": True}, "n": {"type": "integer"}}}


def _start(data: Path, processes: int) -> SpawnedStack:
    return spawn_stack("acme:acme-key", {"SLUICE_DATA_DIR": str(data), "SLUICE_API_PROCESSES": str(processes)})


def _clients(stack: SpawnedStack, round_number: int, acknowledged: dict[str, int], stop: threading.Event
             ) -> list[threading.Thread]:
    lock = threading.Lock()

    def submit(client: int) -> None:
        number = 0
        while not stop.is_set():
            number += 1
            rows = "".join(f"r{round_number}-{client}-{number}-{j}@x.org,{j}\n" for j in range(ROWS))
            try:
                reply = requests.post(f"{stack.api}/v1/jobs", headers=HEADERS, timeout=10, data={"itemType": "t"},
                                      files={"file": ("t.csv", io.BytesIO(("email,n\n" + rows).encode()))})
            except requests.RequestException:
                continue  # the stack stopped mid-request: not acknowledged
            if reply.status_code == 202:
                with lock:
                    acknowledged[reply.json()["jobId"]] = ROWS

    def read() -> None:
        while not stop.is_set():
            try:
                requests.get(f"{stack.api}/v1/jobs?limit=20", headers=HEADERS, timeout=10)
            except requests.RequestException:
                time.sleep(0.05)

    threads = [threading.Thread(target=submit, args=(c,), daemon=True) for c in range(3)]
    threads.append(threading.Thread(target=read, daemon=True))
    for thread in threads:
        thread.start()
    return threads


def test_every_stop_under_load_takes_under_5_s_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = random.Random(18)
    acknowledged: dict[str, int] = {}
    took: list[float] = []
    for round_number in range(ROUNDS):
        stack = _start(data, 2 if round_number % 3 == 0 else 0)  # API worker processes, or threads
        try:
            if round_number == 0:
                assert requests.put(f"{stack.api}/v1/item-types/t", json=SCHEMA, headers=HEADERS,
                                    timeout=30).status_code in (200, 201)
            stop = threading.Event()
            threads = _clients(stack, round_number, acknowledged, stop)
            time.sleep(rng.uniform(0.5, 2.5))
            how = signal.SIGINT if round_number % 2 else signal.SIGTERM
            started = time.monotonic()
            stack.process.send_signal(how)
            code = stack.process.wait(timeout=10)
            took.append(time.monotonic() - started)
            stop.set()
            for thread in threads:
                thread.join(timeout=15)
            assert code == 0, stack.output()
            assert took[-1] < 5, f"round {round_number}: {how.name} took {took[-1]:.1f} s\n{stack.output()}"
        finally:
            if stack.process.poll() is None:
                stack.process.send_signal(signal.SIGUSR1)  # every thread's stack into the log, then kill
                time.sleep(1)
                stack.process.kill()
                stack.process.wait()
    print(f"{ROUNDS} stops: longest {max(took):.2f} s, mean {sum(took) / len(took):.2f} s; "
          f"{len(acknowledged)} jobs acknowledged")
    assert len(acknowledged) >= ROUNDS  # load did reach every round

    final = _start(data, 0)
    try:
        deadline = time.time() + 240
        pending = set(acknowledged)
        while pending and time.time() < deadline:
            for job_id in sorted(pending):
                job = requests.get(f"{final.api}/v1/jobs/{job_id}", headers=HEADERS, timeout=30).json()
                assert "error" not in job, f"acknowledged job {job_id} is lost: {job}"
                if job["finished"]:
                    assert job["status"] == "Completed", job
                    assert job["counts"] == {"total": ROWS, "processed": ROWS, "created": ROWS, "updated": 0,
                                             "unchanged": 0, "failed": 0, "unprocessed": 0}, job
                    pending.discard(job_id)
            time.sleep(0.5)
        assert not pending, f"{len(pending)} acknowledged jobs did not finish"
    finally:
        final.process.send_signal(signal.SIGTERM)
        final.process.wait(timeout=10)
