"""The sample events in events/ (also used with `sam local invoke`) drive the real handlers."""

from __future__ import annotations

import json
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID

from sluice.models.chunk import ChunkMessage
from tests.harness import Harness

EVENTS = Path(__file__).parents[2] / "events"


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_api_events(harness: Harness) -> None:
    health = harness.invoke("ApiFunction", _event("api-health.json"))
    assert health["statusCode"] == 200 and json.loads(health["body"]) == {"status": "ok"}
    listed = harness.invoke("ApiFunction", _event("api-list-jobs.json"))
    assert listed["statusCode"] == 200 and json.loads(listed["body"]) == {"items": [], "nextCursor": None}


def test_authorizer_event_with_an_unknown_key_passes_on_without_a_tenant(harness: Harness) -> None:
    result = harness.invoke("AuthorizerFunction", _event("authorizer.json"))
    assert result == {"isAuthorized": True, "context": {"tenant": "", "authError": "missing or unknown API key"}}


def test_ingest_and_worker_events_for_a_job_that_does_not_exist_are_acknowledged(harness: Harness) -> None:
    assert harness.invoke("IngestFunction", _event("ingest-s3-upload.json")) == {"batchItemFailures": []}
    assert harness.invoke("WorkerFunction", _event("worker-chunk.json")) == {"batchItemFailures": []}


def test_sample_chunk_is_a_valid_chunk_message() -> None:
    body = _event("worker-chunk.json")["Records"][0]["body"]
    message = ChunkMessage.from_body(body)
    assert (message.tenant, message.chunk, len(message.rows)) == ("acme", 0, 2)
    assert DEFAULT_ACCOUNT_ID == "123456789012"


def test_schedule_sweeper_and_exporter_events(harness: Harness) -> None:
    assert harness.invoke("ScheduledImportFunction", _event("scheduled-import.json")) == {
        "outcome": "nothing-to-import",
        "source": "s3://sluice-123456789012-us-east-1-dev/exports/contacts/"}
    assert harness.invoke("SweeperFunction", _event("sweeper-schedule.json")) == {"report": {}}
    assert harness.invoke("ExporterFunction", _event("exporter-request.json")) == {"batchItemFailures": []}


def test_every_function_has_a_sample_event() -> None:
    from sluice_local.template import Template

    samples = {"ApiFunction": "api-health.json", "AuthorizerFunction": "authorizer.json",
               "IngestFunction": "ingest-s3-upload.json", "WorkerFunction": "worker-chunk.json",
               "ScheduledImportFunction": "scheduled-import.json", "SweeperFunction": "sweeper-schedule.json",
               "ExporterFunction": "exporter-request.json", "WebhookFunction": "webhook-attempt.json"}
    assert set(samples) == set(Template().functions())
    assert all((EVENTS / name).is_file() for name in samples.values())
