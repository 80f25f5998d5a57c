"""Runs one ingest in this process (against the moto server named by AWS_ENDPOINT_URL) and prints its
peak resident memory. Started by bench.pipeline so that the emulator's memory is not counted."""

from __future__ import annotations

import json
import os
import resource
import time


def _rss_mb() -> float:
    """Peak resident memory of this address space (VmHWM). ru_maxrss would include the parent's size,
    which Linux carries across fork and exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from sluice.pipeline.ingest import ingest_upload
    from sluice.store.clients import get_clients

    clients = get_clients()
    clients.s3.head_bucket(Bucket=clients.settings.bucket)  # clients warmed: their memory is in the baseline
    baseline = _rss_mb()
    started = time.perf_counter()
    outcome = ingest_upload(clients, os.environ["BENCH_KEY"])
    seconds = time.perf_counter() - started
    print(json.dumps({"peak_mb": _rss_mb(), "baseline_mb": baseline, "seconds": seconds, "outcome": outcome}))


if __name__ == "__main__":
    main()
