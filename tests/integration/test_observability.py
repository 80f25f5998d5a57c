"""Every log line of a job's ingest and worker carries its jobId (as correlation id) and tenant."""

from __future__ import annotations

import io
import json
import logging

import pytest
from moto import mock_aws

from tests.harness import Harness, module_loggers_follow_the_service


def test_job_log_lines_carry_job_and_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        harness = Harness(monkeypatch)
        harness.define()
        # Powertools' handler on the "sluice" logger keeps the stream it was created with: read it here.
        buffer = io.StringIO()
        handlers = [h for h in logging.getLogger("sluice").handlers if isinstance(h, logging.StreamHandler)]
        assert handlers
        previous = [(h, h.setStream(buffer)) for h in handlers]
        monkeypatch.setattr(logging.getLogger("sluice"), "level", logging.INFO)
        module_loggers_follow_the_service(monkeypatch)
        try:
            job = harness.submit_csv("email\na@x.org\nb@x.org\nc@x.org\nd@x.org\n")
            harness.run(job["jobId"])
        finally:
            for handler, stream in previous:
                handler.setStream(stream)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    pipeline = [line for line in lines if line.get("function_name") in ("IngestFunction", "WorkerFunction")]
    assert {line["function_name"] for line in pipeline} == {"IngestFunction", "WorkerFunction"}
    assert len(pipeline) >= 4
    for line in pipeline:
        assert line["correlation_id"] == job["jobId"], line
        assert line["tenant"] == "acme", line
