"""Fault injection between Sluice's AWS clients and (moto's) AWS.

Every request a Sluice client sends (its User-Agent carries `sluice/`) may, by a seeded draw:
- be throttled: answered with the service's own throttling error without reaching the service;
- time out before it reaches the service (a read timeout);
- go through, and then lose its reply (a read timeout after the write happened).

The faults sit where the network is, under botocore, so botocore's retries, our own retries and the
Lambda/SQS redelivery all see them exactly as they would see AWS failing."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

# service id in the event name -> (HTTP status, body) of that service's throttling answer
_JSON_THROTTLE = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "sqs": "com.amazonaws.sqs#RequestThrottled",
    "eventbridge": "ThrottlingException",
    "secrets-manager": "ThrottlingException",
}
_XML_THROTTLE = {
    "s3": (503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"),
    "ses": (400, b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                 b"<Message>Maximum sending rate exceeded.</Message></Error></ErrorResponse>"),
}


@dataclass
class FaultPlan:
    throttle: float = 0.0  # share of calls throttled before they reach the service
    timeout: float = 0.0  # share of calls that time out before they reach the service
    lost_reply: float = 0.0  # share of calls that reach the service and then lose their reply
    seed: int = 0
    only: tuple[str, ...] = ()  # limit faults to these services (event-name service ids); all when empty


@dataclass
class Faults:
    plan: FaultPlan
    injected: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    enabled: bool = True

    def __post_init__(self) -> None:
        self._random = random.Random(self.plan.seed)

    def decide(self, service: str) -> str | None:
        if not self.enabled or (self.plan.only and service not in self.plan.only):
            return None
        draw = self._random.random()
        if draw < self.plan.throttle:
            return "throttle"
        if draw < self.plan.throttle + self.plan.timeout:
            return "timeout"
        if draw < self.plan.throttle + self.plan.timeout + self.plan.lost_reply:
            return "lost_reply"
        return None


def _throttled(service: str, request: Any) -> AWSResponse:
    if service in _XML_THROTTLE:
        status, body = _XML_THROTTLE[service]
        headers = {"Content-Type": "application/xml"}
    else:
        status = 400
        error_type = _JSON_THROTTLE.get(service, "ThrottlingException")
        body = json.dumps({"__type": error_type, "message": "Rate exceeded (injected)"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": error_type.split("#")[-1],
                   "x-amzn-query-error": "RequestThrottled;Sender"}
    return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]


def _is_sluice(request: Any) -> bool:
    agent = request.headers.get("User-Agent", b"")
    return b"sluice/" in (agent if isinstance(agent, bytes) else agent.encode())


def inject(monkeypatch: pytest.MonkeyPatch, plan: FaultPlan) -> Faults:
    """Install the faults for the rest of the test; botocore's retry sleeps are skipped (they would only
    slow the test down, and the retry count and order stay the same)."""
    faults = Faults(plan)
    original = BotocoreStubber.__call__

    def faulty(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> AWSResponse | None:
        if not _is_sluice(request):
            return original(self, event_name, request, **kwargs)
        _, service, operation = event_name.split(".", 2)
        faults.calls[f"{service}.{operation}"] += 1
        fault = faults.decide(service)
        if fault is None:
            return original(self, event_name, request, **kwargs)
        faults.injected[fault] += 1
        faults.injected[f"{fault}:{service}.{operation}"] += 1
        if fault == "throttle":
            return _throttled(service, request)
        if fault == "lost_reply":
            original(self, event_name, request, **kwargs)
        raise ReadTimeoutError(endpoint_url=request.url)

    monkeypatch.setattr(BotocoreStubber, "__call__", faulty)
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _seconds: None)
    monkeypatch.setattr("sluice.store.dynamo.time.sleep", lambda _seconds: None)
    return faults


@contextmanager
def faults_during(plan: FaultPlan) -> Iterator[Faults]:
    """inject() for a block rather than the whole test (one hypothesis example, say)."""
    with pytest.MonkeyPatch.context() as patch:
        yield inject(patch, plan)
