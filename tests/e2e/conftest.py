"""The local stack as a user runs it (`sluice-local` in its own process), reached over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

DEV_KEYS = "acme:acme-key,globex:globex-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    api_port, aws_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"SLUICE_API_PORT": str(api_port), "SLUICE_AWS_PORT": str(aws_port), "SLUICE_DEV_KEYS": DEV_KEYS,
                "POWERTOOLS_LOG_LEVEL": "WARNING", "SLUICE_SCHEDULE_SPEEDUP": "300"})
    process = subprocess.Popen([sys.executable, "-m", "sluice_local.server"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read().decode() if process.stdout else "local stack exited")
        try:
            if requests.get(f"{api}/v1/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("local stack did not start in 60 s")
    yield Stack(api, f"http://127.0.0.1:{aws_port}", process)
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
