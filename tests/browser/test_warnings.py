"""Issue 18: the console's job page shows a job's warnings (objects since issue 18) as their messages."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Stack, sign_in
from tests.browser.test_console import PERSON, expect_counts, unique


def test_job_page_lists_warnings_with_the_nearest_field(page: Any, stack: Stack) -> None:
    item_type = unique("person")
    stack.put_item_type(item_type, PERSON)
    job_id = stack.submit_csv(item_type, "email,nmae\nann@example.org,Ann\n")["jobId"]
    job = stack.wait_job(job_id)
    assert [w["code"] for w in job["warnings"]] == ["unknown-column"]
    sign_in(page, path=f"/console/jobs/{job_id}")
    expect_counts(page, "Completed", total=1, created=1, failed=0)
    expect(page.locator(".warnings li")).to_have_text(["column 'nmae' matches no field and was ignored; "
                                                       "did you mean 'name'?"])
