"""Webhooks end to end in-process: the routes, signed deliveries to a real receiver on 127.0.0.1 (checked with
the `standardwebhooks` reference library), retries with backoff, the delivery log, redelivery, disabling after
repeated failure, SSRF refusals, and exactly-once under redelivered messages and crashes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from standardwebhooks import Webhook as ReferenceWebhook

from sluice.models.webhook import MAX_ATTEMPTS, RETRY_DELAYS_S, AttemptOutcome, DeliveryMessage
from sluice.notify import webhooks
from sluice.store.clients import get_clients, reset_clients
from sluice.store.webhooks import WebhookStore
from tests.harness import Harness, crash_once
from tests.receiver import Received, Receiver, public_resolver


@dataclass
class Hooks:
    harness: Harness
    receiver: Receiver

    def register(self, url: str | None = None, events: list[str] | None = None, tenant: str = "acme"
                 ) -> dict[str, Any]:
        reply = self.harness.call("POST", "/v1/webhooks", tenant=tenant,
                                  json_body={"url": url or self.receiver.url, "events": events or ["*"]})
        assert reply.status_code == 201, reply.content
        return reply.json()

    def log(self, webhook_id: str, query: str = "") -> dict[str, Any]:
        reply = self.harness.call("GET", f"/v1/webhooks/{webhook_id}/deliveries{query}")
        assert reply.status_code == 200, reply.content
        return reply.json()


@pytest.fixture
def hooks(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    monkeypatch.setenv("SLUICE_WEBHOOKS_ALLOW_LOOPBACK", "true")  # as the local stack: receivers on 127.0.0.1
    monkeypatch.setenv("SLUICE_WEBHOOK_RETRY_SPEEDUP", "1000000")  # the whole schedule within one pump
    reset_clients()
    harness.clients = get_clients()
    receiver = Receiver().start()
    harness.define()
    yield Hooks(harness, receiver)
    receiver.stop()


def _verified(secret: str, received: Received) -> dict[str, Any]:
    return dict(ReferenceWebhook(secret).verify(received.body, received.headers))


def test_endpoints_are_registered_read_changed_and_removed_and_the_secret_is_shown_once(hooks: Hooks) -> None:
    h = hooks.harness
    created = hooks.register(events=["job.completed", "job.failed", "job.completed"])
    assert created["secret"].startswith("whsec_") and len(base64.b64decode(created["secret"][6:])) == 32
    assert created["events"] == ["job.completed", "job.failed"] and created["enabled"] is True
    webhook_id = created["webhookId"]
    shown = h.call("GET", f"/v1/webhooks/{webhook_id}").json()
    assert "secret" not in shown and shown["url"] == hooks.receiver.url
    assert [w["webhookId"] for w in h.call("GET", "/v1/webhooks").json()["items"]] == [webhook_id]
    assert "secret" not in json.dumps(h.call("GET", "/v1/webhooks").json())
    changed = h.call("PATCH", f"/v1/webhooks/{webhook_id}", json_body={"events": ["*"], "description": "ops"}).json()
    assert changed["events"] == ["*"] and changed["description"] == "ops" and changed["url"] == hooks.receiver.url
    assert h.call("PATCH", f"/v1/webhooks/{webhook_id}", json_body={"colour": "red"}).status_code == 400
    assert h.call("POST", "/v1/webhooks", json_body={"url": hooks.receiver.url, "events": ["job.exploded"]}
                  ).status_code == 400
    assert h.call("POST", "/v1/webhooks", json_body={"url": hooks.receiver.url, "events": []}).status_code == 400
    # another tenant sees nothing of it
    assert h.call("GET", f"/v1/webhooks/{webhook_id}", tenant="globex").status_code == 404
    assert h.call("DELETE", f"/v1/webhooks/{webhook_id}", tenant="globex").status_code == 404
    assert h.call("GET", "/v1/webhooks", tenant="globex").json()["items"] == []
    # a key without webhooks:admin may not
    reader = h.key(permissions=("imports:read",))
    assert h.call("GET", "/v1/webhooks", key=reader).status_code == 403
    assert h.call("DELETE", f"/v1/webhooks/{webhook_id}").json() == {"webhookId": webhook_id, "deleted": True}
    assert h.call("GET", f"/v1/webhooks/{webhook_id}").status_code == 404


@pytest.mark.parametrize("host, addresses, why", [
    ("inside.example", ["10.0.0.5"], "private"), ("meta.example", ["169.254.169.254"], "metadata"),
    ("v6meta.example", ["fd00:ec2::254"], "metadata"), ("mapped.example", ["::ffff:192.168.0.1"], "private"),
    ("link.example", ["fe80::1"], "link-local"), ("half.example", ["93.184.216.34", "172.16.0.9"], "private"),
    ("nowhere.example", None, "does not resolve"),
])
def test_endpoints_on_private_or_metadata_addresses_are_refused_at_registration(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch, host: str, addresses: list[str] | None, why: str) -> None:
    public_resolver(monkeypatch, {host: addresses} if addresses else {})
    reply = hooks.harness.call("POST", "/v1/webhooks", json_body={"url": f"https://{host}/in", "events": ["*"]})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "unsafe_url", reply.content
    assert why in reply.json()["error"]["message"]
    assert hooks.harness.call("GET", "/v1/webhooks").json()["items"] == []


def test_plain_http_and_loopback_are_refused_outside_the_local_stack(hooks: Hooks, monkeypatch: pytest.MonkeyPatch
                                                                     ) -> None:
    public_resolver(monkeypatch, {"hooks.example": ["93.184.216.34"]})
    h = hooks.harness
    assert h.call("POST", "/v1/webhooks", json_body={"url": "http://hooks.example/", "events": ["*"]}
                  ).status_code == 400
    assert h.call("POST", "/v1/webhooks", json_body={"url": "https://hooks.example/", "events": ["*"]}
                  ).status_code == 201
    monkeypatch.setenv("SLUICE_WEBHOOKS_ALLOW_LOOPBACK", "false")  # as on AWS
    reset_clients()
    refused = h.call("POST", "/v1/webhooks", json_body={"url": hooks.receiver.url, "events": ["*"]})
    assert refused.status_code == 400 and "https://" in refused.json()["error"]["message"]
    refused = h.call("POST", "/v1/webhooks", json_body={"url": "https://127.0.0.1:9/", "events": ["*"]})
    assert refused.status_code == 400 and "loopback" in refused.json()["error"]["message"]


def test_a_jobs_life_arrives_signed_with_the_job_as_get_shows_it(hooks: Hooks) -> None:
    h = hooks.harness
    created = hooks.register()
    job = h.submit_csv("email,age\na@x.org,1\nb@x.org,-1\n")
    h.pump()
    got = hooks.receiver.wait_for(lambda seen: len(seen) >= 2)
    assert len(got) == 2
    events = [_verified(created["secret"], r) for r in got]
    assert [e["type"] for e in events] == ["job.accepted", "job.completed"]
    assert [e["data"]["jobId"] for e in events] == [job["jobId"]] * 2
    assert events[0]["data"]["status"] == "Accepted" and events[1]["data"]["status"] == "Completed"
    shown = h.job(job["jobId"])
    completed = events[1]["data"]
    assert {k: v for k, v in completed.items() if k != "links"} == {k: v for k, v in shown.items() if k != "links"}
    assert completed["links"]["self"].endswith(f"/v1/jobs/{job['jobId']}")
    assert completed["errors"][0]["row"] == 2 and completed["counts"]["failed"] == 1
    assert events[1]["timestamp"] == shown["finishTime"]
    ids = [r.headers["webhook-id"] for r in got]
    assert len(set(ids)) == 2 and all(i.startswith("msg_") for i in ids)
    assert got[0].path == "/hooks/sluice" and got[0].headers["content-type"] == "application/json"
    log = hooks.log(created["webhookId"])["items"]
    assert [(a["type"], a["attempt"], a["status"], a["responseCode"], a["nextAttemptAt"]) for a in log] == [
        ("job.completed", 1, "succeeded", 204, None), ("job.accepted", 1, "succeeded", 204, None)]
    assert {a["eventId"] for a in log} == set(ids) and all(a["durationMs"] >= 0 for a in log)


def test_an_upload_url_job_is_accepted_when_its_upload_starts_it(hooks: Hooks) -> None:
    h = hooks.harness
    created = hooks.register(events=["job.accepted", "job.completed"])
    job = h.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "up.csv"}).json()
    assert job["status"] == "Initialized"
    h.pump()
    assert hooks.receiver.received == []  # Initialized is no event
    h.s3.put_object(Bucket=h.clients.settings.bucket, Key=f"uploads/acme/{job['jobId']}/data",
                    Body=b"email\nup@x.org\n")
    h.pump()
    events = [_verified(created["secret"], r) for r in hooks.receiver.wait_for(lambda seen: len(seen) >= 2)]
    assert [(e["type"], e["data"]["status"]) for e in events] == [("job.accepted", "Processing"),
                                                                  ("job.completed", "Completed")]


def test_only_the_events_asked_for_are_sent_and_exports_carry_their_view(hooks: Hooks) -> None:
    h = hooks.harness
    finished_only = hooks.register(events=["job.completed", "export.completed"])
    h.run(h.submit_csv("email\na@x.org\n")["jobId"])
    export = h.call("POST", "/v1/exports", json_body={"itemType": "contact"}).json()
    h.pump()
    got = hooks.receiver.wait_for(lambda seen: len(seen) >= 2)
    events = [_verified(finished_only["secret"], r) for r in got]
    assert [e["type"] for e in events] == ["job.completed", "export.completed"]
    shown = h.call("GET", f"/v1/exports/{export['exportId']}").json()
    data = events[1]["data"]
    assert data["exportId"] == export["exportId"] and data["status"] == "Completed"
    assert data["recordsProcessed"] == shown["recordsProcessed"] == 1 and len(data["links"]["download"]) == 1


def test_an_event_too_large_for_an_item_is_kept_in_s3_and_sent_whole(hooks: Hooks, monkeypatch: pytest.MonkeyPatch
                                                                      ) -> None:
    from sluice.store import webhooks as webhook_store

    monkeypatch.setattr(webhook_store, "BODY_INLINE_MAX", 64)
    h = hooks.harness
    created = hooks.register(events=["job.completed"])
    job = h.run(h.submit_csv("email\n" + "".join(f"p{i}@x.org\n" for i in range(50)))["jobId"])
    got = hooks.receiver.wait_for(lambda seen: len(seen) >= 1)
    event = _verified(created["secret"], got[0])
    assert len(event["data"]["objectsCreated"]) == 50 and event["data"]["jobId"] == job["jobId"]
    stored = h.s3.list_objects_v2(Bucket=h.clients.settings.bucket, Prefix="webhooks/acme/")["Contents"]
    assert [o["Key"] for o in stored] == [f"webhooks/acme/{got[0].headers['webhook-id']}.json"]


def test_redelivered_messages_and_repeated_announcements_make_no_second_event(hooks: Hooks) -> None:
    h = hooks.harness
    hooks.register()
    job = h.submit_csv("email\na@x.org\n")
    h.pump_twice()  # every message, job chunks and webhook attempts alike, handled twice
    got = hooks.receiver.wait_for(lambda seen: len(seen) >= 2)
    assert [r.event["type"] for r in got] == ["job.accepted", "job.completed"]
    done = WebhookStore(h.clients)
    from sluice.store.jobs import JobStore

    stored = JobStore(h.clients).get("acme", job["jobId"])
    assert stored is not None
    webhooks.announce_job(h.clients, stored)  # the same change announced again
    assert h.pump() == 0 and len(hooks.receiver.received) == 2
    assert len(done.endpoints("acme")) == 1


def test_failed_attempts_are_retried_with_backoff_and_all_show_in_the_log(hooks: Hooks) -> None:
    h = hooks.harness
    created = hooks.register(events=["job.completed"])
    hooks.receiver.status = 503
    hooks.receiver.answer = b"busy, come back later"
    job = h.submit_csv("email\na@x.org\n")
    h.pump()
    failures = len(hooks.receiver.received)
    assert failures == MAX_ATTEMPTS  # the whole (sped-up) schedule, every attempt refused
    log = hooks.log(created["webhookId"])["items"]
    assert [a["attempt"] for a in log] == list(range(MAX_ATTEMPTS, 0, -1))
    assert {(a["status"], a["responseCode"]) for a in log} == {("failed", 503)}
    assert log[0]["nextAttemptAt"] is None and all(a["nextAttemptAt"] for a in log[1:])
    assert log[0]["response"] == "busy, come back later" and "503" in log[0]["error"]
    assert len({r.headers["webhook-id"] for r in hooks.receiver.received}) == 1  # one event, retried
    # the endpoint comes back; the delivery is sent again by hand
    hooks.receiver.status = 200
    delivery_id = log[0]["deliveryId"]
    disabled = h.call("GET", f"/v1/webhooks/{created['webhookId']}").json()
    assert disabled["enabled"] is False and "every attempt" in disabled["disabledReason"]
    refused = h.call("POST", f"/v1/webhooks/{created['webhookId']}/deliveries/{delivery_id}/redeliver")
    assert refused.status_code == 409
    h.call("PATCH", f"/v1/webhooks/{created['webhookId']}", json_body={"enabled": True})
    again = h.call("POST", f"/v1/webhooks/{created['webhookId']}/deliveries/{delivery_id}/redeliver")
    assert again.status_code == 202 and again.json()["attempt"] == MAX_ATTEMPTS + 1
    h.pump()
    last = hooks.receiver.received[-1]
    assert _verified(created["secret"], last)["data"]["jobId"] == job["jobId"]
    assert last.headers["webhook-id"] == hooks.receiver.received[0].headers["webhook-id"]
    newest = hooks.log(created["webhookId"], "?limit=1")
    assert newest["items"][0]["status"] == "succeeded" and newest["items"][0]["attempt"] == MAX_ATTEMPTS + 1
    # paging through the whole log
    seen, cursor = [], None
    while True:
        page = hooks.log(created["webhookId"], "?limit=4" + (f"&cursor={cursor}" if cursor else ""))
        seen += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(seen) == MAX_ATTEMPTS + 1
    assert h.call("GET", f"/v1/webhooks/{created['webhookId']}/deliveries?cursor=bogus").status_code == 400


def test_the_backoff_schedule_and_waits_longer_than_sqs_allows(hooks: Hooks, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """With the real schedule and a clock the test moves: each attempt waits as RETRY_DELAYS_S says (no
    jitter here), and a wait over 15 minutes is made of several delayed messages."""
    h = hooks.harness
    monkeypatch.setenv("SLUICE_WEBHOOK_RETRY_SPEEDUP", "1")
    reset_clients()
    clients = get_clients()
    created = hooks.register(events=["job.completed"])
    h.submit_csv("email\na@x.org\n")
    while sum(p.poll_once(0) for q, p in h.pollers.items() if q != "WebhookQueue"):
        pass  # the job runs; its event waits on the webhook queue
    queued: list[tuple[DeliveryMessage, int]] = []
    monkeypatch.setattr(WebhookStore, "enqueue", lambda self, message, delay_s=0: queued.append((message, delay_s)))
    first = h.receive("WebhookQueue")
    assert len(first) == 1
    message = DeliveryMessage.model_validate_json(first[0]["Body"])
    clock = {"now": 1_900_000_000_000}
    monkeypatch.setattr(webhooks, "now_ms", lambda: clock["now"])
    monkeypatch.setattr(webhooks.random, "random", lambda: 0.0)
    attempts: list[int] = []

    def refuse(url: str, headers: dict[str, str], body: bytes, allow_loopback: bool) -> AttemptOutcome:
        attempts.append(clock["now"])
        return AttemptOutcome(ok=False, responseCode=500, error="the endpoint answered 500")

    start = clock["now"]
    for delay in RETRY_DELAYS_S:
        assert webhooks.deliver(clients, message, refuse) == "retry-scheduled"
        message, wait = queued.pop()
        assert wait == min(delay, 900)
        waited = wait
        while waited < delay:  # early: the message is sent again for the rest of the wait
            clock["now"] += wait * 1000
            assert webhooks.deliver(clients, message, refuse) == "waiting"
            message, wait = queued.pop()
            assert wait == min(delay - waited, 900)
            waited += wait
        clock["now"] += wait * 1000
    assert webhooks.deliver(clients, message, refuse) == "failed"
    assert [round((t - start) / 1000) for t in attempts] == [
        sum(RETRY_DELAYS_S[:n]) for n in range(len(RETRY_DELAYS_S) + 1)]
    assert (attempts[-1] - start) / 3_600_000 > 27  # the last attempt comes over a day after the first
    assert webhooks.deliver(clients, message, refuse) == "duplicate"
    log = hooks.log(created["webhookId"])["items"]
    assert len(log) == MAX_ATTEMPTS


def test_a_failing_endpoint_is_disabled_and_the_tenants_other_endpoints_and_eventbridge_are_told(hooks: Hooks
                                                                                                  ) -> None:
    h = hooks.harness
    events, sqs = h.session.client("events"), h.sqs
    subscriber = sqs.create_queue(QueueName="webhook-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=subscriber, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="disabled", EventPattern=json.dumps({"source": ["sluice"],
                                                              "detail-type": ["Webhook Disabled"]}))
    events.put_targets(Rule="disabled", Targets=[{"Id": "q", "Arn": arn}])
    down = Receiver()  # never started: every connection is refused
    failing = hooks.register(url="http://127.0.0.1:9/never", events=["job.completed", "job.accepted"])
    watcher = hooks.register(events=["webhook.disabled"])
    h.run(h.submit_csv("email\na@x.org\n")["jobId"])
    del down
    got = hooks.receiver.wait_for(lambda seen: len(seen) >= 1)
    assert len(got) == 1
    told = _verified(watcher["secret"], got[0])
    assert told["type"] == "webhook.disabled" and told["data"]["webhookId"] == failing["webhookId"]
    assert told["data"]["enabled"] is False and "every attempt" in told["data"]["disabledReason"]
    shown = h.call("GET", f"/v1/webhooks/{failing['webhookId']}").json()
    assert shown["enabled"] is False and shown["disabledAt"]
    log = hooks.log(failing["webhookId"])["items"]
    assert {a["status"] for a in log} == {"failed"} and "connection refused" in log[0]["error"]
    published = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=subscriber, MaxNumberOfMessages=10
                                                                      ).get("Messages", [])]
    assert [p["detail"]["webhookId"] for p in published] == [failing["webhookId"]]
    assert published[0]["detail"]["tenant"] == "acme" and published[0]["detail-type"] == "Webhook Disabled"
    # the other event's delivery ended when the endpoint was disabled; nothing more is sent anywhere
    h.run(h.submit_csv("email\nb@x.org\n")["jobId"])
    assert len(hooks.receiver.received) == 1


def test_410_gone_disables_at_once(hooks: Hooks) -> None:
    h = hooks.harness
    hooks.receiver.status = 410
    created = hooks.register(events=["job.completed"])
    h.run(h.submit_csv("email\na@x.org\n")["jobId"])
    assert len(hooks.receiver.received) == 1
    shown = h.call("GET", f"/v1/webhooks/{created['webhookId']}").json()
    assert shown["enabled"] is False and "410" in shown["disabledReason"]


def test_rotation_signs_with_both_secrets(hooks: Hooks) -> None:
    h = hooks.harness
    created = hooks.register(events=["job.completed"])
    rotated = h.call("POST", f"/v1/webhooks/{created['webhookId']}/rotate-secret")
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["secret"] != created["secret"] and new["previousSecretExpiresAt"]
    h.run(h.submit_csv("email\na@x.org\n")["jobId"])
    got = hooks.receiver.wait_for(lambda seen: len(seen) >= 1)[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert _verified(new["secret"], got) == _verified(created["secret"], got)
    assert "secret" not in h.call("GET", f"/v1/webhooks/{created['webhookId']}").json()


def test_an_endpoint_that_resolves_to_a_private_address_later_is_refused_at_delivery(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    h = hooks.harness
    public_resolver(monkeypatch, {"hooks.example": ["93.184.216.34"]})
    created = hooks.register(url="https://hooks.example/in", events=["job.completed"])
    public_resolver(monkeypatch, {"hooks.example": ["10.20.30.40"]})  # DNS changed since (rebinding)
    h.run(h.submit_csv("email\na@x.org\n")["jobId"])
    log = hooks.log(created["webhookId"])["items"]
    assert len(log) == MAX_ATTEMPTS and all("private address" in a["error"] for a in log)
    assert all(a["responseCode"] is None for a in log)


def test_redirects_are_not_followed_and_slow_endpoints_time_out(hooks: Hooks, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    from sluice.notify import webhook_http

    h = hooks.harness
    created = hooks.register(events=["job.completed"])
    hooks.receiver.status = 302
    hooks.receiver.headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    h.run(h.submit_csv("email\na@x.org\n")["jobId"])
    log = hooks.log(created["webhookId"])["items"]
    assert log[0]["responseCode"] == 302 and "redirects are not followed" in log[0]["error"]
    assert len(hooks.receiver.received) == MAX_ATTEMPTS  # each attempt, never the Location
    h.call("PATCH", f"/v1/webhooks/{created['webhookId']}", json_body={"enabled": True})
    monkeypatch.setattr(webhook_http, "TIMEOUT_S", 0.5)
    hooks.receiver.status, hooks.receiver.headers, hooks.receiver.delay = 200, {}, 1.5
    outcome = webhook_http.post(hooks.receiver.url, {}, b"{}", allow_loopback=True)
    assert not outcome.ok and outcome.error == "timed out after 0.5 s" and outcome.durationMs < 1400


def test_crashes_between_steps_lose_no_event(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    h = hooks.harness
    created = hooks.register(events=["job.accepted", "job.completed"])
    h.retry_at_once()
    # the first attempt's message is lost: the delivery was stored, then the process died
    crash_once(monkeypatch, WebhookStore, "enqueue")
    job = h.submit_csv("email\na@x.org\n")  # the announcement is best effort: the job goes on
    h.pump()
    assert [r.event["type"] for r in hooks.receiver.received] == ["job.completed"]
    # time passes: the sweep finds the delivery whose message was lost and sends it again
    real_now = webhooks.now_ms
    offset = {"ms": webhooks.LOST_AFTER_MS + 1000}
    monkeypatch.setattr(webhooks, "now_ms", lambda: real_now() + offset["ms"])
    # ... and this time the process dies after the POST, before the attempt is recorded
    crash_once(monkeypatch, WebhookStore, "record")
    assert webhooks.sweep(h.clients) == {"requeued": 1, "failed": 0}
    h.pump()
    assert [r.event["type"] for r in hooks.receiver.received] == ["job.completed", "job.accepted"]
    offset["ms"] += webhooks.LOST_AFTER_MS + 60_000
    assert webhooks.sweep(h.clients) == {"requeued": 1, "failed": 0}
    h.pump()  # sent once more (at least once; the receiver deduplicates by webhook-id)
    received = hooks.receiver.received
    assert [r.event["type"] for r in received] == ["job.completed", "job.accepted", "job.accepted"]
    assert received[1].headers["webhook-id"] == received[2].headers["webhook-id"]
    assert all(r.event["data"]["jobId"] == job["jobId"] for r in received)
    offset["ms"] += 86_400_000
    assert webhooks.sweep(h.clients) == {"requeued": 0, "failed": 0}
    assert {a["status"] for a in hooks.log(created["webhookId"])["items"]} == {"succeeded"}


def test_a_crash_between_the_last_failure_and_disabling_is_finished_by_the_retry(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    h = hooks.harness
    h.retry_at_once()
    failing = hooks.register(url="http://127.0.0.1:9/never", events=["job.completed"])
    watcher = hooks.register(events=["webhook.disabled"])
    crash_once(monkeypatch, WebhookStore, "disable")
    h.run(h.submit_csv("email\na@x.org\n")["jobId"])
    assert h.call("GET", f"/v1/webhooks/{failing['webhookId']}").json()["enabled"] is False
    got = hooks.receiver.wait_for(lambda seen: len(seen) >= 1)
    assert len(got) == 1 and _verified(watcher["secret"], got[0])["data"]["webhookId"] == failing["webhookId"]


def test_sample_events_drive_the_webhook_function(hooks: Hooks) -> None:
    from pathlib import Path

    samples = Path(__file__).parents[2] / "events"
    attempt = json.loads((samples / "webhook-attempt.json").read_text())
    assert hooks.harness.invoke("WebhookFunction", attempt) == {"batchItemFailures": []}
    schedule = json.loads((samples / "webhook-sweep.json").read_text())
    assert hooks.harness.invoke("WebhookFunction", schedule) == {"report": {"requeued": 0, "failed": 0}}
