"""A test double of the deployed stack: the template's resources in moto, the real handlers, the real
gateway; queues pumped by hand so tests decide when (and how often) each message is delivered."""

from __future__ import annotations

import io
import json
import random
import threading
import uuid
from typing import Any

import pytest
import requests

from sluice.store.clients import get_clients, reset_clients, shared_session
from sluice.store.keys import KeyStore
from sluice_local.gateway import Gateway
from sluice_local.provision import provision
from sluice_local.runtime import Functions, Poller, sqs_event
from sluice_local.template import Template

CONTACT_SCHEMA: dict[str, Any] = {
    "key": ["email"],
    "fields": {
        "email": {"type": "email", "required": True},
        "name": {"type": "string", "maxLength": 200},
        "age": {"type": "integer", "min": 0, "max": 150},
        "joined": {"type": "date"},
        "tier": {"type": "enum", "values": ["gold", "silver"]},
        "score": {"type": "decimal"},
        "active": {"type": "boolean"},
    },
    "columns": {"E-mail": "email"},
}


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.content = body

    def json(self) -> Any:
        return json.loads(self.content)


class Harness:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, rows_per_chunk: int = 3, key_rate_limit: int = 0,
                 quick_job_bytes: int = 0, ingest_slice_bytes: int | None = None,
                 result_step_chunks: int | None = None) -> None:
        self.session = shared_session()
        # Tests fire requests far faster than any client should; the rate limit has its own tests.
        parameters = {"RowsPerChunk": str(rows_per_chunk), "KeyRateLimit": str(key_rate_limit)}
        if ingest_slice_bytes is not None:
            parameters["IngestSliceBytes"] = str(ingest_slice_bytes)
        if result_step_chunks is not None:
            parameters["ResultStepChunks"] = str(result_step_chunks)
        self.template = Template(parameters=parameters)
        environment = provision(self.template, self.session)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ROWS_PER_CHUNK", str(rows_per_chunk))
        # Tests deliver ChunkQueue by hand; the small jobs' lane is off unless a test is about it.
        monkeypatch.setenv("QUICK_JOB_BYTES", str(quick_job_bytes))
        reset_clients()
        self.clients = get_clients()
        self.functions = Functions(self.template, {name: 1 for name in self.template.functions()})
        self.gateway = Gateway(self.template, self.functions)
        self.sqs = self.session.client("sqs")
        self.s3 = self.session.client("s3")
        self.dynamodb = self.session.client("dynamodb")
        stop = threading.Event()
        self.pollers = {s.queue: Poller(s, self.template, self.functions, self.sqs, stop)
                        for s in self.template.sqs_sources()}
        self.keys: dict[str, str] = {}
        self.sent_chunks: dict[tuple[str, int], Any] = {}

    # --- identities ---------------------------------------------------------------------------

    def key(self, tenant: str = "acme", permissions: tuple[str, ...] = ("*",)) -> str:
        label = f"{tenant}:{','.join(permissions)}"
        if label not in self.keys:
            self.keys[label] = KeyStore(self.clients).create(tenant, label, list(permissions))["key"]
        return self.keys[label]

    # --- HTTP through the gateway (authorizer + api function) ---------------------------------

    def call(self, method: str, path: str, *, key: str | None = None, tenant: str = "acme",
             json_body: Any = None, body: bytes | None = None, content_type: str | None = None,
             files: dict[str, Any] | None = None, data: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> Reply:
        all_headers = dict(headers or {})
        if key is None:
            key = self.key(tenant)
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        if files is not None:
            prepared = requests.Request("POST", "http://x/", files=files, data=data).prepare()
            body = prepared.body if isinstance(prepared.body, bytes) else str(prepared.body).encode()
            content_type = str(prepared.headers["Content-Type"])
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = content_type or "application/json"
        if content_type:
            all_headers["Content-Type"] = content_type
        status, reply_headers, content = self.gateway.handle(method, path, list(all_headers.items()), body or b"")
        return Reply(status, reply_headers, content)

    def define(self, item_type: str = "contact", schema: dict[str, Any] | None = None, tenant: str = "acme") -> None:
        reply = self.call("PUT", f"/v1/item-types/{item_type}", json_body=schema or CONTACT_SCHEMA, tenant=tenant)
        assert reply.status_code in (200, 201), reply.content

    def submit_csv(self, text: str, item_type: str = "contact", tenant: str = "acme", **options: str) -> dict[str, Any]:
        reply = self.call("POST", "/v1/jobs", tenant=tenant,
                          files={"file": ("data.csv", io.BytesIO(text.encode()), "text/csv")},
                          data={"itemType": item_type, **options})
        assert reply.status_code == 202, reply.content
        return reply.json()

    def job(self, job_id: str, tenant: str = "acme") -> dict[str, Any]:
        reply = self.call("GET", f"/v1/jobs/{job_id}", tenant=tenant)
        assert reply.status_code == 200, reply.content
        return reply.json()

    # --- queues ------------------------------------------------------------------------------

    def queue_url(self, logical_id: str) -> str:
        return self.template.physical[logical_id]["Ref"]

    def receive(self, logical_id: str, max_messages: int = 10, hide_seconds: int | None = None
                ) -> list[dict[str, Any]]:
        extra = {} if hide_seconds is None else {"VisibilityTimeout": hide_seconds}
        response = self.sqs.receive_message(QueueUrl=self.queue_url(logical_id), MaxNumberOfMessages=max_messages,
                                            WaitTimeSeconds=0, AttributeNames=["All"], **extra)
        return response.get("Messages", [])

    def pump(self, rounds: int = 1000) -> int:
        """Deliver every queued message (ingest, then chunks) until the queues are empty."""
        return self._until_drained(lambda: sum(p.poll_once(0) for p in self.pollers.values()), rounds)

    @staticmethod
    def _until_drained(one_round: Any, rounds: int) -> int:
        """Runs delivery rounds until one moves nothing; returns the messages moved."""
        delivered = 0
        for _ in range(rounds):
            moved = one_round()
            delivered += moved
            if moved == 0:
                return delivered
        raise AssertionError("queues did not drain")

    def discard(self, logical_id: str) -> int:
        """Lose every message now on a queue (delete without delivering)."""
        lost = 0
        while True:
            messages = self.receive(logical_id)
            if not messages:
                return lost
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.queue_url(logical_id), ReceiptHandle=message["ReceiptHandle"])
            lost += len(messages)

    def drain(self, logical_id: str) -> None:
        while self.pollers[logical_id].poll_once(0):
            pass

    def retry_at_once(self) -> None:
        """Failed messages come back on the next receive (visibility timeout 0), as after a Lambda crash."""
        for source in self.template.sqs_sources():
            self.sqs.set_queue_attributes(QueueUrl=self.queue_url(source.queue), Attributes={"VisibilityTimeout": "0"})

    def pump_twice(self, rounds: int = 1000) -> int:
        """Deliver every message twice in a row before deleting it: at-least-once at its worst."""

        def one_round() -> int:
            moved = 0
            for source in self.template.sqs_sources():
                messages = self.receive(source.queue, source.batch_size)
                if not messages:
                    continue
                event = sqs_event(messages, self.template.physical[source.queue]["Arn"])
                for _ in range(2):
                    result = self.invoke(source.function, event)
                    assert not result.get("batchItemFailures"), result
                for m in messages:
                    self.sqs.delete_message(QueueUrl=self.queue_url(source.queue), ReceiptHandle=m["ReceiptHandle"])
                moved += len(messages)
            return moved

        return self._until_drained(one_round, rounds)

    def pump_shuffled(self, seed: int, duplicate: float = 0.3, rounds: int = 1000) -> int:
        """Deliver messages out of order, in random batches, some of them twice; a message whose
        delivery failed comes back later (as after its visibility timeout). Returns deliveries made."""
        chooser = random.Random(seed)

        def one_round() -> int:
            moved = 0
            for source in self.template.sqs_sources():
                url = self.queue_url(source.queue)
                waiting: list[dict[str, Any]] = []
                while batch := self.receive(source.queue, hide_seconds=600):
                    waiting.extend(batch)
                chooser.shuffle(waiting)
                while waiting:
                    size = chooser.randint(1, source.batch_size)
                    batch, waiting = waiting[:size], waiting[size:]
                    event = sqs_event(batch, self.template.physical[source.queue]["Arn"])
                    failed: set[str] = set()
                    for _ in range(2 if chooser.random() < duplicate else 1):
                        try:
                            result = self.invoke(source.function, event) or {}
                        except Exception:  # the invocation failed as a whole: every message comes back
                            result = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in batch]}
                        failed |= {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
                    for message in batch:
                        if message["MessageId"] in failed:  # back on the queue at once
                            self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                                               VisibilityTimeout=0)
                        else:
                            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    moved += len(batch)
            return moved

        return self._until_drained(one_round, rounds)

    def dead_letters(self, logical_id: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url(logical_id),
                                                   AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def run(self, job_id: str, tenant: str = "acme") -> dict[str, Any]:
        self.pump()
        return self.job(job_id, tenant)

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.functions.invoke(logical_id, event)

    def result_rows(self, job_id: str, kind: str, tenant: str = "acme") -> list[list[str]]:
        import csv

        key = f"results/{tenant}/{job_id}/{kind}.csv"
        body = self.s3.get_object(Bucket=self.clients.settings.bucket, Key=key)["Body"].read().decode()
        return list(csv.reader(io.StringIO(body)))


def module_loggers_follow_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools gives a module's child logger (`Logger(child=True)`) the level of POWERTOOLS_LOG_LEVEL when it is
    made: one made as a test module imports a pipeline module at collection keeps the tests' WARNING. A test that
    reads the functions' log lines lets every such logger defer to the "sluice" logger's level instead."""
    import logging

    for name, found in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("sluice.") and isinstance(found, logging.Logger):
            monkeypatch.setattr(found, "level", logging.NOTSET)
    service = logging.getLogger("sluice")
    service.setLevel(service.level)  # setLevel empties every logger's cache of levels (set directly above)


def new_id() -> str:
    return uuid.uuid4().hex[:8]


class Crash(Exception):
    """An injected crash: the process dies here, the message is not acknowledged."""


def crash_once(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, *, after: bool = False,
               times: int = 1, when: Any = None) -> dict[str, int]:
    """Make target.name raise Crash on its first `times` calls (before, or after the real call ran),
    counting only calls whose arguments satisfy `when`."""
    original = getattr(target, name)
    state = {"calls": 0, "crashes": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when is not None and not when(*args, **kwargs):
            return original(*args, **kwargs)
        state["calls"] += 1
        if state["crashes"] < times and not after:
            state["crashes"] += 1
            raise Crash(name)
        result = original(*args, **kwargs)
        if state["crashes"] < times and after:
            state["crashes"] += 1
            raise Crash(name)
        return result

    monkeypatch.setattr(target, name, wrapper)
    return state
