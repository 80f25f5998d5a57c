"""End to end over real HTTP: the local stack from `make run`, the `sluice` command, presigned uploads."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tests.e2e.conftest import Stack
from tests.harness import CONTACT_SCHEMA


def _define(stack: Stack, key: str = "acme-key") -> None:
    reply = requests.put(f"{stack.api}/v1/item-types/contact", json=CONTACT_SCHEMA, headers=stack.headers(key))
    assert reply.status_code in (200, 201), reply.text


def test_multipart_import_runs_to_completion(stack: Stack) -> None:
    _define(stack)
    rows = "".join(f"p{i}@x.org,P{i},{i % 90}\n" for i in range(2500)) + "bad,Bad,1\n"
    reply = requests.post(f"{stack.api}/v1/jobs", headers=stack.headers(),
                          files={"file": ("people.csv", io.BytesIO(("email,name,age\n" + rows).encode()))},
                          data={"itemType": "contact", "creationPath": "E2E"})
    assert reply.status_code == 202, reply.text
    assert reply.headers["Location"] == f"/v1/jobs/{reply.json()['jobId']}"
    job = stack.wait_job(reply.json()["jobId"])
    assert job["status"] == "Completed"
    assert job["counts"] == {"total": 2501, "processed": 2501, "created": 2500, "updated": 0, "unchanged": 0,
                             "deleted": 0, "failed": 1, "unprocessed": 0}
    assert job["errors"] == [{"row": 2501, "line": 2502, "field": "email", "value": "bad",
                              "message": "is not a valid email address"}]
    record = requests.get(f"{stack.api}/v1/records/contact/p7@x.org", headers=stack.headers()).json()
    assert record["attributes"] == {"email": "p7@x.org", "name": "P7", "age": 7}
    link = requests.get(f"{stack.api}/v1/jobs/{job['jobId']}/results/failed", headers=stack.headers()).json()
    failed_csv = requests.get(link["url"], timeout=10).text
    assert failed_csv.splitlines()[1] == "bad,Bad,1,2501,failed,email: is not a valid email address"
    listed = requests.get(f"{stack.api}/v1/jobs?creationPath=API:E2E", headers=stack.headers()).json()
    assert [j["jobId"] for j in listed["items"]] == [job["jobId"]]
    assert requests.get(f"{stack.api}/v1/jobs/{job['jobId']}", headers=stack.headers("globex-key")).status_code == 404


def test_jsonl_body_and_auth_errors(stack: Stack) -> None:
    _define(stack)
    body = b'{"email": "j1@x.org", "tier": "GOLD"}\n{"email": "j2@x.org", "age": "old"}\n'
    reply = requests.post(f"{stack.api}/v1/jobs?itemType=contact&merge=true", data=body,
                          headers={**stack.headers(), "Content-Type": "application/x-ndjson"})
    job = stack.wait_job(reply.json()["jobId"])
    assert (job["counts"]["created"], job["counts"]["failed"]) == (1, 1)
    record = requests.get(f"{stack.api}/v1/records/contact/j1@x.org", headers=stack.headers()).json()
    assert record["attributes"]["tier"] == "gold"
    assert requests.get(f"{stack.api}/v1/jobs").status_code == 401
    unknown = requests.get(f"{stack.api}/v1/jobs", headers=stack.headers("wrong"))
    assert unknown.json()["error"]["code"] == "unauthorized"
    wrong = requests.post(f"{stack.api}/v1/jobs?itemType=contact", data=b"a,b", headers={
        **stack.headers(), "Content-Type": "text/csv"})
    assert wrong.status_code == 415


def test_upload_url_form_over_the_emulator(stack: Stack) -> None:
    _define(stack)
    job = requests.post(f"{stack.api}/v1/jobs", json={"itemType": "contact", "fileName": "up.csv"},
                        headers=stack.headers()).json()
    assert job["status"] == "Initialized" and job["uploadUrl"].startswith(stack.aws)
    assert requests.put(job["uploadUrl"], data=b"email,name\nup@x.org,Up\n", timeout=10).status_code == 200
    done = stack.wait_job(job["jobId"])
    assert done["status"] == "Completed" and done["counts"]["created"] == 1


def test_local_invoke_endpoint(stack: Stack) -> None:
    event = json.loads((Path(__file__).parents[2] / "events" / "authorizer.json").read_text())
    event["headers"]["authorization"] = "Bearer acme-key"
    result = requests.post(f"{stack.api}/_local/invoke/AuthorizerFunction", json=event).json()
    assert result["isAuthorized"] is True and result["context"]["tenant"] == "acme"
    assert requests.post(f"{stack.api}/_local/invoke/Nope", json={}).status_code == 404


def test_sluice_command_imports_with_progress_and_summary(stack: Stack, tmp_path: Path) -> None:
    _define(stack)
    data = tmp_path / "cli.csv"
    data.write_text("email,age\ncli1@x.org,3\ncli2@x.org,-3\n")
    env = {**os.environ, "SLUICE_URL": stack.api, "SLUICE_API_KEY": "acme-key"}
    run = subprocess.run([sys.executable, "-m", "sluice_cli.main", "import", str(data), "--item-type", "contact",
                          "--wait", "--interval", "0.2"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stderr  # a row failed
    assert "100% 2/2 rows  Completed" in run.stderr
    assert "rows: total 2, processed 2, created 1, updated 0, unchanged 0, failed 1" in run.stdout
    assert "row 2 age: must be at least 0 (value '-3')" in run.stdout
    listed = subprocess.run([sys.executable, "-m", "sluice_cli.main", "jobs", "--limit", "1"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert "Completed" in listed.stdout and "cli.csv" in listed.stdout
    bad = subprocess.run([sys.executable, "-m", "sluice_cli.main", "jobs"], env={**env, "SLUICE_API_KEY": "nope"},
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 3 and "HTTP 401" in bad.stderr


def test_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    from sluice_local.spawn import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"SLUICE_API_PORT": str(free_port()), "SLUICE_AWS_PORT": str(free_port())})
    process = subprocess.Popen([sys.executable, "-m", "sluice_local.server"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Ctrl-C"):
            break
    assert any(line.startswith("API key for tenant 'demo': sk_") for line in lines), lines
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def test_staged_job_dry_run_then_commit_over_http(stack: Stack) -> None:
    _define(stack)
    control: dict[str, Any] = {"files": {"people.csv": {"itemType": "contact", "columns": {"Mail": "email"}}}}
    digest = requests.post(f"{stack.api}/v1/controls", json=control, headers=stack.headers()).json()["digest"]
    job = requests.post(f"{stack.api}/v1/jobs", json={"control": digest, "comment": "e2e"},
                        headers=stack.headers()).json()
    assert job["status"] == "Initialized"
    link = requests.post(f"{stack.api}/v1/jobs/{job['jobId']}/files", json={"name": "people.csv"},
                         headers=stack.headers()).json()
    assert requests.put(link["uploadUrl"], data=b"Mail,name\nst1@x.org,S1\nst2@x.org,S2\n", timeout=10).ok
    scheduled = requests.post(f"{stack.api}/v1/jobs/{job['jobId']}/schedule", json={"mode": "dry-run"},
                              headers=stack.headers())
    assert scheduled.status_code == 202
    dry = stack.wait_job(job["jobId"])
    assert dry["counts"]["created"] == 2 and dry["files"][0]["counts"]["created"] == 2
    assert requests.get(f"{stack.api}/v1/records/contact/st1@x.org", headers=stack.headers()).status_code == 404
    commit = requests.post(f"{stack.api}/v1/jobs/{job['jobId']}/commit", headers=stack.headers()).json()
    done = stack.wait_job(commit["jobId"])
    assert done["counts"]["created"] == 2
    record = requests.get(f"{stack.api}/v1/records/contact/st1@x.org", headers=stack.headers()).json()
    assert record["attributes"] == {"email": "st1@x.org", "name": "S1"}


def test_drop_folder_through_the_emulators_s3(stack: Stack) -> None:
    import time

    import boto3

    _define(stack)
    s3 = boto3.client("s3", endpoint_url=stack.aws, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    s3.put_object(Bucket=bucket, Key="inbox/acme/contact/dropped.csv.options.json", Body=b'{"jobName": "Dropped"}')
    s3.put_object(Bucket=bucket, Key="inbox/acme/contact/dropped.csv", Body=b"email\ndrop1@x.org\ndrop2@x.org\n")
    deadline = time.time() + 30
    jobs: list = []
    while time.time() < deadline:
        jobs = requests.get(f"{stack.api}/v1/jobs?creationPath=S3_DROP", headers=stack.headers()).json()["items"]
        if jobs and jobs[0]["finished"]:
            break
        time.sleep(0.2)
    assert [(j["jobName"], j["status"], j["counts"]["created"]) for j in jobs] == [("Dropped", "Completed", 2)]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="inbox/")


def test_the_sweeper_runs_by_local_invoke(stack: Stack) -> None:
    result = requests.post(f"{stack.api}/_local/invoke/SweeperFunction", json={}).json()
    assert isinstance(result["report"], dict)


def test_export_over_http_follows_its_signed_link(stack: Stack) -> None:
    import time

    _define(stack)
    rows = b"email,name,tier\nex1@x.org,=cmd|' /C calc'!A0,gold\nex2@x.org,Two,silver\n"
    job = requests.post(f"{stack.api}/v1/jobs", headers=stack.headers(),
                        files={"file": ("ex.csv", io.BytesIO(rows))}, data={"itemType": "contact"}).json()
    stack.wait_job(job["jobId"])
    reply = requests.post(f"{stack.api}/v1/exports", headers=stack.headers(),
                          json={"itemType": "contact", "filters": {"tier": "gold", "key": ["ex1@x.org", "ex2@x.org"]},
                                "template": ["email", "name"]})
    assert reply.status_code == 202
    deadline = time.time() + 30
    export = reply.json()
    while not export["finished"] and time.time() < deadline:
        time.sleep(0.2)
        export = requests.get(f"{stack.api}/v1/exports/{export['exportId']}", headers=stack.headers()).json()
    assert export["status"] == "Completed" and export["recordsProcessed"] == 1
    link = export["links"]["download"][0]
    assert link.startswith(f"{stack.api}/v1/export-links/")
    downloaded = requests.get(link, timeout=10)  # no API key: the signed link is the credential
    assert downloaded.status_code == 200
    assert downloaded.text.splitlines() == ["email,name", "ex1@x.org,'=cmd|' /C calc'!A0"]
