"""The AWS emulator's processes: moto's server, out of the stack's process and split by service.

moto answers every request under one interpreter lock. In the stack's own process it shared that lock with the
HTTP gateway, every poller and the snapshots, and it is what the pipeline and the API wait for (a profile of
`bench.stack_pipeline`: the stack's process at 90% of a core, 85% of it moto's request threads). So the emulator
runs in processes of its own, one per group of services, each with its own interpreter lock:

* `dynamodb`: DynamoDB (every record, job, counter and key), the busiest by far.
* `aws`: S3, SQS and everything else (EventBridge, SES, Secrets Manager). S3 and SQS share a process because moto
  delivers a bucket's event notifications to its queues in-process (an upload starts an import that way).

The functions reach each group at its own endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, which boto3
honours); the `aws` endpoint also forwards DynamoDB requests to the `dynamodb` process, so one endpoint still serves
every service (the `aws` CLI, a test, a script). Each process snapshots its own state; the stack's
`SnapshotCoordinator` makes the files one consistent cut (`sluice_local.persist`). A process ends itself when the
stack is gone (its control socket closes, or its parent changes)."""

from __future__ import annotations

import http.client
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DYNAMODB_SERVICES = ("dynamodb", "dynamodbstreams")


@dataclass(frozen=True)
class Group:
    """A set of services one emulator process serves: `only` those, or all but `excluded`."""

    name: str
    only: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def owns(self, service: str) -> bool:
        return service in self.only if self.only else service not in self.excluded


def groups(split: bool) -> list[Group]:
    """The `aws` group first: its endpoint is the stack's AWS endpoint."""
    if not split:
        return [Group("aws")]
    return [Group("aws", excluded=DYNAMODB_SERVICES), Group("dynamodb", only=DYNAMODB_SERVICES)]


class _RequestLog(logging.FileHandler):
    """moto's per-request log, written by a timer once a second instead of a flush per request (a profile of the
    emulator under the pipeline: 3% of its time in that flush alone)."""

    def flush(self) -> None:
        pass

    def flush_now(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self.stream:
                self.stream.flush()


def _log_requests(path: Path) -> None:
    handler = _RequestLog(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    requests_log = logging.getLogger("werkzeug")
    requests_log.addHandler(handler)
    requests_log.setLevel(logging.INFO)
    requests_log.propagate = False

    def flush() -> None:
        while True:
            time.sleep(1)
            handler.flush_now()

    threading.Thread(target=flush, name="log-flush", daemon=True).start()


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                         "proxy-authenticate", "proxy-authorization"})


def forwarding_dynamodb(app: Callable[..., Iterable[bytes]], host: str, port: int) -> Callable[..., Iterable[bytes]]:
    """DynamoDB's requests (their X-Amz-Target names it) passed on to the `dynamodb` process; the rest to `app`."""
    connections: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue()

    def forwarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_") and key[5:].lower() not in _HOP_BY_HOP}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        path = environ.get("PATH_INFO", "/") + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        try:
            connection = connections.get_nowait()
        except queue.Empty:
            connection = http.client.HTTPConnection(host, port, timeout=300)
        try:
            connection.request(environ["REQUEST_METHOD"], path, body=body, headers=headers)
            reply = connection.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"the DynamoDB emulator process did not answer"]
        connections.put(connection)
        start_response(f"{reply.status} {reply.reason}", [(name, value) for name, value in reply.getheaders()
                                                          if name.lower() not in _HOP_BY_HOP])
        return [data]

    return forwarded


def _end_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    """`python -m sluice_local.emulator <config JSON>`, started by `EmulatorProcess`."""
    config = json.loads(sys.argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the stack stops us
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    control = socket.socket(fileno=config["control"])
    replies = control.makefile("wb")
    group = Group(config["group"], tuple(config["only"]), tuple(config["excluded"]))

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from sluice_local import moto_fixes
    from sluice_local.persist import ProcessSnapshots, restore

    moto_fixes.dispatch_once_per_host()
    _log_requests(Path(config["log"]))
    app: Any = DomainDispatcherApplication(create_backend_app)
    snapshots: ProcessSnapshots | None = None
    restored = None
    if config["dataDir"]:
        directory = Path(config["dataDir"])
        snapshots = ProcessSnapshots(directory, group.name, group.owns)
        if config["manifest"]:
            restored = restore(directory, config["manifest"], group.owns)
        snapshots.restored(config["manifest"])
        app = snapshots.wrap(app)
    if config["forwardDynamodb"]:
        app = forwarding_dynamodb(app, config["host"], config["forwardDynamodb"])
    server = make_server(config["host"], config["port"], app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="emulator", daemon=True).start()

    def answer(reply: dict[str, Any]) -> None:
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()

    answer({"ready": True, "port": server.server_port, "restored": restored, "pid": os.getpid()})
    for line in control.makefile("rb"):  # the stack's commands, one at a time; the end of the stream: it is gone
        command = json.loads(line)
        name = command.pop("command")
        try:
            if snapshots is None:
                raise RuntimeError("this emulator keeps no data")
            result: Any = {"status": snapshots.status, "hold": snapshots.hold, "release": snapshots.release,
                           "fork": snapshots.fork, "close": snapshots.close}[name](**command)
            answer({"ok": True, "result": result})
        except Exception as exc:
            answer({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    os._exit(0)


class EmulatorProcess:
    """The stack's handle on one emulator process: start it, wait until it serves, send it commands."""

    def __init__(self, group: Group, host: str, port: int, log: Path, data_dir: Path | None,
                 manifest: dict[str, Any] | None, forward_dynamodb: int | None = None,
                 inherit: tuple[int, ...] = ()) -> None:
        """`port` 0: any free one; `inherit`: descriptors the process keeps (the data directory's lock, which its
        snapshot children hold until their files are in place)."""
        self.group = group.name
        self.host = host
        ours, theirs = socket.socketpair()
        config = {"group": group.name, "only": group.only, "excluded": group.excluded, "host": host, "port": port,
                  "log": str(log), "dataDir": str(data_dir) if data_dir else "", "manifest": manifest,
                  "forwardDynamodb": forward_dynamodb, "control": theirs.fileno()}
        self.process = subprocess.Popen([sys.executable, "-m", "sluice_local.emulator", json.dumps(config)],
                                        pass_fds=(theirs.fileno(), *inherit))
        theirs.close()
        self._socket = ours
        self._reader = ours.makefile("rb")
        self._writer = ours.makefile("wb")
        self._turn = threading.Lock()
        self.port = 0
        self.restored: dict[str, int] | None = None

    def wait_ready(self, timeout: float = 120) -> None:
        self._socket.settimeout(timeout)
        line = self._reader.readline()
        if not line:
            raise SystemExit(f"the {self.group} emulator process exited while starting "
                             f"(code {self.process.wait(timeout=5)})")
        ready = json.loads(line)
        self.port, self.restored = ready["port"], ready["restored"]
        # no timeout from here: a `hold` waits for the requests in flight (a large upload may take a while), and a
        # reply read after a timeout would answer the next command; a stop has its own watchdog
        self._socket.settimeout(None)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def call(self, command: str, **arguments: Any) -> Any:
        with self._turn:
            self._writer.write(json.dumps({"command": command, **arguments}).encode() + b"\n")
            self._writer.flush()
            line = self._reader.readline()
        if not line:
            raise ConnectionError(f"the {self.group} emulator process is gone")
        reply = json.loads(line)
        if not reply["ok"]:
            raise RuntimeError(f"the {self.group} emulator process: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        """Ends the process now (after a stop's last snapshot began: its children outlive it)."""
        self.process.kill()


if __name__ == "__main__":
    main()
