"""Seed 001, Haplo's batch import API, driven by a shell script of curl calls as Haplo's example script makes
them (`curl --user haplo:$KEY`, -F for the uploads, --data for the forms): control file -> batch -> file ->
schedule, answered in plain text, errors too; a batch is a staged job of /v1."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.doors import SEED_CONTACT, served, shell
from tests.harness import Harness

BASE = "/api/haplo-data-import-batch"
CONTROL = {"files": {"people": {"itemType": "AI", "format": "csv", "columns": {"Mail": "email", "Full name": "name"}}}}
PEOPLE = "Mail,Full name,age\nann@x.org,Ann,30\nbob@x.org,Bob,-5\n"
SCRIPT = """set -e
CONTROL_DIGEST=`curl -s --user haplo:$KEY -X POST -F comment="People from the HR system" -F file=@control.json \\
    $SERVER/api/haplo-data-import-batch/control`
BATCH=`curl -s --user haplo:$KEY -X POST --data "comment=Nightly import&control=$CONTROL_DIGEST" \\
    $SERVER/api/haplo-data-import-batch/batch`
FILE_DIGEST=`curl -s --user haplo:$KEY -X POST -F batch=$BATCH -F name=people -F file=@people.csv \\
    $SERVER/api/haplo-data-import-batch/file`
SCHEDULED=`curl -s --user haplo:$KEY -X POST --data "batch=$BATCH$MODE" $SERVER/api/haplo-data-import-batch/schedule`
echo "$CONTROL_DIGEST $BATCH $FILE_DIGEST $SCHEDULED"
"""


@pytest.fixture
def haplo(harness: Harness, tmp_path: Path) -> Iterator[tuple[Harness, str, Path]]:
    harness.define(schema=SEED_CONTACT)
    (tmp_path / "control.json").write_text(json.dumps(CONTROL))
    (tmp_path / "people.csv").write_text(PEOPLE)
    (tmp_path / "import.sh").write_text(SCRIPT)
    with served(harness) as url:
        yield harness, url, tmp_path


def _run_script(harness: Harness, url: str, folder: Path, mode: str = "") -> list[str]:
    return shell("import.sh", str(folder), SERVER=url, KEY=harness.key(), MODE=mode).split()


def test_the_example_script_runs_a_dry_run_then_an_import(haplo: tuple[Harness, str, Path]) -> None:
    harness, url, folder = haplo
    control_digest, batch, file_digest, scheduled = _run_script(harness, url, folder, "&mode=dry-run")
    assert control_digest == hashlib.sha256((folder / "control.json").read_bytes()).hexdigest()
    assert file_digest == hashlib.sha256(PEOPLE.encode()).hexdigest()
    assert scheduled == "SCHEDULED"
    dry = harness.run(batch)  # the batch is a staged job of /v1
    assert (dry["status"], dry["mode"], dry["staged"], dry["itemType"], dry["jobName"], dry["comment"]) == (
        "Completed", "dry-run", True, "contact", "Nightly import", "Nightly import")
    assert dry["counts"]["created"] == 1 and dry["counts"]["failed"] == 1
    assert dry["files"][0]["name"] == "people" and dry["files"][0]["digest"] == file_digest
    assert harness.call("GET", "/v1/records/contact/ann@x.org").status_code == 404  # a dry run writes nothing
    # the same control file again (content-addressed), a new batch without mode: the import itself
    _, batch2, _, scheduled2 = _run_script(harness, url, folder)
    assert scheduled2 == "SCHEDULED" and batch2 != batch
    done = harness.run(batch2)
    assert (done["mode"], done["counts"]["created"]) == ("commit", 1)
    assert harness.call("GET", "/v1/records/contact/ann@x.org").json()["attributes"] == {
        "email": "ann@x.org", "name": "Ann", "age": 30}


def _post(url: str, step: str, key: str | None, **kwargs: object) -> requests.Response:
    auth = ("haplo", key) if key else None
    return requests.post(f"{url}{BASE}/{step}", auth=auth, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_errors_are_plain_text_4xx_naming_the_problem(haplo: tuple[Harness, str, Path]) -> None:
    harness, url, _ = haplo
    key = harness.key()
    control = json.dumps(CONTROL).encode()
    digest = _post(url, "control", key, files={"file": ("control.json", control)}).text
    batch = _post(url, "batch", key, data={"control": digest}).text
    cases = [
        (_post(url, "control", key, data={"comment": "no file"}), 400,
         "Expected a multipart/form-data request with a 'file' part"),
        (_post(url, "control", key, files={"file": ("c.json", b"{nope")}), 400,
         "the control document is not valid JSON: ..."),
        (_post(url, "control", key, files={"file": ("c.json", b'{"files": {"people": {"itemType": "ghost"}}}')}),
         400, "file 'people' names unknown item type 'ghost'"),
        (_post(url, "batch", key, data={"comment": "no control"}), 400,
         "Missing or invalid parameter 'control': the digest returned by /control (64 hex digits)"),
        (_post(url, "batch", key, data={"control": "ab" * 32}), 400,
         f"no control document with digest '{'ab' * 32}'; upload it with POST /v1/controls"),
        (_post(url, "file", key, files={"file": ("p.csv", b"x")}, data={"name": "people"}), 400,
         "Missing parameter 'batch': the batch identifier returned by /batch"),
        (_post(url, "file", key, files={"file": ("p.csv", b"x")}, data={"batch": "nope", "name": "people"}), 404,
         "Batch nope was not found"),
        (_post(url, "file", key, files={"file": ("p.csv", b"x")}, data={"batch": batch, "name": "orgs"}), 400,
         "the control document declares no file 'orgs'; it declares: people"),
        (_post(url, "file", key, data={"batch": batch, "name": "people"}), 400,
         "Expected a multipart/form-data request with a 'file' part"),
        (_post(url, "schedule", key, data={"batch": batch}), 409, "declared file(s) not uploaded yet: people"),
        (_post(url, "schedule", key, data={"batch": batch, "mode": "dryrun"}), 400,
         "Unknown mode 'dryrun': leave it out to import, or set it to 'dry-run'"),
        (_post(url, "schedule", None, data={"batch": batch}), 401,
         "a valid API key is required: send 'Authorization: Bearer <key>'"),
        (_post(url, "schedule", "wrong-key", data={"batch": batch}), 401,
         "a valid API key is required: send 'Authorization: Bearer <key>'"),
        (_post(url, "nothing", key, data={"batch": batch}), 404, f"no route POST {BASE}/nothing"),
    ]
    for reply, status, message in cases:
        shown = reply.text[:len(message) - 3] + "..." if message.endswith("...") else reply.text
        assert (reply.status_code, shown) == (status, message), reply.request.body
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    # another tenant's batch is not found; a scheduled batch takes no more files and is not scheduled twice
    harness.define(schema=SEED_CONTACT, tenant="globex")
    other = _post(url, "file", harness.key("globex"), files={"file": ("p.csv", PEOPLE.encode())},
                  data={"batch": batch, "name": "people"})
    assert (other.status_code, other.text) == (404, f"job {batch} not found")
    assert _post(url, "file", key, files={"file": ("p.csv", PEOPLE.encode())},
                 data={"batch": batch, "name": "people"}).status_code == 200
    assert _post(url, "schedule", key, data={"batch": batch}).text == "SCHEDULED"
    again = _post(url, "schedule", key, data={"batch": batch})
    assert (again.status_code, again.text) == (409, f"job {batch} is Accepted: files can be added only before it is "
                                                    "scheduled")


def test_an_idempotency_key_opens_one_batch(haplo: tuple[Harness, str, Path]) -> None:
    harness, url, _ = haplo
    key = harness.key()
    digest = _post(url, "control", key, files={"file": ("control.json", json.dumps(CONTROL).encode())}).text
    first, second = (requests.post(f"{url}{BASE}/batch", auth=("haplo", key), data={"control": digest},
                                   headers={"Idempotency-Key": "hr-2026-12-03"}, timeout=30) for _ in range(2))
    assert first.text == second.text and len(first.text) == 26 and second.headers["Idempotent-Replayed"] == "true"
    assert first.headers["Content-Type"] == second.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert len(harness.call("GET", "/v1/jobs").json()["items"]) == 1
