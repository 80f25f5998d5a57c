"""The domain package is laid out by stage (DESIGN.md, "Layout"): imports run down only, and no module
imports one that imports it back."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "layers/sluice/sluice"
BASE = {"config", "observability"}  # top-level modules every stage may use; they import nothing of ours
# what each stage may import besides itself and the base modules
ALLOWED = {
    "models": set(),
    "store": {"models"},
    "notify": {"models", "store"},
    "intake": {"models", "store", "notify"},
    "pipeline": {"models", "store", "notify", "intake"},
    "exports": {"models", "store", "notify"},
    "api": {"models", "store", "notify", "intake", "pipeline", "exports"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every sluice module the file imports, at any depth of the file (function-level imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("sluice"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sluice"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "sluice"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def test_every_module_belongs_to_a_stage_or_the_base() -> None:
    strays = [m for m in _modules() if m != "sluice" and _stage(m) not in ALLOWED and _stage(m) not in BASE]
    assert strays == []


def _violations(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, imported in graph.items():
        stage = _stage(module)
        for target in imported:
            target_stage = _stage(target)
            if target_stage == stage or (target_stage in BASE and stage not in BASE):
                continue
            if stage in BASE:
                if target_stage != "config":
                    wrong.append(f"{module} -> {target}")
            elif target_stage not in ALLOWED[stage]:
                wrong.append(f"{module} -> {target}")
    return wrong


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_imports_run_down_the_stages_only() -> None:
    assert _violations(_graph()) == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert _cycles(_graph()) == []


def test_the_checks_see_an_upward_import_and_a_cycle() -> None:
    assert _violations({"sluice.store.jobs": {"sluice.pipeline.finalize", "sluice.models.job"}}) == [
        "sluice.store.jobs -> sluice.pipeline.finalize"]
    assert _violations({"sluice.config": {"sluice.models.job"}}) == ["sluice.config -> sluice.models.job"]
    assert _cycles({"sluice.a.x": {"sluice.a.y"}, "sluice.a.y": {"sluice.a.x"}}) == [
        ["sluice.a.x", "sluice.a.y", "sluice.a.x"]]


def test_no_untyped_job_reads_left() -> None:
    """A job is a model: nothing reads it as a dict (`job.get(...)`, `job["..."]`)."""
    roots = [PACKAGE, PACKAGE.parents[2] / "functions"]
    pattern = re.compile(r"\b(job|export)(\.get\(|\[\")")
    hits = [f"{path}:{n}" for root in roots for path in root.rglob("*.py")
            for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []
