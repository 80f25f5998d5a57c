"""What the seed door tests share: the harness's gateway served over real HTTP (so the seeds' own clients -
curl command lines, Python `requests` calls - are replayed exactly as their pages show them), curl itself,
and the item types the seeds name by their own ids."""

from __future__ import annotations

import copy
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sluice_local.gateway import serve
from tests.harness import CONTACT_SCHEMA, Harness

# `contact`, as LearningBuilder (importProcessId 7, entity AI), TeamTracks (a track id) and Liquid know it
SEED_CONTACT: dict[str, Any] = copy.deepcopy(CONTACT_SCHEMA)
SEED_CONTACT["aliases"] = ["AI", "7", "9a1d3c52-3f0e-4b8e-8d6a-5b2f7c9e1a40", "Attendee"]
for _name, _id in (("name", 555), ("age", 543), ("tier", 560), ("email", 500)):
    SEED_CONTACT["fields"][_name]["id"] = _id
TRACK = "9a1d3c52-3f0e-4b8e-8d6a-5b2f7c9e1a40"


@contextmanager
def served(harness: Harness) -> Iterator[str]:
    """The harness's gateway (authorizer, API function) on a local port; yields its base URL."""
    server = serve(harness.gateway, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def curl(command: str, cwd: str | None = None, **env: str) -> tuple[int, str]:
    """Runs a curl command line as a shell would (variables from env) and returns (HTTP status, body)."""
    run = subprocess.run(["bash", "-c", f"{command} -s -w '\\n%{{http_code}}'"], capture_output=True, text=True,
                         timeout=60, cwd=cwd, env={**os.environ, **env})
    assert run.returncode == 0, run.stderr
    body, _, status = run.stdout.rpartition("\n")
    return int(status), body


def shell(script: str, cwd: str, **env: str) -> str:
    """Runs a shell script as its author would (sh, variables from env); its standard output."""
    run = subprocess.run(["sh", script], capture_output=True, text=True, timeout=120, cwd=cwd,
                         env={**os.environ, **env})
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def sent_mail() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)
