"""`make bench` (second part): synchronous attribute updates, 1,000 values a request, against moto."""

from __future__ import annotations

import io
import time

import requests

from bench.stack import bench_stack


def main(records: int = 10_000, requests_made: int = 5) -> None:
    with bench_stack() as stack:
        rows = "email,name,age\n" + "".join(f"u{i}@example.org,U{i},{i % 100}\n" for i in range(records))
        prepared = requests.Request("POST", "http://x/", files={"file": ("r.csv", io.BytesIO(rows.encode()))},
                                    data={"itemType": "contact"}).prepare()
        stack.gateway.handle("POST", "/v1/jobs", [stack.auth[0], ("Content-Type", prepared.headers["Content-Type"])],
                             prepared.body)
        stack.drain()
        elapsed = []
        for r in range(requests_made):
            body = [{"itemType": "contact", "key": f"u{(r * 250 + i) % records}@example.org", "values": [
                {"attribute": "age", "value": (i + r) % 100}, {"attribute": "tier", "value": "gold"},
                {"attribute": "name", "value": f"N{i}"}, {"attribute": "active", "value": True}]}
                for i in range(250)]
            started = time.perf_counter()
            status, result = stack.call("POST", "/v1/attribute-updates", body)
            elapsed.append(time.perf_counter() - started)
            assert status == 200 and result["successCount"] == 1000, result
        print(f"attribute updates: 1,000 values over 250 records a request; {requests_made} requests; "
              f"{1000 / (sum(elapsed) / len(elapsed)):,.0f} values/s on average, "
              f"{min(elapsed) * 1000:.0f}-{max(elapsed) * 1000:.0f} ms a request (API Gateway limit: 30,000 ms)")


if __name__ == "__main__":
    main()
