"""Red-team probe of issue 22: every console module must parse (main.js imports every page statically, so one
syntax error leaves the whole console blank)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CONSOLE_JS = Path(__file__).resolve().parents[2] / "layers/sluice/sluice/api/console/js"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("module", sorted(p.relative_to(CONSOLE_JS).as_posix() for p in CONSOLE_JS.rglob("*.js")
                                          if "vendor" not in p.parts))
def test_each_console_module_parses(module: str, tmp_path: Path) -> None:
    copy = tmp_path / (Path(module).stem + ".mjs")  # an ES module, as the browser loads it
    copy.write_bytes((CONSOLE_JS / module).read_bytes())
    checked = subprocess.run(["node", "--check", str(copy)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr.strip().splitlines()[-1] if checked.stderr else checked
