"""The `sluice` command as a person runs it: a subprocess against the local stack, each test in a tenant of its own
(a key made with `sluice create-key`), exact counts, exact exit codes, one-line errors and never a traceback."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from sluice_local.spawn import free_port
from tests.e2e.conftest import Stack

SLUICE = str(Path(sys.executable).parent / "sluice")
MiB = 1024 * 1024
SCHEMA: dict[str, Any] = {"key": ["email"], "fields": {
    "email": {"type": "email", "required": True}, "name": {"type": "string"}, "note": {"type": "string"},
    "age": {"type": "integer", "min": 0, "max": 150}}, "columns": {"E-mail": "email"}}


class Cli:
    def __init__(self, stack: Stack, key: str) -> None:
        self.stack = stack
        self.key = key
        self.peak_kib = 0

    def run(self, *args: str, key: str | None = None, url: str | None = None, timeout: float = 180,
            measure: bool = False) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SLUICE_URL": url or self.stack.api, "SLUICE_API_KEY": self.key if key is None else key}
        # measure: GNU time writes the CLI's peak memory (KiB) to a file of its own
        peak = Path(tempfile.mkstemp(prefix="sluice-peak-")[1])
        command = ["/usr/bin/time", "-f", "%M", "-o", str(peak), SLUICE] if measure else [SLUICE]
        run = subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, env=env)
        self.peak_kib = int(peak.read_text().split()[-1]) if measure and peak.read_text().strip() else 0
        peak.unlink()
        assert "Traceback" not in run.stderr, run.stderr
        return run

    def ok(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        run = self.run(*args)
        assert run.returncode == code, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
        return run

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self.ok(*args, "--json", code=code).stdout)

    def records(self, item_type: str = "person") -> list[str]:
        keys, cursor = [], None
        while True:
            page = requests.get(f"{self.stack.api}/v1/records/{item_type}", timeout=30,
                                params={"limit": 1000, **({"cursor": cursor} if cursor else {})},
                                headers={"Authorization": f"Bearer {self.key}"}).json()
            keys += [r["key"] for r in page["items"]]
            cursor = page.get("nextCursor")
            if not cursor:
                return sorted(keys)


def _one_line_error(run: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert run.returncode == code, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    lines = [line for line in run.stderr.splitlines() if line.startswith("sluice: ")]
    assert len(lines) == 1, run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def cli(stack: Stack, tmp_path: Path) -> Cli:
    """A tenant of its own, with the item type `person` put by the CLI from a file."""
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    made = subprocess.run([SLUICE, "create-key", "--tenant", tenant, "--table", "JobsTable", "--endpoint-url",
                           stack.aws], capture_output=True, text=True, timeout=60, env={
        **os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
    assert made.returncode == 0, made.stderr
    client = Cli(stack, json.loads(made.stdout)["key"])
    definition = tmp_path / "person.json"
    definition.write_text(json.dumps(SCHEMA))
    assert client.ok("item-types", "put", str(definition)).stdout.startswith("item type person: version ")
    return client


def _csv_of_size(path: Path, size: int) -> int:
    """A CSV of exactly `size` bytes (rows of random text, about 2 KB each), written as it goes; returns its rows."""
    header = b"email,name,note\n"
    if size == 0:
        path.write_bytes(b"")
        return 0
    rng = random.Random(size)
    letters = string.ascii_letters.encode()
    with path.open("wb") as out:
        out.write(header)
        written, number = len(header), 0
        while written < size:
            number += 1
            prefix = f"u{number:06d}@example.org,Name {number},".encode()
            room = size - written - len(prefix) - 1
            room = room if room < 2000 + len(prefix) + 8 else 2000  # the last row takes what is left
            row = prefix + bytes(rng.choices(letters, k=room)) + b"\n"
            out.write(row)
            written += len(row)
    assert path.stat().st_size == size, (path.stat().st_size, size)
    return number


def _xlsx_over(path: Path, size: int) -> int:
    """A workbook of at least `size` bytes (random text compresses badly); returns its data rows."""
    from openpyxl import Workbook

    rng = random.Random(size)
    rows = max(1, int(size / 1450) + 1)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("People")
    sheet.append(["email", "name", "note"])
    for number in range(1, rows + 1):
        sheet.append([f"u{number:06d}@example.org", f"Name {number}",
                      "".join(rng.choices(string.ascii_letters + string.digits, k=2000))])
    book.save(path)
    assert path.stat().st_size >= size, path.stat().st_size
    return rows


# `make soak-cli` adds larger files (SLUICE_CLI_SOAK_MIB=200; 1024 too if there is time), checking the upload
# streams (the CLI's memory stays flat)
SOAK_SIZES = [int(size) for size in os.environ.get("SLUICE_CLI_SOAK_MIB", "").split(",") if size.strip()]


@pytest.mark.parametrize("mebibytes", [0, 1, 4, 5, *SOAK_SIZES])
def test_import_of_a_csv_of_each_size_applies_every_row(cli: Cli, tmp_path: Path, mebibytes: int) -> None:
    data = tmp_path / f"people-{mebibytes}.csv"
    rows = _csv_of_size(data, mebibytes * MiB)
    run = cli.run("import", str(data), "--item-type", "person", "--wait", "--interval", "0.3", measure=True,
                  timeout=300 + mebibytes * 10)
    if mebibytes in SOAK_SIZES:  # the CLI never holds the file: its peak memory is far below the file's size
        print(f"sluice import of {mebibytes} MiB: peak memory {cli.peak_kib // 1024} MiB")
        assert cli.peak_kib < 120 * 1024, f"the CLI peaked at {cli.peak_kib // 1024} MiB for {mebibytes} MiB"
    if mebibytes == 0:
        assert run.returncode == 2, run.stderr
        assert "Rejected - the file is empty" in run.stdout or "Rejected - file is empty" in run.stdout, run.stdout
        return
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"rows: total {rows}, processed {rows}, created {rows}, updated 0, unchanged 0, failed 0" in run.stdout
    if mebibytes in SOAK_SIZES:  # listing 100,000s of 2 KB records is slow locally: the first and the last row
        for number in (1, rows):
            record = requests.get(f"{cli.stack.api}/v1/records/person/u{number:06d}@example.org", timeout=30,
                                  headers={"Authorization": f"Bearer {cli.key}"})
            assert record.status_code == 200 and record.json()["attributes"]["name"] == f"Name {number}"
    else:
        assert len(cli.records()) == rows


def test_import_in_parts_puts_each_part_to_its_presigned_url_and_completes(cli: Cli, tmp_path: Path) -> None:
    """A multipart upload over real HTTP: the CLI opens the job with `parts`, PUTs each 5 MiB part (streamed from
    disk) to its presigned URL on the emulator, completes it, and the object-created event starts the import."""
    data = tmp_path / "people-parts.csv"
    rows = _csv_of_size(data, 11 * MiB)
    run = cli.run("import", str(data), "--item-type", "person", "--part-size", str(5 * MiB), "--wait",
                  "--interval", "0.3", "--json", measure=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    job = json.loads(run.stdout)
    assert job["status"] == "Completed", job
    assert job["counts"] == {"total": rows, "processed": rows, "created": rows, "updated": 0, "unchanged": 0,
                             "deleted": 0, "failed": 0, "unprocessed": 0}
    assert job["files"][0]["size"] == 11 * MiB
    assert job["files"][0]["digest"] == hashlib.sha256(data.read_bytes()).hexdigest()
    s3 = boto3.client("s3", endpoint_url=cli.stack.aws, region_name="us-east-1", aws_access_key_id="local",
                      aws_secret_access_key="local")
    (bucket, key), = [(b["Name"], k) for b in s3.list_buckets()["Buckets"] for k in _upload_keys(s3, b["Name"], job)]
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-3")  # S3 joined three parts
    assert len(cli.records()) == rows
    bad = cli.run("import", str(data), "--item-type", "person", "--part-size", "1000")
    assert bad.returncode != 0 and "at least 5242880 bytes" in bad.stderr


def test_import_in_parts_says_how_the_upload_goes(cli: Cli, tmp_path: Path) -> None:
    """A big upload takes minutes: `sluice import` says how many parts it sends and each one as it is sent (it was
    silent between `importing FILE` and the job's first progress line)."""
    data = tmp_path / "nightly.csv"
    rows = _csv_of_size(data, 11 * MiB)
    run = cli.run("import", str(data), "--item-type", "person", "--part-size", str(5 * MiB), "--wait",
                  "--interval", "0.3", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stderr.splitlines()
    job_id = lines[1].split()[1].rstrip(":")
    assert lines[:6] == [f"importing {data} ({11 * MiB} bytes)",
                         f"job {job_id}: uploading nightly.csv in 3 parts of {5 * MiB} bytes",
                         f"part 1/3 sent ({5 * MiB} of {11 * MiB} bytes)",
                         f"part 2/3 sent ({10 * MiB} of {11 * MiB} bytes)",
                         f"part 3/3 sent ({11 * MiB} of {11 * MiB} bytes)",
                         f"job {job_id} Initialized"]
    assert f"rows: total {rows}, processed {rows}, created {rows}," in run.stdout
    quiet = cli.run("import", str(data), "--item-type", "person", "--part-size", str(5 * MiB), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def _upload_keys(s3: Any, bucket: str, job: dict[str, Any]) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("Contents", [])
    return [o["Key"] for o in listed if o["Key"].endswith(f"/{job['jobId']}/data")]


@pytest.mark.parametrize("mebibytes", [0, 1, 4, 5])
def test_import_of_a_workbook_of_each_size_applies_every_row(cli: Cli, tmp_path: Path, mebibytes: int) -> None:
    data = tmp_path / f"people-{mebibytes}.xlsx"
    if mebibytes == 0:
        data.write_bytes(b"")
        run = cli.run("import", str(data), "--item-type", "person", "--wait", "--interval", "0.3")
        assert run.returncode == 2 and "Rejected" in run.stdout, run.stdout + run.stderr
        return
    rows = _xlsx_over(data, mebibytes * MiB)
    job = cli.json("import", str(data), "--item-type", "person", "--sheet", "People", "--wait", "--interval", "0.3")
    assert job["status"] == "Completed" and job["format"] == "xlsx"
    assert job["counts"] == {"total": rows, "processed": rows, "created": rows, "updated": 0, "unchanged": 0,
                             "deleted": 0, "failed": 0, "unprocessed": 0}
    assert len(cli.records()) == rows


def test_progress_is_clean_lines_off_a_terminal_and_exit_1_when_rows_failed(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "mixed.csv"
    data.write_text("E-mail,name,age\n" + "".join(f"p{i}@x.org,P{i},{i % 90}\n" for i in range(1, 2001))
                    + "bad,Bad,1\nq@x.org,Q,-3\n")
    run = cli.run("import", str(data), "--item-type", "person", "--wait", "--interval", "0.2")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "\r" not in run.stderr and "None" not in run.stderr and "\x1b" not in run.stderr
    assert run.stderr.splitlines()[0] == f"importing {data} ({data.stat().st_size} bytes)"
    assert run.stderr.splitlines()[-1] == "[##############################] 100% 2002/2002 rows  Completed"
    lines = run.stdout.splitlines()
    assert lines[0].endswith(": Completed") and lines[0].startswith("job ")
    assert lines[1] == "rows: total 2002, processed 2002, created 2000, updated 0, unchanged 0, failed 2"
    assert lines[2:] == ["warning: objects-created-truncated: objectsCreated lists the first 1000 of the 2000 keys "
                         "created; the succeeded result file lists every row",
                         "  row 2001 email: is not a valid email address (value 'bad')",
                         "  row 2002 age: must be at least 0 (value '-3')"]


def test_dry_run_says_so_writes_nothing_and_commit_applies_it(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text("E-mail,name\nd1@x.org,D1\nd2@x.org,D2\n")
    run = cli.ok("import", str(data), "--item-type", "person", "--dry-run", "--wait", "--name", "Trial")
    assert "dry run of" in run.stderr
    assert "Completed  (dry run: nothing was written)" in run.stdout.splitlines()[0]
    assert "created 2" in run.stdout and cli.records() == []
    dry_id = run.stdout.split()[1].rstrip(":")
    job = cli.json("job", dry_id)
    assert (job["jobName"], job["mode"]) == ("Trial", "dry-run")
    committed = cli.json("commit", dry_id, "--wait")
    assert committed["mode"] == "commit" and committed["counts"]["created"] == 2
    assert cli.records() == ["d1@x.org", "d2@x.org"]


def test_sheet_header_row_delimiter_encoding_and_merge(cli: Cli, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Cover"
    book.active.append(["nothing here"])
    people = book.create_sheet("People")
    people.append(["exported 2026-12-01"])
    people.append(["email", "name", "age"])
    people.append(["w1@x.org", "W1", 30])
    book.save(tmp_path / "book.xlsx")
    job = cli.json("import", str(tmp_path / "book.xlsx"), "--item-type", "person", "--sheet", "People",
                   "--header-row", "2", "--wait")
    assert (job["sheet"], job["headerRow"], job["counts"]["created"]) == ("People", 2, 1)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email;name\nw2@x.org;Zoë\n".encode("cp1252"))
    job = cli.json("import", str(latin), "--item-type", "person", "--delimiter", ";", "--encoding", "cp1252", "--wait")
    assert (job["delimiter"], job["encoding"], job["counts"]["created"]) == (";", "cp1252", 1)
    merge = tmp_path / "ages.csv"
    merge.write_text("email,age\nw1@x.org,31\n")
    job = cli.json("import", str(merge), "--item-type", "person", "--merge", "--wait")
    assert job["merge"] is True and job["counts"]["updated"] == 1
    record = requests.get(f"{cli.stack.api}/v1/records/person/w1@x.org", timeout=10,
                          headers={"Authorization": f"Bearer {cli.key}"}).json()
    assert record["attributes"] == {"email": "w1@x.org", "name": "W1", "age": 31}


def test_mapping_from_a_file_or_by_name(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "crm.csv"
    data.write_text("Mail,Full name\nm1@x.org,M One\n")
    mapping = tmp_path / "crm.json"
    mapping.write_text(json.dumps({"Mail": "email", "Full name": "name"}))
    job = cli.json("import", str(data), "--item-type", "person", "--mapping", str(mapping), "--wait")
    assert job["counts"]["created"] == 1 and job.get("ignoredColumns", []) == []
    saved = requests.put(f"{cli.stack.api}/v1/item-types/person/mappings/crm", timeout=10,
                         headers={"Authorization": f"Bearer {cli.key}"},
                         json={"columns": {"Mail": "email", "Full name": "name"}})
    assert saved.status_code in (200, 201), saved.text
    data.write_text("Mail,Full name\nm2@x.org,M Two\n")
    job = cli.json("import", str(data), "--item-type", "person", "--mapping", "crm", "--wait")
    assert job["counts"]["created"] == 1
    assert cli.records() == ["m1@x.org", "m2@x.org"]
    _one_line_error(cli.run("import", str(data), "--item-type", "person", "--mapping", "nope"), 3,
                    "HTTP 400", "has no mapping 'nope'")


def test_errors_paged_and_as_csv_results_retry_and_jobs_filters(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("email,age\nok@x.org,1\nb1,2\nb2@x.org,-1\nb3,4\n")
    job = cli.json("import", str(data), "--item-type", "person", "--creation-path", "NIGHTLY", "--wait", code=1)
    job_id = job["jobId"]
    one = cli.json("errors", job_id, "--limit", "1")
    assert [e["row"] for e in one["items"]] == [2] and one["nextCursor"]
    assert [e["row"] for e in cli.json("errors", job_id, "--limit", "1", "--all")["items"]] == [2, 3, 4]
    text = cli.ok("errors", job_id, "--limit", "2")
    assert text.stdout.splitlines() == ["row 2 email: is not a valid email address (value 'b1')",
                                        "row 3 age: must be at least 0 (value '-1')"]
    assert f"more: sluice errors {job_id} --cursor " in text.stderr
    table = list(csv.DictReader(io.StringIO(cli.ok("errors", job_id, "--all", "--csv").stdout)))
    assert [(r["row"], r["line"], r["field"], r["value"]) for r in table] == [
        ("2", "3", "email", "b1"), ("3", "4", "age", "-1"), ("4", "5", "email", "b3")]
    failed = tmp_path / "failed.csv"
    assert cli.ok("results", job_id, "--kind", "failed", "-o", str(failed)).stdout.startswith(f"wrote {failed}")
    rows = list(csv.DictReader(failed.open()))
    assert [(r["email"], r["sluice_row"]) for r in rows] == [("b1", "2"), ("b2@x.org", "3"), ("b3", "4")]
    succeeded = cli.ok("results", job_id, "--kind", "succeeded").stdout
    assert [r["email"] for r in csv.DictReader(io.StringIO(succeeded))] == ["ok@x.org"]
    retried = cli.run("retry", job_id, "--wait", "--interval", "0.2")
    assert retried.returncode == 1 and "failed 3" in retried.stdout, retried.stdout + retried.stderr
    listed = cli.json("jobs", "--creation-path", "API:NIGHTLY")
    assert [j["jobId"] for j in listed["items"]][-1] == job_id and len(listed["items"]) == 2
    assert job_id in cli.ok("jobs", "--status", "Completed", "--item-type", "person").stdout
    assert cli.json("jobs", "--status", "Rejected")["items"] == []


def test_watch_and_cancel(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "one.csv"
    data.write_text("email\nc1@x.org\n")
    submitted = cli.ok("import", str(data), "--item-type", "person")
    job_id = submitted.stdout.split()[1]
    assert submitted.stdout.splitlines()[1] == f"follow it: sluice watch {job_id}"
    watched = cli.ok("watch", job_id, "--interval", "0.2")
    assert "rows: total 1, processed 1, created 1" in watched.stdout
    _one_line_error(cli.run("cancel", job_id), 3, "HTTP 409")
    opened = requests.post(f"{cli.stack.api}/v1/jobs", headers={"Authorization": f"Bearer {cli.key}"},
                           json={"itemType": "person", "fileName": "later.csv"}, timeout=10).json()
    canceled = cli.run("cancel", opened["jobId"], "--wait", "--interval", "0.2")
    assert canceled.returncode == 2 and "Canceled" in canceled.stdout, canceled.stdout + canceled.stderr


def test_exit_3_with_one_line_for_usage_and_connection_errors(cli: Cli, tmp_path: Path) -> None:
    _one_line_error(cli.run("job", "01J…"), 3, "'01J…' is not a job id")
    _one_line_error(cli.run("errors", "01J"), 3, "is not a job id")
    _one_line_error(cli.run("job", "01JZZZZZZZZZZZZZZZZZZZZZZZ"), 3, "HTTP 404", "not found")
    _one_line_error(cli.run("jobs", key="nope"), 3, "HTTP 401")
    _one_line_error(cli.run("jobs", url=f"http://127.0.0.1:{free_port()}"), 3, "cannot reach http://127.0.0.1:")
    _one_line_error(cli.run("jobs", key=""), 3, "set SLUICE_API_KEY")
    _one_line_error(cli.run("import", str(tmp_path / "missing.csv"), "--item-type", "person"), 3, "no such file")
    _one_line_error(cli.run("import", "x.csv"), 3, "--item-type")
    _one_line_error(cli.run("frobnicate"), 3, "invalid choice")
    _one_line_error(cli.run("results", "01JZZZZZZZZZZZZZZZZZZZZZZZ", "--kind", "nope"), 3, "invalid choice")
    data = tmp_path / "x.csv"
    data.write_text("email\na@x.org\n")
    _one_line_error(cli.run("import", str(data), "--item-type", "ghost"), 3, "HTTP 400", "unknown item type 'ghost'")


def test_item_types_keys_and_exports(cli: Cli, tmp_path: Path) -> None:
    assert [t["itemType"] for t in cli.json("item-types", "list")["items"]] == ["person"]
    assert cli.json("item-types", "get", "person")["key"] == ["email"]
    assert cli.ok("item-types", "list").stdout.startswith("person  key email  4 fields")
    scratch = tmp_path / "scratch.json"
    scratch.write_text(json.dumps({"key": ["code"], "fields": {"code": {"type": "string", "required": True}}}))
    cli.ok("item-types", "put", str(scratch))
    data = tmp_path / "scratch.csv"
    data.write_text("code\nA1\n")
    cli.ok("import", str(data), "--item-type", "scratch", "--wait")
    _one_line_error(cli.run("item-types", "delete", "scratch"), 3, "HTTP 409", "?purge=true")
    empty = tmp_path / "empty.json"
    empty.write_text(scratch.read_text())
    cli.ok("item-types", "put", str(empty))
    assert cli.ok("item-types", "delete", "empty").stdout.strip() == "item type empty deleted"
    _one_line_error(cli.run("item-types", "get", "empty"), 3, "HTTP 404")
    _one_line_error(cli.run("create-key", "--tenant", "t", "--table", "JobsTable", "--endpoint-url",
                            f"http://127.0.0.1:{free_port()}"), 3, "cannot write the key to table JobsTable")
    made = cli.json("keys", "create", "--name", "reader", "--permissions", "imports:read")
    assert made["key"] and made["permissions"] == ["imports:read"]
    listed = cli.json("keys", "list")["items"]
    assert made["keyId"] in [k["keyId"] for k in listed]
    assert cli.run("jobs", key=made["key"]).returncode == 0
    _one_line_error(cli.run("keys", "list", key=made["key"]), 3, "HTTP 403")
    assert cli.ok("keys", "revoke", made["keyId"]).stdout.strip() == f"key {made['keyId']} revoked"
    _one_line_error(cli.run("jobs", key=made["key"]), 3, "HTTP 401")

    requests.put(f"{cli.stack.api}/v1/item-types/person", json=SCHEMA, timeout=10,
                 headers={"Authorization": f"Bearer {cli.key}"})
    data = tmp_path / "people.csv"
    data.write_text("email,name,age\ne1@x.org,E1,40\ne2@x.org,E2,41\ne3@x.org,E3,40\n")
    cli.ok("import", str(data), "--item-type", "person", "--wait")
    out = tmp_path / "forty.csv"
    run = cli.ok("exports", "create", "--item-type", "person", "--filter", "age=40", "--wait", "--interval", "0.2",
                 "-o", str(out))
    export_id = run.stdout.split()[0]
    assert run.stdout.splitlines()[1] == f"wrote {out} ({out.stat().st_size} bytes)"
    assert sorted(r["email"] for r in csv.DictReader(out.open())) == ["e1@x.org", "e3@x.org"]
    assert cli.json("exports", "get", export_id)["recordsProcessed"] == 2
    again = cli.ok("exports", "download", export_id).stdout
    assert again == out.read_text()
    assert export_id in [e["exportId"] for e in cli.json("exports", "list")["items"]]
    jsonl = cli.ok("exports", "create", "--item-type", "person", "--format", "jsonl", "--sql",
                   "SELECT email FROM records ORDER BY email", "--wait", "-o", "-").stdout
    assert [json.loads(line)["email"] for line in jsonl.splitlines()] == ["e1@x.org", "e2@x.org", "e3@x.org"]


def test_help_examples_and_shell_completion(cli: Cli) -> None:
    top = cli.ok("--help").stdout
    assert "examples:" in top and "exit codes: 0 all rows applied, 1 some rows failed" in top
    assert "example:\n  sluice import people.csv" in cli.ok("import", "--help").stdout
    script = cli.ok("completion", "bash").stdout

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _sluice_complete; "
                 'printf "%s\\n" "${COMPREPLY[@]}"')
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return sorted(done.stdout.split())

    assert complete("sluice", "ite") == ["item-types"]
    assert complete("sluice", "item-types", "") == ["delete", "get", "list", "put"]
    assert complete("sluice", "results", "01J", "--kind", "") == ["failed", "succeeded", "unprocessed"]
    assert "--dry-run" in complete("sluice", "import", "--d")
    assert cli.ok("completion", "zsh").stdout.startswith("autoload -U +X bashcompinit")
