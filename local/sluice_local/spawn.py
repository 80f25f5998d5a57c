"""Starting the local stack in its own process (`python -m sluice_local.server`), as the end-to-end tests and
`make load` use it: free ports, its output in a file, back once the API answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass
class SpawnedStack:
    api: str
    aws: str
    process: subprocess.Popen[bytes]
    log: Path
    dynamodb: str = ""  # DynamoDB's own emulator process (`aws` passes DynamoDB requests on to it as well)

    def output(self, last: int = 20000) -> str:
        return self.log.read_text(errors="replace")[-last:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_stack(dev_keys: str, environment: dict[str, str] | None = None, timeout: float = 90) -> SpawnedStack:
    api_port, aws_port, dynamodb_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # a data directory of its own unless the caller names one (to restart on the same state): never `.sluice-data`
    env.update({"SLUICE_API_PORT": str(api_port), "SLUICE_AWS_PORT": str(aws_port),
                "SLUICE_DYNAMODB_PORT": str(dynamodb_port), "SLUICE_DEV_KEYS": dev_keys,
                "POWERTOOLS_LOG_LEVEL": "WARNING", "SLUICE_DATA_DIR": tempfile.mkdtemp(prefix="sluice-data-"),
                **(environment or {})})
    # Output goes to a file: an unread pipe fills up (moto logs every request) and blocks the stack.
    log = Path(tempfile.mkstemp(prefix="sluice-local-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "sluice_local.server"], env=env, stdout=sink,
                                   stderr=subprocess.STDOUT)
    split = env.get("SLUICE_EMULATOR_PROCESSES", "2") != "1"
    stack = SpawnedStack(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{aws_port}", process, log,
                         f"http://127.0.0.1:{dynamodb_port if split else aws_port}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited:\n{stack.output(5000)}")
        try:
            with urllib.request.urlopen(f"{stack.api}/v1/health", timeout=1) as reply:
                if reply.status == 200:
                    return stack
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the local stack did not start in {timeout:.0f} s")
