"""`make bench` (second part): synchronous attribute updates, 1,000 values a request, against moto."""

from __future__ import annotations

import io
import json
import os
import threading
import time

os.environ.update({
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
})
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws

from bench.data import SCHEMA


def main(records: int = 10_000, requests: int = 5) -> None:
    import boto3

    from sluice.auth import KeyStore
    from sluice.aws import get_clients, reset_clients
    from sluice_local.gateway import Gateway
    from sluice_local.provision import provision
    from sluice_local.runtime import Functions, Poller
    from sluice_local.template import Template

    with mock_aws():
        template = Template(parameters={"RowsPerChunk": "5000"})
        os.environ.update(provision(template, boto3.session.Session(region_name="us-east-1")))
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        reset_clients()
        clients = get_clients()
        functions = Functions(template, {name: 1 for name in template.functions()})
        gateway = Gateway(template, functions)
        sqs = boto3.session.Session(region_name="us-east-1").client("sqs")
        pollers = [Poller(s, template, functions, sqs, threading.Event()) for s in template.sqs_sources()]
        key = KeyStore(clients).create("bench", "bench", ["*"])["key"]
        auth = [("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")]
        gateway.handle("PUT", "/v1/item-types/contact", auth, json.dumps(SCHEMA).encode())
        rows = "email,name,age\n" + "".join(f"u{i}@example.org,U{i},{i % 100}\n" for i in range(records))

        import requests as http

        prepared = http.Request("POST", "http://x/", files={"file": ("r.csv", io.BytesIO(rows.encode()))},
                                data={"itemType": "contact"}).prepare()
        gateway.handle("POST", "/v1/jobs", [auth[0], ("Content-Type", prepared.headers["Content-Type"])],
                       prepared.body)  # type: ignore[arg-type]
        while sum(p.poll_once(0) for p in pollers):
            pass
        elapsed = []
        for r in range(requests):
            body = [{"itemType": "contact", "key": f"u{(r * 250 + i) % records}@example.org", "values": [
                {"attribute": "age", "value": (i + r) % 100}, {"attribute": "tier", "value": "gold"},
                {"attribute": "name", "value": f"N{i}"}, {"attribute": "active", "value": True}]}
                for i in range(250)]
            started = time.perf_counter()
            status, _, reply = gateway.handle("POST", "/v1/attribute-updates", auth, json.dumps(body).encode())
            elapsed.append(time.perf_counter() - started)
            result = json.loads(reply)
            assert status == 200 and result["successCount"] == 1000, result
        best, worst = min(elapsed), max(elapsed)
        print(f"attribute updates: 1,000 values over 250 records a request; {requests} requests; "
              f"{1000 / (sum(elapsed) / len(elapsed)):,.0f} values/s on average, "
              f"{best * 1000:.0f}-{worst * 1000:.0f} ms a request (API Gateway limit: 30,000 ms)")


if __name__ == "__main__":
    main()
