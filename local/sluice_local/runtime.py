"""Running the template's functions in-process as Lambda would: fresh module per instance, a context
object, one invocation at a time per instance, SQS event source mappings as pollers."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sluice_local.template import ACCOUNT, REGION, FunctionSpec, SqsSource, Template


@dataclass
class FakeContext:
    function_name: str
    timeout_seconds: int
    aws_request_id: str = ""
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec: FunctionSpec, instance: int = 0) -> Any:
    module_file, attribute = spec.handler.rsplit(".", 1)
    path = spec.code_uri / f"{module_file}.py"
    module_name = f"sluice_fn_{spec.logical_id}_{instance}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    assert loader_spec and loader_spec.loader
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    loader_spec.loader.exec_module(module)
    return getattr(module, attribute)


# Powertools' event handler keeps the current event on a class (BaseRouter.current_event), shared by every
# resolver in the process. A Lambda sandbox is a process running one invocation at a time, so that is safe
# there; here the instances are threads of one process, and two API invocations at once would read each
# other's request (another tenant's body and principal). Invocations of resolver functions take turns.
_RESOLVER_TURN = threading.Lock()


def _uses_resolver(handler: Any) -> bool:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    module = sys.modules.get(handler.__module__) if hasattr(handler, "__module__") else None
    return module is not None and any(isinstance(value, BaseRouter) for value in vars(module).values())


class FunctionPool:
    """N independent instances of one function (its own module each), like N warm Lambda sandboxes."""

    def __init__(self, spec: FunctionSpec, size: int) -> None:
        self.spec = spec
        self._free: queue.Queue[Any] = queue.Queue()
        handlers = [load_handler(spec, i) for i in range(size)]
        for handler in handlers:
            self._free.put(handler)
        self.exclusive = any(_uses_resolver(h) for h in handlers)

    def invoke(self, event: Any) -> Any:
        handler = self._free.get()
        try:
            with _RESOLVER_TURN if self.exclusive else contextlib.nullcontext():
                return handler(event, FakeContext(self.spec.logical_id, self.spec.timeout))
        finally:
            self._free.put(handler)


# Worker processes (`Functions(..., lanes=[({names}, N, niceness)])`): each loads its own instance of the chosen
# functions and runs one invocation at a time, as a Lambda sandbox does, so invocations no longer take turns and run
# beside the emulator instead of under its interpreter lock.
_PROCESS_HANDLERS: dict[str, Any] = {}
_PROCESS_TIMEOUTS: dict[str, int] = {}


def _end_with_parent(parent: int) -> None:
    """A stack killed outright (SIGKILL) cannot end its worker processes: each ends itself once its parent is gone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _process_init(parameters: dict[str, str], logical_ids: list[str], niceness: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the stack stops them
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    if niceness:
        os.nice(niceness)
    specs = Template(parameters=parameters).functions()
    for logical_id in logical_ids:
        _PROCESS_HANDLERS[logical_id] = load_handler(specs[logical_id], 0)
        _PROCESS_TIMEOUTS[logical_id] = specs[logical_id].timeout


def _process_invoke(logical_id: str, event: Any, timeout: int) -> Any:
    return _PROCESS_HANDLERS[logical_id](event, FakeContext(logical_id, timeout))


def authorize_then_invoke(invoke: Any, authorizer: str, authorizer_event: dict[str, Any], logical_id: str,
                          event: dict[str, Any]) -> tuple[str, Any]:
    """What API Gateway does with a request: the Lambda authorizer first, then (if it allows) the route's function
    with the authorizer's context. -> ("denied", None), ("failed", None) when either function raised (API Gateway
    answers 500), or ("ok", the function's result)."""
    try:
        decision = invoke(authorizer, authorizer_event)
    except Exception:
        return "failed", None
    if not isinstance(decision, dict) or not decision.get("isAuthorized"):
        return "denied", None
    event["requestContext"]["authorizer"] = {"lambda": decision.get("context", {})}
    try:
        return "ok", invoke(logical_id, event)
    except Exception:
        return "failed", None


class _Profile:
    """SLUICE_PROFILE_DIR=<dir>: each API worker process profiles its requests (cProfile, wall clock: time waiting
    for the emulator shows as socket reads) and writes `api-<pid>.prof` every 50 requests (`python -m pstats`)."""

    def __init__(self, directory: str) -> None:
        import cProfile

        self.profiler = cProfile.Profile()
        self.path = os.path.join(directory, f"api-{os.getpid()}.prof")
        self.requests = 0

    def run(self, call: Any) -> Any:
        self.profiler.enable()
        try:
            return call()
        finally:
            self.profiler.disable()
            self.requests += 1
            if self.requests % 50 == 0:
                self.profiler.dump_stats(self.path)


_PROFILE: _Profile | None = None


def _process_authorize_then_invoke(authorizer: str, authorizer_event: dict[str, Any], logical_id: str,
                                   event: dict[str, Any]) -> tuple[str, Any, float, float]:
    """-> authorize_then_invoke's answer, and when this process started and ended it (time.monotonic(), the same
    clock in every process of the machine: the stack tells the lane's queue from the run)."""
    global _PROFILE
    started = time.monotonic()
    if _PROFILE is None and os.environ.get("SLUICE_PROFILE_DIR"):
        _PROFILE = _Profile(os.environ["SLUICE_PROFILE_DIR"])

    def call() -> tuple[str, Any]:
        return authorize_then_invoke(lambda name, payload: _process_invoke(name, payload, _PROCESS_TIMEOUTS[name]),
                                     authorizer, authorizer_event, logical_id, event)

    outcome, result = _PROFILE.run(call) if _PROFILE else call()
    return outcome, result, started, time.monotonic()


def _process_ready() -> int:
    time.sleep(0.2)  # holds this worker while the others start, so each one loads its functions before serving
    return os.getpid()


class ProcessLane:
    """N worker processes (spawned, so nothing of this process's threads or locks is inherited)."""

    def __init__(self, template: Template, logical_ids: list[str], processes: int, niceness: int = 0) -> None:
        """niceness: added to the worker processes' nice value (a lower CPU priority than the stack's)."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.logical_ids = set(logical_ids)
        self.timeouts = {name: spec.timeout for name, spec in template.functions().items()}
        self.executor = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_process_init,
                                            initargs=(template.parameters, sorted(logical_ids), niceness))
        ready = [self.executor.submit(_process_ready) for _ in range(processes)]
        self.pids = {future.result(timeout=120) for future in ready}

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.executor.submit(_process_invoke, logical_id, event, self.timeouts[logical_id]).result()

    def authorize_then_invoke(self, authorizer: str, authorizer_event: dict[str, Any], logical_id: str,
                              event: dict[str, Any], timing: dict[str, float] | None = None) -> tuple[str, Any]:
        """Both in one worker process, one round trip (see `authorize_then_invoke`). `timing` gets `lane` (ms
        waiting for a free process, and the round trip's own cost) and `run` (ms in the process)."""
        submitted = time.monotonic()
        outcome, result, started, ended = self.executor.submit(
            _process_authorize_then_invoke, authorizer, authorizer_event, logical_id, event).result()
        if timing is not None:
            run = ended - started
            timing.update(lane=(time.monotonic() - submitted - run) * 1000, run=run * 1000)
        return outcome, result

    def close(self) -> None:
        """Ends the worker processes now (they hold no state: a Lambda sandbox may vanish too). Not through
        `executor.shutdown()`: a stop waits on no lock or thread of the executor."""
        for process in list((getattr(self.executor, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                process.kill()


class Functions:
    def __init__(self, template: Template, pool_sizes: dict[str, int] | None = None,
                 lanes: list[tuple[set[str], int, int]] | None = None) -> None:
        """`pool_sizes`: instances per function in this process (threads); `lanes`: groups of functions that run
        in worker processes instead, with how many processes each group gets and what they add to their nice
        value (the HTTP API's functions in one, the pipeline's in another, so an API call never waits behind a
        chunk)."""
        self.lanes: list[ProcessLane] = [ProcessLane(template, sorted(names), size, niceness)
                                         for names, size, niceness in (lanes or []) if names and size > 0]
        in_lanes = {name for lane in self.lanes for name in lane.logical_ids}
        self.pools = {name: FunctionPool(spec, (pool_sizes or {}).get(name, 2))
                      for name, spec in template.functions().items() if name not in in_lanes}

    def invoke(self, logical_id: str, event: Any) -> Any:
        for lane in self.lanes:
            if logical_id in lane.logical_ids:
                return lane.invoke(logical_id, event)
        if logical_id not in self.pools:
            raise KeyError(logical_id)
        return self.pools[logical_id].invoke(event)

    def authorize_then_invoke(self, authorizer: str, authorizer_event: dict[str, Any], logical_id: str,
                              event: dict[str, Any], timing: dict[str, float] | None = None) -> tuple[str, Any]:
        """An authorized route's request: in one worker process round trip when both functions share a lane."""
        for lane in self.lanes:
            if authorizer in lane.logical_ids and logical_id in lane.logical_ids:
                return lane.authorize_then_invoke(authorizer, authorizer_event, logical_id, event, timing)
        started = time.monotonic()
        answer = authorize_then_invoke(self.invoke, authorizer, authorizer_event, logical_id, event)
        if timing is not None:
            timing["run"] = (time.monotonic() - started) * 1000
        return answer

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    } for m in messages]}


class Poller(threading.Thread):
    """An SQS event source mapping: receive up to BatchSize, invoke, delete what succeeded.

    A batch that raises is left for the visibility timeout, like Lambda; with ReportBatchItemFailures
    only the failed messages stay. The queue's RedrivePolicy moves repeat failures to its DLQ."""

    def __init__(self, source: SqsSource, template: Template, functions: Functions, sqs: Any,
                 stop: threading.Event, wait_seconds: int = 1) -> None:
        super().__init__(name=f"poller-{source.function}-{source.queue}", daemon=True)
        self.source = source
        self.queue_url = template.physical[source.queue]["Ref"]
        self.queue_arn = template.physical[source.queue]["Arn"]
        self.functions = functions
        self.sqs = sqs
        self.stop_event = stop
        self.wait_seconds = wait_seconds
        self.invocations = 0
        self.errors = 0

    def poll_once(self, wait_seconds: int = 0) -> int:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=wait_seconds, AttributeNames=["All"], MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        self.invocations += 1
        try:
            result = self.functions.invoke(self.source.function, sqs_event(messages, self.queue_arn))
        except Exception:
            self.errors += 1
            return len(messages)
        failed = set()
        if self.source.report_failures and isinstance(result, dict):
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            self.errors += bool(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])
            ])
        return len(messages)

    def run(self) -> None:
        # Short polls with a backoff while idle, not long polls: a request held open for seconds would hold off
        # the emulator's snapshots (which wait for requests in flight) and a stop.
        idle = 0.0
        while not self.stop_event.is_set():
            try:
                received = self.poll_once(0)
            except Exception:
                if self.stop_event.is_set():
                    return
                received = 0
                idle = 0.5
            idle = 0.0 if received else min(max(idle * 2, 0.05), float(self.wait_seconds))
            if idle:
                self.stop_event.wait(idle)


def scheduled_event(source: Any) -> dict[str, Any]:
    """What EventBridge hands a schedule's target: its Input when set, else a Scheduled Event."""
    import json
    from datetime import UTC, datetime

    if source.input:
        return dict(json.loads(source.input))
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{source.name}"], "detail": {}}


class Scheduler(threading.Thread):
    """Fires a rate() schedule every interval / speedup seconds (moto stores schedules but never runs them)."""

    def __init__(self, source: Any, functions: Functions, stop: threading.Event, speedup: float) -> None:
        super().__init__(name=f"schedule-{source.name}", daemon=True)
        self.source = source
        self.functions = functions
        self.stop_event = stop
        self.period = (source.interval_seconds() or 0) / max(speedup, 0.001)
        self.runs = 0

    def run(self) -> None:
        while not self.stop_event.wait(self.period):
            # a failed run is simply tried again at the next tick, as EventBridge would
            with contextlib.suppress(Exception):
                self.functions.invoke(self.source.function, scheduled_event(self.source))
            self.runs += 1
