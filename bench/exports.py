"""`make bench` (third part): export rate for 100k records (CSV, and a SQL aggregate), against moto."""

from __future__ import annotations

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


def main(records: int = 100_000) -> None:
    import boto3

    from sluice.auth import KeyStore
    from sluice.aws import get_clients, reset_clients
    from sluice.dynamo import batch_write
    from sluice.records import RecordMeta, partition, shard_of
    from sluice_local.gateway import Gateway
    from sluice_local.provision import provision
    from sluice_local.runtime import Functions, Poller
    from sluice_local.template import Template

    with mock_aws():
        template = Template()
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
        stamp = RecordMeta(1, 0, 0, "bench", 0, "created").encode()
        items = ({"pk": {"S": partition("bench", "contact", shard_of(f"u{i}@example.org", 8))},
                  "sk": {"S": f"u{i}@example.org"},
                  "a": {"M": {"email": {"S": f"u{i}@example.org"}, "name": {"S": f"User {i}"},
                              "age": {"N": str(i % 100)}, "tier": {"S": ("gold", "silver")[i % 2]},
                              "score": {"N": f"{i % 1000}.25"}, "active": {"BOOL": i % 3 == 0}}},
                  "m": {"S": stamp}} for i in range(records))
        batch_write(clients.dynamodb, clients.settings.records_table, items)  # seeded directly: not timed
        for poller in pollers:
            poller.poll_once(0)
        for label, body in (("CSV, all records", {"itemType": "contact"}),
                            ("SQL aggregate", {"itemType": "contact", "sqlQuery":
                                               "SELECT tier, count(*) n, avg(age) FROM records GROUP BY tier"})):
            started = time.perf_counter()
            _, _, reply = gateway.handle("POST", "/v1/exports", auth, json.dumps(body).encode())
            export_id = json.loads(reply)["exportId"]
            while sum(p.poll_once(0) for p in pollers):
                pass
            elapsed = time.perf_counter() - started
            _, _, done = gateway.handle("GET", f"/v1/exports/{export_id}", auth[:1], b"")
            result = json.loads(done)
            assert result["status"] == "Completed", result
            print(f"export {label}: {records:,} records read in {elapsed:.1f} s = {records / elapsed:,.0f} records/s "
                  f"({result['recordsProcessed']:,} rows written)")


if __name__ == "__main__":
    main()
