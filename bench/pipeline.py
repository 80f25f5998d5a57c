"""`make bench`: the whole import pipeline against moto, next to a bare loader, in one run.

Prints end-to-end rows/s, the bare loader's rows/s and the ratio, AWS requests per 1,000 rows by
operation, ingest peak memory (its own process, against a moto server) for two sizes, and a modelled
on-demand AWS cost per 1M rows. Usage: python -m bench.pipeline [--rows N] [--memory-rows A,B]."""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.data import HEADER, SCHEMA, write_csv, write_xlsx
from bench.stack import bench_stack  # first: it sets the environment moto and boto3 read

# Published on-demand prices, us-east-1 (checked 2026-11): DynamoDB $0.625 per million write request
# units and $0.125 per million read request units; SQS standard $0.40 per million requests (64 KB each);
# S3 PUT $0.005 and GET $0.0004 per 1,000; Lambda arm64 $0.0000133334 per GB-s and $0.20 per million
# invocations.
PRICE = {"wru": 0.625e-6, "rru": 0.125e-6, "sqs": 0.40e-6, "s3_put": 0.005e-3, "s3_get": 0.0004e-3,
         "gb_s": 0.0000133334, "invoke": 0.20e-6}


def bare_loader(path: Path, table: str, dynamodb: Any) -> float:
    """csv parse + BatchWriteItem of the same rows into the same emulator: the floor to compare with."""
    from sluice.store.dynamo import batch_write

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


def pipeline(path: Path, rows: int, rows_per_chunk: int, with_bare_loader: bool = True) -> dict[str, Any]:

    from sluice_local.metering import RequestMeter

    with bench_stack(rows_per_chunk) as stack:
        clients, gateway, pollers, auth = stack.clients, stack.gateway, stack.pollers, stack.auth
        meter = RequestMeter().attach(clients.dynamodb, clients.s3, clients.sqs)
        started = time.perf_counter()
        status, _, body = gateway.handle("POST", "/v1/jobs", auth,
                                         json.dumps({"itemType": "contact", "fileName": path.name}).encode())
        job = json.loads(body)
        assert status == 201, body
        clients.s3.upload_file(str(path), clients.settings.bucket, f"uploads/bench/{job['jobId']}/data")
        gc.freeze()
        stack.drain()
        elapsed = time.perf_counter() - started
        failures = sum(p.errors for p in pollers)
        assert failures == 0, f"{failures} handler invocations failed"
        status, _, body = gateway.handle("GET", f"/v1/jobs/{job['jobId']}", auth[:1], b"")
        done = json.loads(body)
        assert done["status"] == "Completed" and done["counts"]["created"] == rows, done["counts"]

        requests = dict(meter.counts)
        if not with_bare_loader:
            return {"seconds": elapsed, "requests": requests}
        bare_seconds = bare_loader(path, clients.settings.records_table, clients.dynamodb)
        return {"seconds": elapsed, "bare_seconds": bare_seconds, "requests": requests}


def ingest_memory(path: Path) -> dict[str, Any]:
    """Peak RSS of ingest alone: it runs in its own process against a moto server in this one."""
    import boto3
    from moto.server import ThreadedMotoServer

    from sluice_local.provision import provision
    from sluice_local.spawn import free_port
    from sluice_local.template import Template

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        session = boto3.session.Session(region_name="us-east-1")
        template = Template()
        environment = provision(template, session)
        os.environ.update(environment)
        from sluice.intake.submit import submit_for_upload
        from sluice.models.job import JobOptions
        from sluice.models.principal import Principal
        from sluice.models.schemas import ItemTypeDefinition
        from sluice.store.clients import get_clients, reset_clients
        from sluice.store.itemtypes import ItemTypeStore

        reset_clients()
        clients = get_clients()
        ItemTypeStore(clients).put("bench", "contact", ItemTypeDefinition.model_validate(SCHEMA))
        job = submit_for_upload(clients, Principal("bench", "k", frozenset({"*"})),
                                JobOptions(itemType="contact", fileName=path.name))
        key = f"uploads/bench/{job.jobId}/data"
        clients.s3.upload_file(str(path), clients.settings.bucket, key)
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "BENCH_KEY": key}
        probe_run = subprocess.run([sys.executable, "-m", "bench.ingest_probe"], env=env, capture_output=True,
                                   text=True, timeout=3600)
        if probe_run.returncode != 0:
            raise RuntimeError(probe_run.stderr[-3000:])
        return dict(json.loads(probe_run.stdout.strip().splitlines()[-1]))
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.stop()


def xlsx_benchmark(rows: int, rows_per_chunk: int, workdir: Path, measure_memory: bool) -> None:
    """A workbook through the whole pipeline, next to a bare calamine read of the same file."""
    import python_calamine

    path = workdir / "bench.xlsx"
    write_xlsx(path, rows)
    started = time.perf_counter()
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    read = sum(1 for _ in book.get_sheet_by_index(0).iter_rows()) - 1
    bare = time.perf_counter() - started
    assert read == rows
    result = pipeline(path, rows, rows_per_chunk, with_bare_loader=False)
    print(f"xlsx {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB): end-to-end {rows / result['seconds']:,.0f} "
          f"rows/s; bare calamine read {rows / bare:,.0f} rows/s ({bare:.1f} s)")
    if measure_memory:
        probe = ingest_memory(path)
        print(f"xlsx ingest peak RSS, {rows:,} rows: {probe['peak_mb']:.1f} MB (after imports "
              f"{probe['baseline_mb']:.1f} MB; {probe['seconds']:.1f} s)")


def cost_per_million(requests_per_row: dict[str, float], rows_per_chunk: int) -> dict[str, float]:
    """On-demand cost of 1M rows from the measured request counts (see PRICE for the prices used)."""
    million = 1_000_000
    per = {op: n * million for op, n in requests_per_row.items()}
    record_writes = million  # one WRU per record written (items under 1 KB); ledger and job updates below
    dynamo_writes = record_writes + per.get("UpdateItem", 0) + per.get("PutItem", 0) + \
        (per.get("BatchWriteItem", 0) - million / 25)  # ledger items (one per chunk)
    # a strongly consistent read of an item up to 4 KB is 1 read request unit on demand
    dynamo_reads = million + per.get("GetItem", 0) + per.get("Query", 0)
    chunk_kb = rows_per_chunk * 0.12
    sqs_requests = (per.get("SendMessageBatch", 0) * 10 + million / rows_per_chunk) * max(1, chunk_kb / 64) * 2
    s3_puts = per.get("PutObject", 0) + per.get("CreateMultipartUpload", 0) + per.get("UploadPart", 0)
    s3_gets = per.get("GetObject", 0) + per.get("HeadObject", 0)
    # Lambda: worker ~1 s per 1,000 rows at 1,024 MB (10 BatchGetItem + 40 BatchWriteItem at ~15 ms each on
    # DynamoDB), ingest ~25 s per 1M rows at 1,769 MB: stated assumptions, not measurements.
    lambda_gb_s = (million / 1000) * 1.0 * 1.0 + 25 * 1.769
    costs = {
        "DynamoDB writes": dynamo_writes * PRICE["wru"],
        "DynamoDB reads": dynamo_reads * PRICE["rru"],
        "SQS": sqs_requests * PRICE["sqs"],
        "S3": s3_puts * PRICE["s3_put"] + s3_gets * PRICE["s3_get"],
        "Lambda": lambda_gb_s * PRICE["gb_s"] + (million / rows_per_chunk + 10) * PRICE["invoke"],
    }
    costs["total"] = sum(costs.values())
    return costs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rows-per-chunk", type=int, default=5000)
    parser.add_argument("--memory-rows", default="100000,1000000")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--xlsx-rows", type=int, default=100_000, help="0 skips the workbook benchmark")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    path = workdir / "bench.csv"
    write_csv(path, args.rows)
    size_mb = path.stat().st_size / 1e6
    print(f"input: {args.rows:,} rows x {len(HEADER)} columns, {size_mb:.1f} MB CSV; "
          f"RowsPerChunk={args.rows_per_chunk}")
    result = pipeline(path, args.rows, args.rows_per_chunk)
    rate, bare = args.rows / result["seconds"], args.rows / result["bare_seconds"]
    print(f"end-to-end : {rate:10,.0f} rows/s  ({result['seconds']:.1f} s, submit -> Completed)")
    print(f"bare loader: {bare:10,.0f} rows/s  ({result['bare_seconds']:.1f} s, csv.reader + BatchWriteItem)")
    print(f"ratio      : {rate / bare:10.2f}  (target >= 0.5)")
    print("AWS requests per 1,000 rows, by operation:")
    per_row = {op: n / args.rows for op, n in result["requests"].items()}
    for op, n in sorted(result["requests"].items(), key=lambda kv: -kv[1]):
        print(f"  {op:<22} {1000 * n / args.rows:8.2f}")
    record_io = result["requests"].get("BatchGetItem", 0) + args.rows / 25
    other = (sum(result["requests"].values()) - record_io) * 1000 / args.rows
    print(f"  {'(not record I/O)':<22} {other:8.2f}  (target <= 10)")
    if not args.skip_memory:
        sizes = [int(s) for s in args.memory_rows.split(",")]
        peaks = {}
        for rows in sizes:
            sample = workdir / f"mem-{rows}.csv"
            write_csv(sample, rows)
            probe = ingest_memory(sample)
            peaks[rows] = probe
            print(f"ingest peak RSS, {rows:>9,} rows: {probe['peak_mb']:.1f} MB "
                  f"(after imports {probe['baseline_mb']:.1f} MB; {probe['seconds']:.1f} s against moto server)")
        if len(sizes) == 2:
            small, large = (peaks[s]["peak_mb"] for s in sizes)
            print(f"ingest peak growth {sizes[0]:,} -> {sizes[1]:,} rows: {100 * (large - small) / small:+.1f}% "
                  f"(target within 20%)")
    if args.xlsx_rows:
        xlsx_benchmark(args.xlsx_rows, args.rows_per_chunk, workdir, measure_memory=not args.skip_memory)
    print("modelled on-demand AWS cost per 1M rows (us-east-1):")
    for item, dollars in cost_per_million(per_row, args.rows_per_chunk).items():
        print(f"  {item:<16} ${dollars:8.4f}")


if __name__ == "__main__":
    main()
