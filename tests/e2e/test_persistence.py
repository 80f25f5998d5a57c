"""The local stack keeps its state in SLUICE_DATA_DIR: a stop (SIGTERM) or a crash (SIGKILL) and a start again lose
no item type, key, job, record or file, and a job interrupted mid-import finishes with exact counts."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from sluice_local.spawn import SpawnedStack, spawn_stack
from tests.harness import CONTACT_SCHEMA

KEYS = "acme:acme-key"
AUTH = {"Authorization": "Bearer acme-key"}
ROWS = int(os.environ.get("SLUICE_PERSISTENCE_ROWS", "20000"))  # `make soak-persistence`: 100k


def _start(data: Path) -> SpawnedStack:
    return spawn_stack(KEYS, {"SLUICE_DATA_DIR": str(data), "SLUICE_SCHEDULE_SPEEDUP": "300"}, timeout=120)


def _stop(stack: SpawnedStack, how: signal.Signals) -> float:
    started = time.monotonic()
    stack.process.send_signal(how)
    try:
        stack.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        raise AssertionError(f"the stack did not stop on {how.name}:\n{stack.output()}") from None
    return time.monotonic() - started


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (the stack's worker processes)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists() and
            Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}


def _job(stack: SpawnedStack, job_id: str) -> dict[str, Any]:
    reply = requests.get(f"{stack.api}/v1/jobs/{job_id}", headers=AUTH, timeout=30)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _wait(stack: SpawnedStack, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = _job(stack, job_id)
        if job["finished"]:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish: {job}\n{stack.output()}")


def _record_keys(stack: SpawnedStack, tenant: str, item_type: str) -> list[str]:
    """Every stored record key of the item type, read from the emulator's table itself (duplicates would show)."""
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    keys: list[str] = []
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
            keys += [item["sk"]["S"] for item in page["Items"]
                     if item["pk"]["S"].startswith(f"{tenant}#{item_type}#")]
    return keys


def test_state_survives_a_sigterm_restart(tmp_path: Path) -> None:
    stack = _start(tmp_path)
    try:
        assert requests.put(f"{stack.api}/v1/item-types/contact", json=CONTACT_SCHEMA, headers=AUTH,
                            timeout=30).status_code in (200, 201)
        made = requests.post(f"{stack.api}/v1/api-keys", json={"name": "reader", "permissions": ["records:read"]},
                             headers=AUTH, timeout=30)
        assert made.status_code == 201, made.text
        reader = made.json()["key"]
        body = "email,name,age\n" + "".join(f"k{i}@x.org,K{i},{i}\n" for i in range(50)) + "bad,Bad,1\n"
        submitted = requests.post(f"{stack.api}/v1/jobs", files={"file": ("k.csv", body.encode())},
                                  data={"itemType": "contact"}, headers=AUTH, timeout=30)
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["jobId"]
        before = _wait(stack, job_id, 60)
        assert before["status"] == "Completed" and before["counts"]["created"] == 50
    finally:
        took = _stop(stack, signal.SIGTERM)
    assert took < 5, f"SIGTERM took {took:.1f} s"
    assert (tmp_path / "emulator.pickle").exists() and (tmp_path / "emulator.log").stat().st_size > 0

    again = _start(tmp_path)
    try:
        assert requests.get(f"{again.api}/v1/item-types/contact", headers=AUTH, timeout=30).json()["key"] == ["email"]
        after = _job(again, job_id)
        assert (after["status"], after["counts"], after["errors"]) == (before["status"], before["counts"],
                                                                      before["errors"])
        record = requests.get(f"{again.api}/v1/records/contact/k7@x.org", headers={"Authorization": f"Bearer {reader}"},
                              timeout=30)
        assert record.status_code == 200 and record.json()["attributes"] == {"email": "k7@x.org", "name": "K7",
                                                                             "age": 7}
        link = requests.get(f"{again.api}/v1/jobs/{job_id}/results/failed", headers=AUTH, timeout=30).json()
        assert requests.get(link["url"], timeout=30).text.splitlines()[1].startswith("bad,Bad,1,")  # the S3 file
        assert "restored" in again.output()
    finally:
        _stop(again, signal.SIGTERM)


def test_a_job_killed_mid_import_completes_after_restart_with_exact_counts(tmp_path: Path) -> None:
    bad = {i for i in range(0, ROWS, 997)}
    lines = ["email,name,age"] + [f"{'bad' if i in bad else f'r{i}@x.org'},R{i},{i % 100}" for i in range(ROWS)]
    stack = _start(tmp_path)
    try:
        assert requests.put(f"{stack.api}/v1/item-types/contact", json=CONTACT_SCHEMA, headers=AUTH,
                            timeout=30).status_code in (200, 201)
        job = requests.post(f"{stack.api}/v1/jobs", json={"itemType": "contact", "fileName": "big.csv"},
                            headers=AUTH, timeout=30).json()
        assert requests.put(job["uploadUrl"], data="\n".join(lines).encode() + b"\n", timeout=60).status_code == 200
        deadline = time.time() + 300
        while time.time() < deadline:  # until a good part of the rows is in, then a crash
            counts = _job(stack, job["jobId"])["counts"]
            if counts["processed"] >= ROWS // 5:
                break
            time.sleep(0.2)
        assert counts["processed"] < ROWS, f"the job finished before the kill: {counts}"
    finally:
        workers = _children(stack.process.pid)
        stack.process.kill()
        stack.process.wait(timeout=30)
    assert len(workers) >= 2, workers  # the API's and the pipeline's worker processes
    deadline = time.time() + 5
    while _alive(workers) and time.time() < deadline:  # orphans end themselves: none outlives the stack
        time.sleep(0.1)
    assert not _alive(workers), f"worker processes outlived the killed stack: {_alive(workers)}"

    again = _start(tmp_path)
    try:
        resumed = _job(again, job["jobId"])
        assert not resumed["finished"], resumed
        done = _wait(again, job["jobId"], 600)
        assert done["status"] == "Completed", done
        assert done["counts"] == {"total": ROWS, "processed": ROWS, "created": ROWS - len(bad), "updated": 0,
                                  "unchanged": 0, "deleted": 0, "failed": len(bad), "unprocessed": 0}, done["counts"]
        assert [e["row"] for e in done["errors"]] == sorted(i + 1 for i in bad)[:20]
        keys = _record_keys(again, "acme", "contact")
        assert len(keys) == len(set(keys)) == ROWS - len(bad)  # every record once
        assert set(keys) == {f"r{i}@x.org" for i in range(ROWS) if i not in bad}
    finally:
        _stop(again, signal.SIGTERM)
