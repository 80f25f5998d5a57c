from __future__ import annotations

import os
from decimal import Decimal

import pytest

from sluice.api.access import principal_from_context, require
from sluice.models.errors import BadRequest, Forbidden, Unauthorized
from sluice.models.ids import is_job_id, new_sortable_id
from sluice.store.blobs import parse_upload_key, upload_key
from sluice.store.dynamo import decode_cursor, encode_cursor, from_item, to_item
from sluice.store.keys import key_from_header
from sluice_local.template import Template


def test_codec_round_trips() -> None:
    value = {"s": "x", "i": 3, "d": Decimal("1.25"), "b": True, "l": [1, "a"], "m": {"n": Decimal("0.5")},
             "ns": {1, 2}}
    assert from_item(to_item(value)) == value
    assert to_item({"absent": None}) == {}


def test_cursors_round_trip_and_reject_garbage() -> None:
    assert decode_cursor(encode_cursor({"pk": {"S": "x"}})) == {"pk": {"S": "x"}}
    with pytest.raises(BadRequest):
        decode_cursor("%%%")


def test_job_ids_sort_by_time() -> None:
    earlier, later = new_sortable_id(1_700_000_000_000), new_sortable_id(1_700_000_000_001)
    assert earlier < later and is_job_id(earlier) and not is_job_id("abc")


def test_upload_keys_only_from_valid_ids() -> None:
    job_id = new_sortable_id()
    assert parse_upload_key(upload_key("acme", job_id)) == ("acme", job_id)
    assert parse_upload_key(f"uploads/../{job_id}/data") is None
    assert parse_upload_key(f"uploads/Acme/{job_id}/data") is None


def test_authorization_header_forms() -> None:
    assert key_from_header("Bearer abc") == "abc"
    assert key_from_header("apikey abc") == "abc"
    assert key_from_header("ApiKey  abc ") == "abc"
    assert key_from_header("Basic abc") is None
    assert key_from_header("Bearer") is None
    assert key_from_header(None) is None


def test_permission_checks() -> None:
    context = {"tenant": "acme", "keyId": "k", "permissions": "imports:read,records:read"}
    assert require(context, "imports:read").tenant == "acme"
    with pytest.raises(Forbidden):
        require(context, "imports:write")
    with pytest.raises(Unauthorized):
        require({"tenant": ""}, "imports:read")
    principal = principal_from_context({"tenant": "t", "permissions": "*"})
    assert principal is not None and principal.allows("keys:admin")


def test_template_wiring_is_read_from_the_template() -> None:
    template = Template()
    routes = {r.route_key: r for r in template.routes()}
    assert routes["GET /v1/health"].authorized is False
    assert routes["ANY /v1/{proxy+}"].authorized is True
    assert template.routes()[-1].route_key == "ANY /v1/{proxy+}"  # exact routes before the greedy one
    assert routes["GET /v1/export-links/{token}"].authorized is False  # the signed token is the credential
    assert routes["ANY /v1/{proxy+}"].pattern.match("/v1/jobs/abc/errors")
    assert template.authorizer_function() == "AuthorizerFunction"
    sources = {(s.function, s.queue): s for s in template.sqs_sources()}
    assert sources[("WorkerFunction", "ChunkQueue")].report_failures is True
    assert sources[("IngestFunction", "IngestQueue")].batch_size == 1
    for spec in template.functions().values():
        assert (spec.code_uri / "app.py").is_file(), spec.logical_id


def test_local_scheduler_fires_rate_schedules_at_the_speedup() -> None:
    import threading
    import time

    from sluice_local.runtime import Scheduler
    from sluice_local.template import ScheduleSource

    calls: list[tuple[str, dict]] = []

    class Recorder:
        def invoke(self, logical_id: str, event: dict) -> None:
            calls.append((logical_id, event))

    stop = threading.Event()
    source = ScheduleSource("SweeperFunction", "Every", "rate(5 minutes)", True, None)
    scheduler = Scheduler(source, Recorder(), stop, speedup=6000)  # 300 s / 6000 = every 50 ms
    scheduler.start()
    time.sleep(0.4)
    stop.set()
    scheduler.join(timeout=2)
    assert len(calls) >= 3
    assert calls[0][0] == "SweeperFunction" and calls[0][1]["detail-type"] == "Scheduled Event"
    assert ScheduleSource("F", "C", "cron(0 2 * * ? *)", True, None).interval_seconds() is None


def test_metrics_flush_without_the_namespace_variable_and_never_raise() -> None:
    """Powertools flushes every 100 values; imported before the environment was set, it once had no
    namespace and the flush raised inside a chunk, after its commit."""
    import subprocess
    import sys

    code = ("from sluice import observability\n"
            "for _ in range(250): observability.count('RowsCreated')\n"
            "observability.metrics.add_metric = None  # a broken metrics client: counting still does not raise\n"
            "observability.count('RowsCreated')\n"
            "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_METRICS_NAMESPACE"}
    env["POWERTOOLS_METRICS_DISABLED"] = "false"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
    assert '"Namespace": "Sluice"' in done.stdout
