"""The console's Webhooks pages in a real browser: register an endpoint (secret shown once), watch a job's events
arrive and the delivery log list every attempt, redeliver one, disable, rotate, delete; a key without
webhooks:admin sees the controls disabled with the reason."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Stack, axe_violations, shoot, sign_in
from tests.browser.test_console import PEOPLE, PERSON, unique
from tests.receiver import Receiver


def _events_of(job_id: str, receiver: Receiver) -> list[str]:
    return [r.event["type"] for r in receiver.received if r.event["data"].get("jobId") == job_id]


def test_an_endpoint_its_deliveries_and_its_life(page: Any, stack: Stack) -> None:
    receiver = Receiver().start()
    try:
        sign_in(page, path="/console/webhooks")
        expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("Description").fill("browser test")
        expect(page.get_by_label("All events")).to_be_checked()
        page.get_by_label("All events").uncheck()
        page.get_by_label("job.accepted").check()
        page.get_by_label("job.completed").check()
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.get_by_role("textbox", name="Signing secret")
        expect(secret).to_have_value(re.compile(r"^whsec_[A-Za-z0-9+/=]{40,}$"))
        expect(page.get_by_text("this is the only time the secret is shown")).to_be_visible()
        shoot(page, "10-webhook-created")
        page.get_by_role("button", name="Done").click()
        expect(secret).to_have_count(0)
        row = page.get_by_role("row").filter(has_text=receiver.url)
        expect(row).to_contain_text("job.accepted, job.completed")
        expect(row).to_contain_text("enabled")
        webhook_id = next(w["webhookId"] for w in stack.call("GET", "/v1/webhooks").json()["items"]
                          if w["url"] == receiver.url)

        item_type = unique("hooked")
        stack.put_item_type(item_type, PERSON)
        job_id = stack.submit_csv(item_type, PEOPLE)["jobId"]
        stack.wait_job(job_id)
        receiver.wait_for(lambda _: "job.completed" in _events_of(job_id, receiver))

        row.get_by_role("link", name=receiver.url).click()
        expect(page).to_have_url(re.compile(f"/console/webhooks/{webhook_id}$"))
        log = page.get_by_role("table", name="Delivery attempts, newest first")
        completed = log.get_by_role("row").filter(has_text="job.completed")
        expect(completed.first).to_contain_text("succeeded (204)")
        shoot(page, "11-webhook-deliveries")

        # a redelivery is a new attempt of the same event, logged with what the receiver answered this time
        receiver.status = 500
        attempts_before = len(stack.call("GET", f"/v1/webhooks/{webhook_id}/deliveries").json()["items"])
        completed.first.get_by_role("button", name=re.compile("^Redeliver job.completed")).click()
        expect(page.get_by_role("status").filter(has_text="Redelivery queued.")).to_be_visible()
        receiver.wait_for(lambda _: _events_of(job_id, receiver).count("job.completed") == 2)

        def attempts() -> list[dict[str, Any]]:
            return list(stack.call("GET", f"/v1/webhooks/{webhook_id}/deliveries").json()["items"])

        failed: list[dict[str, Any]] = []
        for _ in range(100):  # the attempt is logged just after the receiver answered
            failed = [a for a in attempts() if a["status"] == "failed"]
            if failed:
                break
            page.wait_for_timeout(100)
        assert len(attempts()) == attempts_before + 1
        assert failed[0]["type"] == "job.completed" and failed[0]["responseCode"] == 500
        page.reload()
        expect(log.get_by_role("row").filter(has_text="failed (500)")).to_have_count(1)

        page.get_by_role("button", name="Disable endpoint").click()
        expect(page.get_by_role("status").filter(has_text="Endpoint disabled.")).to_be_visible()
        expect(page.get_by_text("disabled by a PATCH request")).to_be_visible()
        assert stack.call("GET", f"/v1/webhooks/{webhook_id}").json()["enabled"] is False
        page.get_by_role("button", name="Enable endpoint").click()
        expect(page.get_by_role("status").filter(has_text="Endpoint enabled.")).to_be_visible()

        page.get_by_label("All events").check()
        page.get_by_role("button", name="Save events").click()
        expect(page.get_by_role("status").filter(has_text="Events saved.")).to_be_visible()
        assert stack.call("GET", f"/v1/webhooks/{webhook_id}").json()["events"] == ["*"]

        page.get_by_role("button", name="Rotate secret").click()
        expect(page.get_by_role("textbox", name="Signing secret")).to_have_value(re.compile(r"^whsec_"))
        expect(page.get_by_text("The previous secret also signs deliveries until")).to_be_visible()
        page.get_by_role("button", name="Done").click()

        page.get_by_role("button", name="Delete endpoint").click()
        page.get_by_role("button", name="Yes, delete").click()
        expect(page).to_have_url(re.compile("/console/webhooks$"))
        expect(page.get_by_role("row").filter(has_text=receiver.url)).to_have_count(0)
        assert stack.call("GET", f"/v1/webhooks/{webhook_id}").status_code == 404
    finally:
        receiver.stop()
        for hook in stack.call("GET", "/v1/webhooks").json().get("items", []):
            if hook["url"] == receiver.url:
                stack.call("DELETE", f"/v1/webhooks/{hook['webhookId']}")


def test_a_key_without_webhooks_admin_sees_why(page: Any, stack: Stack) -> None:
    reader = stack.call("POST", "/v1/api-keys", json={"name": unique("reader"), "permissions": ["imports:read"]})
    assert reader.status_code == 201, reader.text
    sign_in(page, key=reader.json()["key"], path="/console/webhooks")
    expect(page.get_by_role("button", name="Add endpoint")).to_be_disabled()
    expect(page.get_by_role("note")).to_have_text(
        "Needs the webhooks:admin permission; this key has: imports:read.")
    page.goto("/console/webhooks/wh_missing")
    expect(page.get_by_role("note")).to_contain_text("Needs the webhooks:admin permission")


def test_another_tenants_endpoint_is_not_found(page: Any, stack: Stack) -> None:
    sign_in(page, key="globex-key", path="/console/webhooks/wh_00000000000000000000000000")
    expect(page.get_by_role("alert")).to_have_text("Webhook wh_00000000000000000000000000 not found.")


@pytest.mark.axe
def test_the_webhooks_page_has_no_axe_violations(page: Any, stack: Stack) -> None:
    sign_in(page, path="/console/webhooks")
    expect(page.get_by_role("heading", name="New endpoint")).to_be_visible()
    assert axe_violations(page) == []
