"""Every `sh`/`bash`/`python` example of the README and docs/ runs, as written, against a local stack.

Each file's examples run in order in one bash session (as a reader pastes them into one shell), in an empty
directory holding only a link to `.venv`, against a stack started for this test with the key the README seeds
(`acme:dev-key`); `localhost:3000` and `127.0.0.1:5000` are pointed at that stack's ports. `curl` fails on an HTTP
error (`--fail-with-body`), and any failing command fails the test, naming the example. A block that cannot run
says so on the line above it (`<!-- example: not run (why) -->`); the list of those is pinned below."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sluice_local.spawn import SpawnedStack, spawn_stack

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
MARK = re.compile(r"^<!-- example: (.+?) -->$")
LANGUAGES = {"sh", "bash", "shell", "python"}

# Blocks that cannot run here, by file and first command: keep this short (each says why, above the block)
NOT_RUN = {
    ("README.md", "make run"),
    ("README.md", "SLUICE_DEV_KEYS=acme:dev-key make run"),
    ("README.md", "sam build && sam deploy --guided"),
    ("deploy.md", "make build"),
    ("deploy.md", ".venv/bin/sluice create-key --tenant acme --table <JobsTableName output> --region <region>"),
}


# `aws --endpoint-url URL --region R s3 cp FILE s3://bucket/prefix/`, the one form the examples use, by boto3
AWS_S3_CP = """aws() {
  .venv/bin/python - "$2" "$4" "$7" "$8" <<'PYTHON_AWS'
import sys, boto3
endpoint, region, source, target = sys.argv[1:5]
bucket, _, prefix = target.removeprefix("s3://").partition("/")
boto3.client("s3", endpoint_url=endpoint, region_name=region).upload_file(source, bucket, prefix + source)
print(f"upload: ./{source} to {target}{source}")
PYTHON_AWS
}"""


@dataclass
class Example:
    file: Path
    line: int
    language: str
    code: str
    mark: str | None

    @property
    def first_command(self) -> str:
        return self.code.splitlines()[0].split("#")[0].strip() if self.code else ""


def examples(path: Path) -> Iterator[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        opened = FENCE.match(lines[number])
        if not opened:
            number += 1
            continue
        end = number + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        mark = MARK.match(lines[number - 1]) if number else None
        if opened.group(1) in LANGUAGES:
            yield Example(path, number + 1, opened.group(1), "\n".join(lines[number + 1:end]),
                          mark.group(1) if mark else None)
        number = end + 1


def _runnable(path: Path) -> list[Example]:
    return [e for e in examples(path) if not e.mark]


def test_every_example_runs_unless_marked_with_a_reason() -> None:
    marked = {(e.file.name, e.first_command): e.mark for path in DOCS for e in examples(path) if e.mark}
    assert set(marked) == NOT_RUN
    assert all(mark and ("(" in mark) for mark in marked.values()), marked


@pytest.fixture(scope="module")
def docs_stack() -> Iterator[SpawnedStack]:
    stack = spawn_stack("acme:dev-key", {"SLUICE_SCHEDULE_SPEEDUP": "300"})
    yield stack
    stack.process.terminate()
    stack.process.wait(timeout=10)


def _script(blocks: list[Example], stack: SpawnedStack) -> str:
    api_port, aws_port = stack.api.rsplit(":", 1)[1], stack.aws.rsplit(":", 1)[1]
    parts = ["set -euo pipefail",
             'curl() { command curl --fail-with-body --show-error "$@"; }',
             f"export SLUICE={stack.api} ADMIN_KEY=dev-key"]
    if shutil.which("aws") is None:  # the drop-folder example: boto3 does the same copy where the CLI is missing
        parts.append(AWS_S3_CP)
    for block in blocks:
        code = block.code
        for host in ("localhost", "127.0.0.1"):
            code = code.replace(f"{host}:3000", f"127.0.0.1:{api_port}").replace(f"{host}:5000",
                                                                                 f"127.0.0.1:{aws_port}")
        parts.append(f"echo '@@ {block.file.name} line {block.line}' >&2")
        if block.language == "python":
            parts.append(f".venv/bin/python - <<'PYTHON_EXAMPLE'\n{code}\nPYTHON_EXAMPLE")
        else:
            parts.append(code)
    parts.append("echo '@@ done' >&2")
    return "\n".join(parts) + "\n"


@pytest.mark.parametrize("path", [p for p in DOCS if _runnable(p)], ids=lambda p: p.name)
def test_the_examples_of(path: Path, docs_stack: SpawnedStack, tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    run = subprocess.run(["bash", "-c", _script(_runnable(path), docs_stack)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    where = [line for line in run.stderr.splitlines() if line.startswith("@@ ")]
    assert run.returncode == 0 and where[-1] == "@@ done", (
        f"the example at {where[-1] if where else '?'} failed (exit {run.returncode}):\n"
        f"stdout (end):\n{run.stdout[-3000:]}\nstderr (end):\n{run.stderr[-3000:]}")
