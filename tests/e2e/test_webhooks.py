"""Webhooks over real HTTP, as a user sets them up: a tenant's first key and its endpoint made with the `sluice`
command, a receiver on 127.0.0.1 that checks every signature with the `standardwebhooks` reference library,
gets a job's life in order, is down for a while (the retries deliver later), and the delivery log shows
every attempt. The local stack runs the retry schedule 300 times faster (SLUICE_SCHEDULE_SPEEDUP)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from standardwebhooks import Webhook as ReferenceWebhook

from tests.e2e.conftest import Stack
from tests.harness import CONTACT_SCHEMA
from tests.receiver import Receiver

SLUICE = str(Path(sys.executable).parent / "sluice")


def _sluice(stack: Stack, *args: str, key: str = "") -> Any:
    env = {**os.environ, "SLUICE_URL": stack.api, "SLUICE_API_KEY": key, "AWS_ACCESS_KEY_ID": "local",
           "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}
    run = subprocess.run([SLUICE, *args], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def _submit(stack: Stack, key: str, email: str) -> str:
    reply = requests.post(f"{stack.api}/v1/jobs", headers=stack.headers(key), timeout=10,
                          files={"file": ("people.csv", io.BytesIO(f"email,age\n{email},7\nbad,1\n".encode()))},
                          data={"itemType": "contact"})
    assert reply.status_code == 202, reply.text
    return str(reply.json()["jobId"])


def _log(stack: Stack, key: str, webhook_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _sluice(stack, "webhooks", "deliveries", webhook_id, "--json", "--limit", "50",
                       *(["--cursor", cursor] if cursor else []), key=key)
        items += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            return items


def test_a_receiver_gets_a_jobs_life_signed_and_in_order_even_after_being_down(stack: Stack) -> None:
    tenant = f"hooks-{uuid.uuid4().hex[:8]}"  # a tenant of its own: no other test's jobs reach this receiver
    key = _sluice(stack, "create-key", "--tenant", tenant, "--table", "JobsTable", "--endpoint-url", stack.aws)["key"]
    assert requests.put(f"{stack.api}/v1/item-types/contact", json=CONTACT_SCHEMA, headers=stack.headers(key),
                        timeout=10).status_code in (200, 201)
    receiver = Receiver().start()
    try:
        created = _sluice(stack, "webhooks", "create", receiver.url, "--events", "*", "--description", "e2e", key=key)
        secret, webhook_id = created["secret"], created["webhookId"]
        verifier = ReferenceWebhook(secret)

        def events_of(job_id: str, seen: list[Any]) -> list[dict[str, Any]]:
            return [e for e in (verifier.verify(r.body, r.headers) for r in seen) if e["data"]["jobId"] == job_id]

        # 1. the receiver is up: the job's life arrives in order, each event signed and as GET shows the job
        first = _submit(stack, key, "one@x.org")
        finished = stack.wait_job(first, key)
        got = receiver.wait_for(lambda seen: len(events_of(first, seen)) >= 2)
        life = events_of(first, got)
        assert [e["type"] for e in life] == ["job.accepted", "job.completed"]
        assert life[1]["data"]["counts"] == finished["counts"] and life[1]["data"]["status"] == "Completed"
        assert life[0]["timestamp"] <= life[1]["timestamp"]

        # 2. the receiver goes down; a second job's events fail, and are retried
        receiver.stop()
        second = _submit(stack, key, "two@x.org")
        stack.wait_job(second, key)
        deadline = time.time() + 30
        while time.time() < deadline:
            failed = [a for a in _log(stack, key, webhook_id) if a["status"] == "failed"]
            if len({a["deliveryId"] for a in failed}) == 2 and len(failed) >= 3:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the attempts did not fail as expected: {_log(stack, key, webhook_id)}")
        assert all(a["responseCode"] is None and "refused" in a["error"] and a["nextAttemptAt"] for a in failed)

        # 3. it comes back: the retries deliver, with the same webhook-id each event had from the start
        receiver.start()
        got = receiver.wait_for(lambda seen: len(events_of(second, seen)) >= 2, timeout=90)
        later = sorted(events_of(second, got), key=lambda e: e["timestamp"])
        assert [e["type"] for e in later] == ["job.accepted", "job.completed"]
        assert later[1]["data"]["counts"]["created"] == 1 and later[1]["data"]["counts"]["failed"] == 1

        # 4. the delivery log shows every attempt: failures, then the success, numbered from 1
        log = _log(stack, key, webhook_id)
        ids = {r.headers["webhook-id"] for r in got if r.event["data"]["jobId"] == second}
        for delivery in {a["deliveryId"] for a in log if a["eventId"] in ids}:
            attempts = sorted((a for a in log if a["deliveryId"] == delivery), key=lambda a: a["attempt"])
            assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
            assert [a["status"] for a in attempts] == ["failed"] * (len(attempts) - 1) + ["succeeded"]
            assert len(attempts) >= 2 and attempts[-1]["responseCode"] == 204 and attempts[-1]["nextAttemptAt"] is None
        assert len([a for a in log if a["eventId"] in ids and a["status"] == "succeeded"]) == 2
        listed = requests.get(f"{stack.api}/v1/webhooks/{webhook_id}", headers=stack.headers(key), timeout=10).json()
        assert listed["enabled"] is True and listed["lastSuccessAt"] and "secret" not in listed
    finally:
        receiver.stop()
