"""`make run` stops within 5 s on SIGTERM or Ctrl-C (SIGINT), every time, under load, and loses nothing it
acknowledged: rounds of start (on the same data directory) → imports from several clients → a signal at a random
moment; then a last start, where every job a client was answered 202 for finishes with exact counts.

`make test` runs SLUICE_STOP_ROUNDS=6 rounds; `make soak-stop` runs 20."""

from __future__ import annotations

import contextlib
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
                                             "unchanged": 0, "deleted": 0, "failed": 0, "unprocessed": 0}, job
                    pending.discard(job_id)
            time.sleep(0.5)
        assert not pending, f"{len(pending)} acknowledged jobs did not finish"
    finally:
        final.process.send_signal(signal.SIGTERM)
        final.process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_make_run_stops_on_sigterm_to_make_and_on_ctrl_c(tmp_path: Path) -> None:
    """`make run` as a person runs it: SIGTERM to make (which passes it to its child only: the recipe must exec
    the stack, or the stack runs on orphaned) and Ctrl-C (SIGINT to the whole process group)."""
    import subprocess

    from sluice_local.spawn import free_port

    root = Path(__file__).resolve().parents[2]
    for how in (signal.SIGTERM, signal.SIGINT):
        log = tmp_path / f"make-{how.name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_", "MAKE"))}
        env.update({"SLUICE_API_PORT": str(free_port()), "SLUICE_AWS_PORT": str(free_port()),
                    "SLUICE_DATA_DIR": str(tmp_path / f"data-{how.name}"), "SLUICE_DEV_KEYS": "acme:acme-key"})
        with log.open("wb") as sink:
            make = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=root, env=env, stdout=sink,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 120
            while "Ctrl-C stops." not in log.read_text() and time.time() < deadline:
                assert make.poll() is None, log.read_text()
                time.sleep(0.2)
            stack = _children(make.pid)
            assert len(stack) == 1 and "sluice-local" in Path(f"/proc/{stack[0]}/cmdline").read_text()
            started = time.monotonic()
            if how == signal.SIGINT:
                os.killpg(make.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            else:
                make.send_signal(signal.SIGTERM)
            make.wait(timeout=10)
            while _alive(stack[0]) and time.monotonic() - started < 10:
                time.sleep(0.05)
            took = time.monotonic() - started
            assert not _alive(stack[0]), f"{how.name}: make exited, the stack runs on\n{log.read_text()}"
            assert took < 5, f"{how.name} took {took:.1f} s"
            assert "stopping..." in log.read_text()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(make.pid, signal.SIGKILL)
