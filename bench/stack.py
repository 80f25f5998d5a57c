"""The stack the benchmarks drive: the template's resources in moto (in-process), the real handlers, the
gateway and pollers of the local stack, one tenant with a key and the benchmark's item type."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

os.environ.update({
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
})
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws

from bench.data import SCHEMA


@dataclass
class BenchStack:
    clients: Any
    gateway: Any
    pollers: list[Any]
    auth: list[tuple[str, str]]

    def drain(self) -> None:
        """Deliver every queued message until the queues are empty."""
        while sum(p.poll_once(0) for p in self.pollers):
            pass

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        status, _, reply = self.gateway.handle(method, path, self.auth, data)
        return status, json.loads(reply) if reply else None


@contextmanager
def bench_stack(rows_per_chunk: int = 5000) -> Iterator[BenchStack]:
    import boto3

    from sluice.store.clients import get_clients, reset_clients
    from sluice.store.keys import KeyStore
    from sluice_local.gateway import Gateway
    from sluice_local.provision import provision
    from sluice_local.runtime import Functions, Poller
    from sluice_local.template import Template

    with mock_aws():
        template = Template(parameters={"RowsPerChunk": str(rows_per_chunk)})
        environment = provision(template, boto3.session.Session(region_name="us-east-1"))
        environment.pop("POWERTOOLS_LOG_LEVEL", None)
        os.environ.update(environment)
        reset_clients()
        clients = get_clients()
        functions = Functions(template, {name: 1 for name in template.functions()})
        sqs = boto3.session.Session(region_name="us-east-1").client("sqs")
        pollers = [Poller(s, template, functions, sqs, threading.Event()) for s in template.sqs_sources()]
        key = KeyStore(clients).create("bench", "bench", ["*"])["key"]
        stack = BenchStack(clients, Gateway(template, functions), pollers,
                           [("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")])
        stack.call("PUT", "/v1/item-types/contact", SCHEMA)
        stack.drain()  # the S3 test event
        yield stack
