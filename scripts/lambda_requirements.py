"""Writes (or, with --check, verifies) the requirements.txt files that `sam build` installs, from the pins in
pyproject.toml: the layer takes the runtime dependencies (less boto3, which the Lambda runtime provides),
the exporter function its own extra. pyproject.toml stays the one place a dependency is listed."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROVIDED_BY_LAMBDA = ("boto3",)
HEADER = "# Written by `make lock` from pyproject.toml; edit the pins there.\n"


def wanted() -> dict[Path, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    layer = [d for d in project["dependencies"] if d.split("==")[0] not in PROVIDED_BY_LAMBDA]
    exporter = project["optional-dependencies"]["exporter"]
    return {ROOT / "layers/sluice/requirements.txt": HEADER + "\n".join(layer) + "\n",
            ROOT / "functions/exporter/requirements.txt": HEADER + "\n".join(exporter) + "\n"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the files instead of checking them")
    args = parser.parse_args()
    stale = []
    for path, text in wanted().items():
        if args.write:
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            stale.append(str(path.relative_to(ROOT)))
    if stale:
        print(f"out of date (run make lock): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
