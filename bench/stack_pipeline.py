"""The import pipeline as `make run` runs it, next to a bare loader on the same emulator, in one run.

The local stack is started in its own process (`sluice_local.spawn`): moto's server in processes of its own
(DynamoDB in one, S3, SQS and the rest in another, `sluice_local.emulator`), the pipeline's functions in worker
processes (SLUICE_PIPELINE_PROCESSES), as on AWS each invocation is its own sandbox. A job is submitted over HTTP,
its file PUT to the presigned URL, and the job polled until it is Completed; then the bare loader (csv.reader +
BatchWriteItem of the same rows, one client, as a user's own script would) writes the same rows into the same
emulator's records table, at DynamoDB's own endpoint as the functions do. Both pay the same emulator, over HTTP.

Usage: python -m bench.stack_pipeline [--rows N] [--rows-per-chunk N] [--processes N] [--data-dir]"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.data import HEADER, SCHEMA, write_csv
from sluice_local.spawn import spawn_stack

KEY = "bench-key"


def _bare_loader(path: Path, endpoint: str, table: str) -> float:
    from botocore.config import Config

    from sluice.store.dynamo import batch_write

    dynamodb = boto3.session.Session(region_name="us-east-1", aws_access_key_id="bench",
                                     aws_secret_access_key="bench").client(
        "dynamodb", endpoint_url=endpoint, config=Config(retries={"mode": "standard", "max_attempts": 10}))
    started = time.perf_counter()

    def items() -> Any:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for row in reader:
                yield {"pk": {"S": f"bare#{hash(row[0]) % 8}"}, "sk": {"S": row[0]},
                       "a": {"M": {name: {"S": value} for name, value in zip(HEADER, row, strict=True)}}}

    batch_write(dynamodb, table, items())
    return time.perf_counter() - started


def _records_table(endpoint: str) -> str:
    dynamodb = boto3.session.Session(region_name="us-east-1", aws_access_key_id="bench",
                                     aws_secret_access_key="bench").client("dynamodb", endpoint_url=endpoint)
    names = [n for n in dynamodb.list_tables()["TableNames"] if "record" in n.lower()]
    if len(names) != 1:
        raise RuntimeError(f"cannot tell the records table among {names}")
    return names[0]


def run(path: Path, rows: int, rows_per_chunk: int, processes: int | None, data_dir: bool) -> dict[str, Any]:
    # The pipeline's processes at the bare loader's CPU priority (the stack lowers it by 5 so that a person's
    # requests come first): on a machine shared with other work, a throughput comparison must not hand the bare
    # loader a higher priority than the pipeline it is compared with.
    environment = {"SLUICE_PARAMETERS": f"RowsPerChunk={rows_per_chunk}", "SLUICE_API_PROCESSES": "1",
                   "SLUICE_PIPELINE_NICE": "0"}
    if processes is not None:
        environment["SLUICE_PIPELINE_PROCESSES"] = str(processes)
    if not data_dir:
        environment["SLUICE_DATA_DIR"] = ""
    stack = spawn_stack(f"bench:{KEY}", environment, timeout=120)
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        reply = requests.put(f"{stack.api}/v1/item-types/contact", data=json.dumps(SCHEMA),
                             headers={**headers, "Content-Type": "application/json"}, timeout=30)
        assert reply.status_code in (200, 201), reply.text
        started = time.perf_counter()
        job = requests.post(f"{stack.api}/v1/jobs", json={"itemType": "contact", "fileName": path.name},
                            headers=headers, timeout=30).json()
        with path.open("rb") as handle:
            upload = requests.put(job["uploadUrl"], data=handle, headers={"Content-Type": "text/csv"}, timeout=600)
        assert upload.status_code == 200, upload.text
        while True:
            done = requests.get(f"{stack.api}/v1/jobs/{job['jobId']}", headers=headers, timeout=30).json()
            if done["finished"]:
                break
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
        assert done["status"] == "Completed" and done["counts"]["created"] == rows, done
        # straight to DynamoDB's emulator process, as the pipeline's functions write (never through the `aws`
        # endpoint's forwarding, which would cost the bare loader a hop the pipeline does not pay)
        bare = _bare_loader(path, stack.dynamodb, _records_table(stack.dynamodb))
        return {"seconds": elapsed, "bare_seconds": bare}
    finally:
        stack.process.terminate()
        try:
            stack.process.wait(timeout=30)
        except Exception:
            stack.process.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rows-per-chunk", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=None, help="SLUICE_PIPELINE_PROCESSES (default: the stack's)")
    parser.add_argument("--data-dir", action="store_true", help="keep the stack's data directory on (snapshots)")
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="sluice-bench-")) / "bench.csv"
    write_csv(path, args.rows)
    lanes = args.processes if args.processes is not None else "default"
    print(f"local stack: {args.rows:,} rows x {len(HEADER)} columns, {path.stat().st_size / 1e6:.1f} MB CSV; "
          f"RowsPerChunk={args.rows_per_chunk}; pipeline processes: {lanes}; cores: {os.cpu_count()}", flush=True)
    result = run(path, args.rows, args.rows_per_chunk, args.processes, args.data_dir)
    rate, bare = args.rows / result["seconds"], args.rows / result["bare_seconds"]
    print(f"end-to-end : {rate:10,.0f} rows/s  ({result['seconds']:.1f} s: submit, PUT, Completed; over HTTP)")
    print(f"bare loader: {bare:10,.0f} rows/s  ({result['bare_seconds']:.1f} s: csv.reader + BatchWriteItem, "
          f"same emulator)")
    print(f"ratio      : {rate / bare:10.2f}  (target >= 1.0)")


if __name__ == "__main__":
    main()
