"""`make run`: moto server + the template's resources + pollers + the HTTP API, stopped by Ctrl-C/SIGTERM."""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

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
    dynamodb_port: int = 0  # 0: any free port
    emulator_processes: int = 2  # 1: every service in one emulator process
    host: str = "127.0.0.1"
    stop_event: threading.Event = field(default_factory=threading.Event)
    pollers: list[Any] = field(default_factory=list)
    template: Template | None = None
    data_dir: Path | None = None  # None: nothing kept across restarts
    snapshotter: Any = None
    restored: dict[str, int] | None = None
    emulators: list[Any] = field(default_factory=list)

    @property
    def aws_endpoint(self) -> str:
        """S3, SQS and the rest; DynamoDB too, passed on to its own process."""
        return f"http://{self.host}:{self.aws_port}"

    @property
    def dynamodb_endpoint(self) -> str:
        return self.emulators[-1].endpoint if self.emulators else self.aws_endpoint

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def start(self, dev_keys: str | None = None) -> list[tuple[str, str]]:
        """Starts everything; the API answers only once the keys exist. Returns the seeded keys."""
        for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
            os.environ.setdefault(name, value)
        self._start_emulator()
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint
        if self.emulator_processes > 1:  # boto3's endpoint for one service; the worker processes inherit it
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = \
                self.dynamodb_endpoint

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
        if not os.environ.get("PUBLIC_API_URL"):  # links in emails and the seed doors point at this stack
            os.environ["PUBLIC_API_URL"] = self.api_url
        # webhooks may call receivers on loopback here (never on AWS), on a retry schedule sped up like the timers
        os.environ.setdefault("SLUICE_WEBHOOKS_ALLOW_LOOPBACK", "true")
        os.environ.setdefault("SLUICE_WEBHOOK_RETRY_SPEEDUP",
                              str(max(1.0, float(os.environ.get("SLUICE_SCHEDULE_SPEEDUP", "1")))))
        try:
            get_settings()  # a malformed setting stops the stack here, not in the first request
        except ConfigError as exc:
            raise SystemExit(str(exc)) from None
        # Two warnings that are noise here, in this process and the ones it starts: Powertools' empty-metrics
        # notice on every invocation, and multiprocessing's note on the worker processes' semaphores, which a stop
        # leaves behind on purpose (it ends the process at once)
        quiet = "ignore:No application metrics to publish:UserWarning,ignore:resource_tracker:UserWarning"
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), quiet)))
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        reset_clients()
        # Functions run in worker processes, one invocation at a time each, as Lambda sandboxes do, beside the
        # emulator instead of under its interpreter lock: the HTTP API's in one lane (SLUICE_API_PROCESSES, three
        # per core by default: an API request spends most of its time waiting for the emulator, and with one per
        # core 50 clients queued seconds for a free process, `make load`), the pipeline's in another
        # (SLUICE_PIPELINE_PROCESSES, as many as its pollers can keep busy). 0 runs a lane's functions as threads
        # of this process (API invocations then take turns).
        cores = os.cpu_count() or 1
        api_lane = int(os.environ.get("SLUICE_API_PROCESSES", str(3 * cores)))
        functions = self.template.functions()
        api_functions = {name for name in ("ApiFunction", "AuthorizerFunction") if name in functions}
        sizes = {"ApiFunction": 4, "AuthorizerFunction": 4, "WorkerFunction": 2, "IngestFunction": 2,
                 "SweeperFunction": 1, "ScheduledImportFunction": 1}
        for name, resource in self.template.of_type("AWS::Serverless::Function").items():
            reserved = resource.get("Properties", {}).get("ReservedConcurrentExecutions")
            if reserved is not None:  # the template's reserved concurrency caps the local instances too
                sizes[name] = max(1, min(sizes.get(name, 2), int(self.template.resolve(reserved))))
        sources = self.template.sqs_sources()
        pipeline_functions = set(functions) - api_functions
        busiest = sum(self._poller_copies(source.function, sizes) for source in sources)
        pipeline_lane = int(os.environ.get("SLUICE_PIPELINE_PROCESSES", str(min(busiest, cores + 1))))
        # The pipeline's processes run at a lower CPU priority (nice +SLUICE_PIPELINE_NICE, default 5): on a
        # machine with fewer cores than busy processes, the emulator (which serves everyone) and the API's
        # processes (a person waiting) get the CPU first, and the pipeline takes what is left. On AWS each
        # invocation has its own CPU share, so nothing there corresponds; this only orders who waits here.
        niceness = int(os.environ.get("SLUICE_PIPELINE_NICE", "5"))
        self.functions = Functions(self.template, sizes, lanes=[(api_functions, api_lane, 0),
                                                                 (pipeline_functions, pipeline_lane, niceness)])
        sqs = boto3.session.Session(region_name=REGION).client("sqs")
        for source in sources:
            for _ in range(self._poller_copies(source.function, sizes)):
                poller = Poller(source, self.template, self.functions, sqs, self.stop_event)
                poller.start()
                self.pollers.append(poller)
        keys = self.seed_keys(dev_keys)
        if self.snapshotter:
            self.snapshotter.start()
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

    def _start_emulator(self) -> None:
        """moto's server in processes of its own (`sluice_local.emulator`), their state restored from the data
        directory first and snapshotted there while they run."""
        from sluice_local.emulator import EmulatorProcess, groups
        from sluice_local.persist import (
            SnapshotCoordinator,
            discard_unnamed,
            held_directory,
            hold_directory,
            read_manifest,
        )
        from sluice_local.spawn import free_port

        # the emulator logs every request: to a file (in the data directory, if any), never the terminal
        self.emulator_log = (self.data_dir or Path(tempfile.mkdtemp(prefix="sluice-local-"))) / "emulator.log"
        manifest = None
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            hold_directory(self.data_dir)  # one stack per directory; a stopped stack's last snapshot finishes first
            manifest = read_manifest(self.data_dir)
            discard_unnamed(self.data_dir, manifest)
        started = time.monotonic()
        split = groups(self.emulator_processes > 1)
        dynamodb_port = (self.dynamodb_port or free_port()) if len(split) > 1 else None
        for group in split:
            port = self.aws_port if group.name == "aws" else dynamodb_port
            assert port is not None
            self.emulators.append(EmulatorProcess(group, self.host, port, self.emulator_log, self.data_dir, manifest,
                                                  forward_dynamodb=dynamodb_port if group.name == "aws" else None,
                                                  inherit=held_directory()))
        for emulator in self.emulators:
            emulator.wait_ready()
        if manifest is not None:
            self.restored = {"seconds": round(time.monotonic() - started, 2),  # type: ignore[dict-item]
                             "messagesReopened": sum((emulator.restored or {}).get("messagesReopened", 0)
                                                     for emulator in self.emulators)}
        if self.data_dir is not None:
            self.snapshotter = SnapshotCoordinator(self.data_dir, self.emulators,
                                                   float(os.environ.get("SLUICE_SNAPSHOT_SECONDS", "1")),
                                                   generation=manifest["generation"] if manifest else 0)

    @staticmethod
    def _poller_copies(function: str, sizes: dict[str, int]) -> int:
        # two uploads are read at once and two chunks written at once (on AWS each is its own invocation), so a
        # small job is never stuck behind another tenant's large file
        return min(2, sizes.get(function, 1)) if function in ("WorkerFunction", "IngestFunction") else 1

    def seed_keys(self, spec: str | None) -> list[tuple[str, str]]:
        """SLUICE_DEV_KEYS=tenant:key,... -> those keys with every permission; else one fresh key for demo."""
        from sluice.store.clients import get_clients
        from sluice.store.keys import KeyStore

        keys = KeyStore(get_clients())
        if spec:
            seeded = []
            from sluice.models.errors import Conflict

            for entry in spec.split(","):
                tenant, _, key = entry.strip().partition(":")
                with contextlib.suppress(Conflict):  # kept from an earlier start (SLUICE_DATA_DIR)
                    keys.create(tenant, "dev key", ["*"], key=key)
                seeded.append((tenant, key))
            return seeded
        return [("demo", keys.create("demo", "dev admin key", ["*"])["key"])]

    def stop(self) -> None:
        """Stops at once, whatever is running (the process exits next; threads are daemons). An invocation cut
        short is delivered again after a restart, as after a crash: what it did is in the last snapshot wholly or
        not at all, and redelivery is safe everywhere (docs/guarantees.md). Nothing here waits on a thread."""
        self.stop_event.set()  # pollers and schedules take no new work
        try:
            if self.snapshotter and self.snapshotter.close():  # the last snapshot; the emulator answers nothing after
                print(f"last snapshot: set {self.snapshotter.generation}, being written by the emulator's children "
                      "(the next start waits for them)", flush=True)
        except Exception as exc:  # an emulator process gone: the last complete set stands
            print(f"no last snapshot ({exc}); the last complete one stands", flush=True)
        if hasattr(self, "functions"):
            self.functions.close()  # the API's worker processes, ended now


def banner(stack: LocalStack, keys: list[tuple[str, str]]) -> str:
    """Where everything is, printed by `make run`."""
    assert stack.template is not None
    buckets = [stack.template.physical[name]["Ref"] for name in stack.template.of_type("AWS::S3::Bucket")]
    tables = [stack.template.physical[name]["Ref"] for name in stack.template.of_type("AWS::DynamoDB::Table")]
    lines = [
        f"Sluice API     {stack.api_url}   (OpenAPI /v1/openapi.json, Swagger UI {stack.api_url}/v1/docs)",
        f"Web console    {stack.api_url}/console/",
        f"AWS emulator   {stack.aws_endpoint}   region {REGION} (every service); buckets {', '.join(buckets)}; "
        f"tables {', '.join(tables)}",
        f"  aws CLI:     AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --endpoint-url {stack.aws_endpoint} "
        f"--region {REGION} s3 ls s3://{buckets[0] if buckets else ''}/",
    ]
    if stack.dynamodb_endpoint != stack.aws_endpoint:
        lines.insert(3, f"  DynamoDB:    {stack.dynamodb_endpoint}   its own process (the functions use it; "
                        f"{stack.aws_endpoint} passes DynamoDB requests on to it)")
    if stack.data_dir is None:
        lines.append("Data           in memory only (SLUICE_DATA_DIR is empty): nothing is kept after a stop")
    else:
        kept = "new" if stack.restored is None else (
            f"restored in {stack.restored['seconds']} s, "
            f"{stack.restored['messagesReopened']} in-flight messages reopened")
        lines.append(f"Data           {stack.data_dir} ({kept}; `make reset` empties it)")
    lines.append(f"Emulator log   {stack.emulator_log}")
    for tenant, key in keys:
        lines.append(f"API key for tenant '{tenant}': {key}")
    if keys:
        lines.append(f"  try:        export SLUICE_URL={stack.api_url} SLUICE_API_KEY={keys[0][1]}; "
                     ".venv/bin/sluice jobs")
    lines.append("Ctrl-C stops.")
    return "\n".join(lines)


STOP_BUDGET_SECONDS = 4.5  # Ctrl-C or SIGTERM stops the stack within 5 s, every time


def _exit_now(code: int) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped and saved: skip tearing down millions of emulator objects one by one (seconds)
    os._exit(code)


def main() -> None:
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>` prints every thread's stack
    done = threading.Event()
    stack: LocalStack | None = None
    started = threading.Event()

    def _stop(*_: Any) -> None:
        if not started.is_set():  # still starting: nothing of this run is acknowledged yet; stop as a crash would
            print("stopped while starting", flush=True)
            if stack is not None and hasattr(stack, "functions"):
                stack.functions.close()
            _exit_now(0)
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    data = os.environ.get("SLUICE_DATA_DIR", ".sluice-data")  # empty: in memory only
    stack = LocalStack(api_port=int(os.environ.get("SLUICE_API_PORT", "3000")),
                       aws_port=int(os.environ.get("SLUICE_AWS_PORT", "5000")),
                       dynamodb_port=int(os.environ.get("SLUICE_DYNAMODB_PORT", "0")),
                       emulator_processes=int(os.environ.get("SLUICE_EMULATOR_PROCESSES", "2")),
                       data_dir=Path(data).resolve() if data else None)
    keys = stack.start(os.environ.get("SLUICE_DEV_KEYS"))
    started.set()
    print(banner(stack, keys), flush=True)
    while not done.wait(0.2):  # a bounded wait: a signal taken by another thread still reaches the handler here
        pass
    print("stopping...", flush=True)

    def _overdue() -> None:  # a backstop: the stop itself waits on nothing but in-flight emulator requests
        print(f"the stop took over {STOP_BUDGET_SECONDS} s; exiting now (the last snapshot may be the one before)",
              flush=True)
        _exit_now(1)

    watchdog = threading.Timer(STOP_BUDGET_SECONDS, _overdue)
    watchdog.daemon = True
    watchdog.start()
    stack.stop()
    if stack.snapshotter:
        print(stack.snapshotter.summary(), flush=True)
    _exit_now(0)


if __name__ == "__main__":
    main()
