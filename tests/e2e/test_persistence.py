"""The local stack keeps its state in SLUICE_DATA_DIR: a stop (SIGTERM) or a crash (SIGKILL) and a start again lose
no item type, key, job, record or file, and a job interrupted mid-import finishes with exact counts."""

from __future__ import annotations

import itertools
import json
import os
import pickle
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from sluice_local.persist import MANIFEST, read_manifest
from sluice_local.spawn import SpawnedStack, free_port, spawn_stack
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
    manifest = read_manifest(tmp_path)  # the last set names one file per emulator process, each in place
    assert manifest is not None and sorted(manifest["files"]) == ["aws", "dynamodb"], manifest
    assert all((tmp_path / entry["file"]).stat().st_size > 0 for entry in manifest["files"].values())
    assert (tmp_path / "emulator.log").stat().st_size > 0

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
    assert len(workers) >= 4, workers  # the API's and the pipeline's worker processes, the emulator's two
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


def _snapshot_sets(directory: Path, stop: threading.Event, into: Path) -> None:
    """Copies each newly committed snapshot set (manifest and files) aside, under the lock its committer takes."""
    import fcntl

    seen = 0
    while not stop.wait(0.05):
        with (directory / "snapshot.lock").open("a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            manifest = read_manifest(directory)
            if manifest is None or manifest["generation"] == seen:
                continue
            seen = manifest["generation"]
            copy = into / str(seen)
            copy.mkdir()
            for entry in manifest["files"].values():
                shutil.copy(directory / entry["file"], copy / entry["file"])
            (copy / MANIFEST).write_text(json.dumps(manifest))


def _saved(copy: Path) -> tuple[set[str], set[str]]:
    """-> the item ids in the saved table and the object keys in the saved bucket of one copied set."""
    manifest = json.loads((copy / MANIFEST).read_text())
    state: dict[str, Any] = {}
    for entry in manifest["files"].values():
        state.update(pickle.loads((copy / entry["file"]).read_bytes())["state"])
    items = {item.hash_key.value for backend in state["dynamodb"]["123456789012"].values()
             for item in backend.tables["cuts"].all_items()}
    keys = {key for backend in state["s3"]["123456789012"].values() for key in backend.buckets["cuts"].keys}
    return items, keys


def test_the_emulator_processes_snapshots_are_one_cut(tmp_path: Path) -> None:
    """DynamoDB and S3 live in two emulator processes, each writing its own snapshot file. Two writers chain
    requests across them (an item, then once it is acknowledged an object of the same name; and the other way
    round): in every committed set, an object written after an item never appears without it, nor an item written
    after an object without it. Snapshots that were not one instant across the processes break one of the two."""
    from sluice_local.emulator import EmulatorProcess, groups
    from sluice_local.persist import SnapshotCoordinator, held_directory, hold_directory

    data, copies = tmp_path / "data", tmp_path / "copies"
    data.mkdir()
    copies.mkdir()
    hold_directory(data)
    dynamodb_port = free_port()
    emulators = [EmulatorProcess(group, "127.0.0.1", 0 if group.name == "aws" else dynamodb_port, data / "log",
                                 data, None, inherit=held_directory()) for group in groups(split=True)]
    try:
        for emulator in emulators:
            emulator.wait_ready()
        aws, dynamo = (f"http://127.0.0.1:{emulator.port}" for emulator in emulators)
        session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="local",
                                        aws_secret_access_key="local")
        dynamodb, s3 = session.client("dynamodb", endpoint_url=dynamo), session.client("s3", endpoint_url=aws)
        dynamodb.create_table(TableName="cuts", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        s3.create_bucket(Bucket="cuts")
        coordinator = SnapshotCoordinator(data, emulators, interval=0.05)
        coordinator.start()
        stop = threading.Event()

        def item_then_object() -> None:
            for i in itertools.count():
                if stop.is_set():
                    return
                dynamodb.put_item(TableName="cuts", Item={"id": {"S": f"i{i}"}})
                s3.put_object(Bucket="cuts", Key=f"i{i}", Body=b"x")

        def object_then_item() -> None:
            for i in itertools.count():
                if stop.is_set():
                    return
                s3.put_object(Bucket="cuts", Key=f"o{i}", Body=b"x")
                dynamodb.put_item(TableName="cuts", Item={"id": {"S": f"o{i}"}})

        threads = [threading.Thread(target=target) for target in (item_then_object, object_then_item,
                                                                   lambda: _snapshot_sets(data, stop, copies))]
        for thread in threads:
            thread.start()
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        coordinator.stopping.set()
    finally:
        for emulator in emulators:
            emulator.close()
    sets = sorted(copies.iterdir(), key=lambda copy: int(copy.name))
    assert len(sets) >= 5, sets
    for copy in sets:
        items, keys = _saved(copy)
        assert {k for k in keys if k.startswith("i")} <= items, f"set {copy.name}: objects without their items"
        assert {k for k in items if k.startswith("o")} <= keys, f"set {copy.name}: items without their objects"
    assert len(_saved(sets[-1])[0]) > 20  # the writers got well along while the snapshots were taken
