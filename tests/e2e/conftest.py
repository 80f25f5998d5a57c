"""The local stack as a user runs it (`sluice-local` in its own process), reached over real HTTP."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from sluice_local.spawn import spawn_stack

DEV_KEYS = "acme:acme-key,globex:globex-key"


@dataclass
class Stack:
    api: str
    aws: str
    process: subprocess.Popen[bytes]

    def headers(self, key: str = "acme-key") -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def wait_job(self, job_id: str, key: str = "acme-key", timeout: float = 60) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = requests.get(f"{self.api}/v1/jobs/{job_id}", headers=self.headers(key), timeout=10).json()
            if job["finished"]:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish: {job}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    spawned = spawn_stack(DEV_KEYS, {"SLUICE_SCHEDULE_SPEEDUP": "300"}, timeout=60)
    process = spawned.process
    yield Stack(spawned.api, spawned.aws, process)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)  # the stack prints its threads' stacks before it is killed
        time.sleep(1)
        process.kill()
        raise AssertionError("the local stack did not stop on SIGTERM:\n" + spawned.output()) from None
