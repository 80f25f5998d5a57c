"""Reverting an import from its page in the console: the preview's counts first, then the revert."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Stack, axe_violations, shoot, sign_in

PERSON = {"key": ["email"],
          "fields": {"email": {"type": "email", "required": True}, "name": {"type": "string"},
                     "age": {"type": "integer", "min": 0, "max": 150}}}


def preview_of(page: Any) -> dict[str, str]:
    items = page.get_by_role("status", name="Revert preview").get_by_role("listitem").all_inner_texts()
    return {text.split()[0] if not text.startswith("bring back") else "bring back":
            text.split()[2 if text.startswith("bring back") else 1] for text in items}


@pytest.mark.axe
def test_revert_an_import_after_its_preview(page: Any, stack: Stack) -> None:
    item_type = f"rev{uuid.uuid4().hex[:8]}"
    stack.put_item_type(item_type, PERSON)
    stack.wait_job(stack.submit_csv(item_type, "email,name,age\nann@x.org,Ann,34\nbob@x.org,Bob,40\n")["jobId"])
    job = stack.wait_job(stack.submit_csv(
        item_type, "email,name,age\nann@x.org,Ann,35\ncy@x.org,Cy,1\ndee@x.org,Dee,2\nbob@x.org,Bob,40\n")["jobId"])
    assert (job["counts"]["created"], job["counts"]["updated"], job["counts"]["unchanged"]) == (2, 1, 1)
    sign_in(page, path=f"/console/jobs/{job['jobId']}")
    page.get_by_role("button", name="Revert…").click()
    expect(page.get_by_role("status", name="Revert preview")).to_be_visible(timeout=30_000)
    assert preview_of(page) == {"delete": "2", "restore": "1", "conflicts": "0"}
    assert stack.call("GET", f"/v1/records/{item_type}/cy@x.org").status_code == 200  # the preview wrote nothing
    assert axe_violations(page) == []
    shoot(page, "20-revert-preview")
    page.get_by_role("button", name="Confirm revert").click()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{job['jobId']}$"))
    expect(page.get_by_text("status Completed", exact=True)).to_be_visible(timeout=60_000)
    for word, value in (("deleted", 2), ("updated", 1), ("failed", 0)):
        expect(page.get_by_text(f"{word} {value}", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=job["jobId"])).to_be_visible()  # Revert of
    shoot(page, "21-reverted")
    assert stack.call("GET", f"/v1/records/{item_type}/ann@x.org").json()["attributes"]["age"] == 34
    assert stack.call("GET", f"/v1/records/{item_type}/cy@x.org").status_code == 404
    page.get_by_role("link", name=job["jobId"]).click()
    expect(page.get_by_text("Reverted by")).to_be_visible()
    expect(page.get_by_role("button", name="Revert…")).to_have_count(0)


def test_a_read_only_key_cannot_revert(page: Any, stack: Stack) -> None:
    item_type = f"rev{uuid.uuid4().hex[:8]}"
    stack.put_item_type(item_type, PERSON)
    job = stack.wait_job(stack.submit_csv(item_type, "email\nann@x.org\n")["jobId"])
    key = stack.call("POST", "/v1/api-keys", json={"name": "ro", "permissions": ["imports:read"]}).json()["key"]
    sign_in(page, key=key, path=f"/console/jobs/{job['jobId']}")
    expect(page.get_by_role("button", name="Revert…")).to_be_disabled()
    expect(page.get_by_text("Needs the imports:write permission; this key has: imports:read.").first).to_be_visible()
