"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records every request (headers and raw
body) and answers with a status the test sets (or not at all, while it is "down"); and helpers to register
endpoints in a harness."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sluice.models.webhook import delivery_id, event_id


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class Receiver:
    """`status` is what the next requests get; `delay` seconds of waiting before answering; `body` the answer."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 204
        self.delay = 0.0
        self.answer = b""
        self.headers: dict[str, str] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body))
                    status, delay, answer, extra = receiver.status, receiver.delay, receiver.answer, receiver.headers
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender gave up first

            def log_message(self, *_: Any) -> None:
                pass

        self._handler = Handler
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/sluice"

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port closes (connections are refused) until start() opens it again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout: float = 30) -> list[Received]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                seen = list(self.received)
            if condition(seen):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"the receiver did not get what was expected in {timeout:.0f} s; it got "
                             f"{[r.event.get('type') for r in seen]}")


def public_resolver(monkeypatch: pytest.MonkeyPatch, addresses: dict[str, list[str]] | None = None) -> None:
    """Host names resolve as given (else to a public documentation-free address); nothing is ever connected to
    them: tests that deliver use loopback receivers."""
    from sluice.notify import webhook_http

    table = addresses or {}

    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        if host in ("127.0.0.1", "localhost"):
            return ["127.0.0.1"]
        raise OSError(f"{host} does not resolve")

    monkeypatch.setattr(webhook_http, "resolve", resolve)


def acme_webhook_ids(harness: Any, monkeypatch: pytest.MonkeyPatch, job_id: str) -> dict[str, str]:
    """A webhook of tenant acme (it asks only for webhook.disabled, so nothing is ever sent to it) and the id its
    delivery of the job's completion would have: the placeholders of the webhook routes, for cross-tenant checks."""
    public_resolver(monkeypatch, {"hooks.acme.example": ["93.184.216.34"]})
    reply = harness.call("POST", "/v1/webhooks", json_body={"url": "https://hooks.acme.example/in",
                                                            "events": ["webhook.disabled"]})
    assert reply.status_code == 201, reply.content
    webhook_id = reply.json()["webhookId"]
    return {"<webhook_id>": webhook_id,
            "<delivery_id>": delivery_id(event_id("acme", f"job:{job_id}", "job.completed"), webhook_id)}
