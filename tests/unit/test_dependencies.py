"""Dependencies are listed once (pyproject.toml); the lock and the Lambda requirements files follow it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;#]+)", line.strip())
        if match:
            found[match[1].lower().replace("_", "-")] = match[3]
    return found


def test_the_lock_pins_every_direct_dependency_at_its_pyproject_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = _pins(project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group])
    locked = _pins((ROOT / "requirements.lock").read_text().splitlines())
    assert {name: locked.get(name) for name in direct} == direct


def test_the_lambda_requirements_files_are_written_from_pyproject() -> None:
    checked = subprocess.run([sys.executable, str(ROOT / "scripts/lambda_requirements.py")], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stderr
