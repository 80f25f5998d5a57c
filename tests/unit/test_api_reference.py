"""docs/api.md against the OpenAPI document: the endpoint index is generated from it, and every route the prose
names is served (except under "Not built yet")."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sluice.api import openapi

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "api.md"
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?…]*)")
# served, but not API routes: the console's pages and the local stack's own invoke endpoint
OUTSIDE_OPENAPI = {("GET", "/console"), ("POST", "/_local/invoke/{}")}


def _served() -> set[tuple[str, str]]:
    return {(method.upper(), re.sub(r"\{[^}]+\}", "{}", path)) for path, item in openapi.document()["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")}


def test_the_endpoint_index_is_the_openapi_documents() -> None:
    check = subprocess.run([sys.executable, "scripts/api_reference.py"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_every_route_the_reference_names_is_served() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    built = text[:text.index("## Not built yet")] + text[text.index("## Endpoints"):]
    named = {(method, re.sub(r"\{[^}]+\}", "{}", path.rstrip("/").split("[")[0]))
             for method, path in ROUTE.findall(built)}
    assert len(named) >= 40
    assert named - _served() - OUTSIDE_OPENAPI == set()


def test_the_readme_links_the_reference_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/api.md)" in readme and "../shared/" not in readme
