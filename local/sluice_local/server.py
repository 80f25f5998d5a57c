"""`make run`: moto server + the template's resources + pollers + the HTTP API, stopped by Ctrl-C/SIGTERM."""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sluice_local.template import REGION, Template


def parameter_overrides(text: str) -> dict[str, str]:
    """`KeyRateLimit=0,RowsPerChunk=500` (as `sam deploy --parameter-overrides`) -> template parameters."""
    pairs = [part.split("=", 1) for part in text.replace(" ", ",").split(",") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise SystemExit(f"SLUICE_PARAMETERS must look like Name=value,Name=value; got {text!r}")
    return {name.strip(): value.strip() for name, value in pairs}


@dataclass
class LocalStack:
    api_port: int
    aws_port: int
    host: str = "127.0.0.1"
    stop_event: threading.Event = field(default_factory=threading.Event)
    pollers: list[Any] = field(default_factory=list)
    template: Template | None = None

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def start(self, dev_keys: str | None = None) -> list[tuple[str, str]]:
        """Starts everything; the API answers only once the keys exist. Returns the seeded keys."""
        for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
            os.environ.setdefault(name, value)
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self._moto.start()

        import boto3

        from sluice.config import ConfigError, get_settings
        from sluice.store.clients import reset_clients
        from sluice_local.gateway import Gateway, serve
        from sluice_local.provision import provision
        from sluice_local.runtime import Functions, Poller

        try:
            self.template = Template(parameters=parameter_overrides(os.environ.get("SLUICE_PARAMETERS", "")))
        except ValueError as exc:
            raise SystemExit(f"SLUICE_PARAMETERS: {exc}") from None
        environment = provision(self.template, boto3.session.Session(region_name=REGION))
        if "POWERTOOLS_LOG_LEVEL" in os.environ:  # the caller's log level wins over the template's default
            environment.pop("POWERTOOLS_LOG_LEVEL", None)
        os.environ.update(environment)
        # webhooks may call receivers on loopback here (never on AWS), on a retry schedule sped up like the timers
        os.environ.setdefault("SLUICE_WEBHOOKS_ALLOW_LOOPBACK", "true")
        os.environ.setdefault("SLUICE_WEBHOOK_RETRY_SPEEDUP",
                              str(max(1.0, float(os.environ.get("SLUICE_SCHEDULE_SPEEDUP", "1")))))
        try:
            get_settings()  # a malformed setting stops the stack here, not in the first request
        except ConfigError as exc:
            raise SystemExit(str(exc)) from None
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        reset_clients()
        self.functions = Functions(self.template, {"ApiFunction": 4, "AuthorizerFunction": 4,
                                                   "WorkerFunction": 2, "IngestFunction": 1,
                                                   "SweeperFunction": 1, "ScheduledImportFunction": 1})
        sqs = boto3.session.Session(region_name=REGION).client("sqs")
        for source in self.template.sqs_sources():
            copies = 2 if source.function == "WorkerFunction" else 1
            for _ in range(copies):
                poller = Poller(source, self.template, self.functions, sqs, self.stop_event)
                poller.start()
                self.pollers.append(poller)
        keys = self.seed_keys(dev_keys)
        from sluice_local.runtime import Scheduler

        speedup = float(os.environ.get("SLUICE_SCHEDULE_SPEEDUP", "1"))
        for schedule in self.template.schedules():
            if schedule.enabled and schedule.interval_seconds():
                scheduler = Scheduler(schedule, self.functions, self.stop_event, speedup)
                scheduler.start()
                self.pollers.append(scheduler)
        self._http = serve(Gateway(self.template, self.functions), self.host, self.api_port)
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._http_thread.start()
        return keys

    def seed_keys(self, spec: str | None) -> list[tuple[str, str]]:
        """SLUICE_DEV_KEYS=tenant:key,... -> those keys with every permission; else one fresh key for demo."""
        from sluice.store.clients import get_clients
        from sluice.store.keys import KeyStore

        keys = KeyStore(get_clients())
        if spec:
            seeded = []
            for entry in spec.split(","):
                tenant, _, key = entry.strip().partition(":")
                keys.create(tenant, "dev key", ["*"], key=key)
                seeded.append((tenant, key))
            return seeded
        return [("demo", keys.create("demo", "dev admin key", ["*"])["key"])]

    def stop(self) -> None:
        self.stop_event.set()
        if hasattr(self, "_http"):
            self._http.shutdown()
            self._http.server_close()
        deadline = time.monotonic() + 5  # one budget for every thread: each finishes its current call
        for poller in self.pollers:
            poller.join(timeout=max(0.0, deadline - time.monotonic()))
        if hasattr(self, "_moto"):
            self._moto.stop()


def main() -> None:
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>` prints every thread's stack
    done = threading.Event()

    def _stop(*_: Any) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stack = LocalStack(api_port=int(os.environ.get("SLUICE_API_PORT", "3000")),
                       aws_port=int(os.environ.get("SLUICE_AWS_PORT", "5000")))
    keys = stack.start(os.environ.get("SLUICE_DEV_KEYS"))
    print(f"Sluice API   {stack.api_url}", flush=True)
    print(f"AWS emulator {stack.aws_endpoint} (region {REGION})", flush=True)
    for tenant, key in keys:
        print(f"API key for tenant '{tenant}': {key}", flush=True)
    print("Ctrl-C stops.", flush=True)
    done.wait()
    print("stopping...", flush=True)
    stack.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
