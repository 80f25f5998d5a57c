"""`python -m bench.undo`: what keeping before-images costs an import, and what a revert costs.

Runs the same two imports with `revertible` off and on, each on a fresh emulated stack: a first import that
creates every row, then a second over the same keys with other values that updates every row (its before-images
carry the full records). Prints rows/s and AWS requests per 1,000 rows for each, then a revert of the second
import. Usage: python -m bench.undo [--rows N] [--rows-per-chunk N]."""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.data import write_csv
from bench.stack import BenchStack, bench_stack  # first: it sets the environment moto and boto3 read


class PutTimer:
    """Time and bytes spent putting before-images (a machine shared with other work makes rows/s noisy; the
    share of the run's time spent on the puts is the steadier figure)."""

    def __init__(self) -> None:
        from sluice.store.undo import UndoImages

        self.seconds = 0.0
        self.bytes = 0
        original = UndoImages.put_once

        def timed(images: Any, tenant: str, job_id: str, chunk: int, changes: Any) -> Any:
            import orjson

            started = time.perf_counter()
            try:
                return original(images, tenant, job_id, chunk, changes)
            finally:
                self.seconds += time.perf_counter() - started
                self.bytes += len(orjson.dumps(changes))

        UndoImages.put_once = timed

    def take(self) -> tuple[float, int]:
        taken = (self.seconds, self.bytes)
        self.seconds, self.bytes = 0.0, 0
        return taken


TIMER: PutTimer | None = None


def _run(stack: BenchStack, meter: Any, path: Path | None, rows: int, *, revertible: bool,
         revert_of: str | None = None) -> dict[str, Any]:
    clients = stack.clients
    meter.reset()
    if TIMER is not None:
        TIMER.take()
    started = time.perf_counter()
    if revert_of:
        status, job = stack.call("POST", f"/v1/jobs/{revert_of}/revert")
        assert status == 202, job
    else:
        assert path is not None
        status, job = stack.call("POST", "/v1/jobs", {"itemType": "contact", "fileName": path.name,
                                                      "revertible": revertible})
        assert status == 201, job
        clients.s3.upload_file(str(path), clients.settings.bucket, f"uploads/bench/{job['jobId']}/data")
    stack.drain()
    seconds = time.perf_counter() - started
    status, done = stack.call("GET", f"/v1/jobs/{job['jobId']}")
    assert done["status"] == "Completed" and done["counts"]["processed"] == rows, done
    put_seconds, put_bytes = TIMER.take() if TIMER is not None else (0.0, 0)
    return {"jobId": job["jobId"], "seconds": seconds, "requests": dict(meter.counts), "counts": done["counts"],
            "put_seconds": put_seconds, "put_bytes": put_bytes}


def _line(label: str, rows: int, result: dict[str, Any]) -> str:
    requests = result["requests"]
    total = sum(requests.values()) * 1000 / rows
    puts = requests.get("PutObject", 0) * 1000 / rows
    line = (f"{label:<34} {rows / result['seconds']:9,.0f} rows/s  {total:8.2f} requests/1,000 rows "
            f"(PutObject {puts:5.2f})")
    if result["put_bytes"]:
        line += (f"; plans/before-images {result['put_bytes'] / 1e3:,.0f} KB, "
                 f"{100 * result['put_seconds'] / result['seconds']:.1f}% of the run")
    return line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rows-per-chunk", type=int, default=1000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-undo-"))
    first, second = workdir / "first.csv", workdir / "second.csv"
    write_csv(first, args.rows, seed=7)
    write_csv(second, args.rows, seed=8)  # the same keys, other values: every row updates
    print(f"{args.rows:,} rows x 8 columns, RowsPerChunk={args.rows_per_chunk}")
    gc.freeze()
    global TIMER
    TIMER = PutTimer()
    for revertible in (False, True):
        with bench_stack(args.rows_per_chunk) as stack:
            from sluice_local.metering import RequestMeter

            meter = RequestMeter().attach(stack.clients.dynamodb, stack.clients.s3, stack.clients.sqs)
            label = "revertible" if revertible else "revertible=false"
            created = _run(stack, meter, first, args.rows, revertible=revertible)
            print(_line(f"import, creates ({label})", args.rows, created))
            updated = _run(stack, meter, second, args.rows, revertible=revertible)
            assert updated["counts"]["updated"] == args.rows, updated["counts"]
            print(_line(f"import, updates ({label})", args.rows, updated))
            if revertible:
                reverted = _run(stack, meter, None, args.rows, revertible=False, revert_of=updated["jobId"])
                assert reverted["counts"]["updated"] == args.rows, reverted["counts"]
                print(_line("revert of the updating import", args.rows, reverted))
                for op, n in sorted(reverted["requests"].items(), key=lambda kv: -kv[1]):
                    print(f"    {op:<22} {1000 * n / args.rows:8.2f}")


if __name__ == "__main__":
    main()
