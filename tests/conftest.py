"""Shared fixtures: moto in-process, resources built from template.yaml, real handlers driven through the
local stack's gateway and pollers."""

from __future__ import annotations

import os

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # the template's service name from the start: a module's Powertools child logger made at collection (a test
    # module importing a pipeline module) is named after the service it saw, and lines under another service's
    # name never reach the "sluice" logger the log assertions read (tests.harness.module_loggers_follow_the_service)
    "POWERTOOLS_SERVICE_NAME": "sluice",
})
os.environ.pop("AWS_ENDPOINT_URL", None)

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.harness import Harness


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        h = Harness(monkeypatch)
        yield h
