"""Where `make test` spends its time: seconds per test file (setup + call + teardown), from the JUnit report
`make test` writes (`.test-report.xml`), largest first (the top N, argument 2), with each directory's total."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path


def per_file(report: Path) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    for case in ElementTree.parse(report).iter("testcase"):
        module = case.get("classname", "").split(".")
        name = "/".join(m for m in module if m[:1].islower()) + ".py" if module else "?"
        seconds[name] += float(case.get("time", "0"))
    return dict(seconds)


def main() -> None:
    report = Path(sys.argv[1] if len(sys.argv) > 1 else ".test-report.xml")
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    seconds = per_file(report)
    folders: dict[str, float] = defaultdict(float)
    for name, spent in seconds.items():
        folders[name.rsplit("/", 1)[0]] += spent
    for name, spent in sorted(folders.items(), key=lambda item: -item[1]):
        print(f"{spent:8.1f} s  {name}/")
    print(f"{sum(seconds.values()):8.1f} s  in all")
    for name, spent in sorted(seconds.items(), key=lambda item: -item[1])[:top]:
        print(f"{spent:8.1f} s  {name}")


if __name__ == "__main__":
    main()
