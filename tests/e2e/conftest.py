"""The local stack as a user runs it (`sluice-local` in its own process), reached over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
    # Output goes to a file: an unread pipe fills up (moto logs every request) and blocks the stack.
    log = tempfile.NamedTemporaryFile(prefix="sluice-local-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "sluice_local.server"], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(Path(log.name).read_text(errors="replace")[-5000:])
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
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)  # the stack prints its threads' stacks before it is killed
        time.sleep(1)
        process.kill()
        output = Path(log.name).read_text(errors="replace")
        raise AssertionError("the local stack did not stop on SIGTERM:\n" + output[-20000:]) from None
