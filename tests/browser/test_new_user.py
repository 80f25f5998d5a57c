"""Findings of a new-user trial of the console, at the 1280 px wide window they used: the jobs table fits, times
read one way, a job's warnings show beside its status, and a job already retried says so before another retry."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Stack, axe_violations, shoot, sign_in
from tests.browser.test_console import PEOPLE, PERSON, expect_counts, unique

WIDTH, HEIGHT = 1280, 900
ZONE = "Asia/Kolkata"  # UTC+05:30 all year: a local time that differs from UTC by a half hour, never ambiguous
LOCALE_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")


@pytest.fixture
def kolkata(browser: Any, stack: Stack) -> Iterator[Any]:
    """A page in a browser whose clock is Kolkata's and whose locale writes dates month first (en-US)."""
    context = browser.new_context(base_url=stack.api, viewport={"width": WIDTH, "height": HEIGHT},
                                  timezone_id=ZONE, locale="en-US")
    context.set_default_timeout(15_000)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    yield opened
    context.close()
    assert problems == []


def local_minute(iso: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M")


def overflow(page: Any) -> dict[str, int]:
    return page.evaluate("""() => {
      const wrap = document.querySelector('.table-wrap');
      const table = wrap.querySelector('table');
      return {page: document.documentElement.scrollWidth, window: window.innerWidth,
              table: table.scrollWidth, wrap: wrap.clientWidth};
    }""")


@pytest.mark.axe
def test_the_jobs_table_fits_a_1280_px_window(page: Any, stack: Stack) -> None:
    item_type = unique("wide_item_type_name_")
    stack.put_item_type(item_type, PERSON)
    path = unique("NIGHTLY-CRM-EXPORT-").upper()
    done = stack.submit_csv(item_type, PEOPLE, creationPath=path,
                            jobName="crm-people-export-2026-12-04-final-v2 (after the merge of the two lists).csv")
    stack.wait_job(done["jobId"])
    waiting = stack.call("POST", "/v1/jobs", json={"itemType": item_type, "fileName": "later.csv",
                                                   "creationPath": path}).json()
    sign_in(page, path=f"/console/jobs?creationPath=API:{path}")
    table = page.get_by_role("table", name="Import jobs, newest first")
    expect(table.get_by_role("link", name=waiting["jobId"])).to_be_visible()
    expect(table.get_by_text("Completed")).to_be_visible()
    shoot(page, "30-jobs-at-1280")
    assert axe_violations(page) == []
    sizes = overflow(page)
    assert sizes["page"] <= sizes["window"] == WIDTH, sizes  # no sideways scrolling of the page
    assert sizes["table"] <= sizes["wrap"], sizes  # nor of the table: every column is in view
    assert table.locator("thead th").all_inner_texts() == ["Job", "Name", "Item type", "Status", "Created", "Updated",
                                                           "Unchanged", "Failed", "Submitted"]
    waiting_row = table.locator("tr", has=page.get_by_role("link", name=waiting["jobId"]))
    expect(waiting_row.get_by_role("progressbar", name=f"Progress of job {waiting['jobId']}")).to_be_visible()
    expect(waiting_row.get_by_text(f"API:{path}", exact=True)).to_be_visible()  # the creation path, under the id
    for column in ("Job", "Name", "Item type", "Status", "Failed", "Submitted"):
        header = table.get_by_role("columnheader", name=column, exact=True)
        box = header.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (column, box)


def test_times_read_one_way_in_local_time_with_the_iso_time_on_hover(kolkata: Any, stack: Stack) -> None:
    page = kolkata
    item_type = unique("timed")
    stack.put_item_type(item_type, PERSON)
    path = unique("TIMES").upper()
    job = stack.wait_job(stack.submit_csv(item_type, PEOPLE, creationPath=path)["jobId"])
    sign_in(page, path=f"/console/jobs?creationPath=API:{path}")
    table = page.get_by_role("table", name="Import jobs, newest first")
    submitted = table.locator("tbody tr").first.locator("time")
    expect(submitted).to_have_text(local_minute(job["submitTime"]))
    expect(submitted).to_have_attribute("title", job["submitTime"])
    expect(submitted).to_have_attribute("datetime", job["submitTime"])
    shoot(page, "31-jobs-times")

    page.goto(f"/console/jobs/{job['jobId']}")
    expect_counts(page, "Completed", total=4, failed=2)
    details = page.locator("dl.details")
    for term, field in (("Submitted", "submitTime"), ("Started", "startTime"), ("Finished", "finishTime")):
        shown = details.locator("div", has=page.locator("dt", has_text=term)).locator("time")
        expect(shown).to_have_text(local_minute(job[field]))
        expect(shown).to_have_attribute("title", job[field])
    shoot(page, "32-job-times")

    # every page that shows a time shows it the same way
    export_id = stack.call("POST", "/v1/exports", json={"itemType": item_type, "contentType": "text/csv"}).json()[
        "exportId"]
    webhook = stack.call("POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9/never",
                                                        "events": ["export.completed"]})
    assert webhook.status_code == 201, webhook.text
    webhook_id = webhook.json()["webhookId"]
    try:
        for where in ("/console/jobs", f"/console/jobs/{job['jobId']}", "/console/item-types",
                      f"/console/item-types/{item_type}", "/console/api-keys", "/console/exports",
                      f"/console/webhooks/{webhook_id}"):
            page.goto(where)
            expect(page.locator("main time").first).to_be_visible()
            for shown in page.locator("main time").all():
                iso = shown.get_attribute("datetime")
                assert shown.get_attribute("title") == iso, where
                assert shown.inner_text() == local_minute(iso), (where, shown.inner_text(), iso)
            text = page.locator("main").inner_text()
            assert not LOCALE_DATE.search(text), (where, LOCALE_DATE.findall(text))
    finally:
        stack.call("DELETE", f"/v1/webhooks/{webhook_id}")
        deadline = time.time() + 60
        while not stack.call("GET", f"/v1/exports/{export_id}").json()["finished"] and time.time() < deadline:
            time.sleep(0.2)


@pytest.mark.axe
def test_a_jobs_warnings_show_beside_its_status(page: Any, stack: Stack) -> None:
    item_type = unique("warned")
    stack.put_item_type(item_type, PERSON)
    text = "email,nmae,colour,shoe,hat,coat\n" + "".join(f"p{i}@example.org,P{i},red,1,2,3\n" for i in range(40))
    job = stack.wait_job(stack.submit_csv(item_type, text)["jobId"])
    messages = [w["message"] for w in job["warnings"]]
    assert len(messages) == 5 and messages[0] == ("column 'nmae' matches no field and was ignored; "
                                                  "did you mean 'name'?")
    sign_in(page, path=f"/console/jobs/{job['jobId']}")
    expect_counts(page, "Completed", total=40, created=40, failed=0)
    summary = page.get_by_role("region", name="Summary")
    warned = summary.get_by_role("note", name="Warnings")
    expect(warned).to_be_visible()
    expect(warned.locator(".warnings-count")).to_have_text("5 warnings")
    expect(warned.get_by_role("listitem")).to_have_text(messages[:3])
    expect(warned.get_by_role("link", name="all 5 warnings")).to_be_visible()
    box = warned.bounding_box()
    assert box is not None and box["y"] + box["height"] <= HEIGHT, box  # above the fold
    shoot(page, "33-job-warnings")
    assert axe_violations(page) == []
    warned.get_by_role("link", name="all 5 warnings").click()
    expect(page.locator("#warnings-heading")).to_be_in_viewport()
    expect(page.locator("#details-warnings li")).to_have_text(messages)


def test_a_job_with_no_warning_shows_no_warning_note(page: Any, stack: Stack) -> None:
    item_type = unique("quiet")
    stack.put_item_type(item_type, PERSON)
    job = stack.wait_job(stack.submit_csv(item_type, "email\nann@example.org\n")["jobId"])
    sign_in(page, path=f"/console/jobs/{job['jobId']}")
    expect_counts(page, "Completed", total=1, created=1)
    expect(page.get_by_role("note", name="Warnings")).to_have_count(0)


def _open_a_job_with_failed_rows(page: Any, stack: Stack, prefix: str) -> str:
    """Imports PEOPLE (4 rows, 2 failing) into a new item type and opens the job's page; the job's id."""
    item_type = unique(prefix)
    stack.put_item_type(item_type, PERSON)
    job_id: str = stack.wait_job(stack.submit_csv(item_type, PEOPLE)["jobId"])["jobId"]
    sign_in(page, path=f"/console/jobs/{job_id}")
    expect_counts(page, "Completed", total=4, failed=2)
    return job_id


@pytest.mark.axe
def test_a_job_retried_already_links_its_retry_and_asks_before_another(page: Any, stack: Stack) -> None:
    job_id = _open_a_job_with_failed_rows(page, stack, "retried")
    page.get_by_role("button", name="Retry failed rows").click()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{job_id}$"))
    first_retry = page.url.rsplit("/", 1)[1]
    expect_counts(page, "Completed", total=2, failed=2)

    page.goto(f"/console/jobs/{job_id}")
    expect_counts(page, "Completed", total=4, failed=2)
    actions = page.get_by_role("region", name="Actions")
    expect(actions.get_by_text("The failed rows were retried already by")).to_be_visible()
    expect(actions.get_by_role("link", name=first_retry)).to_be_visible()
    expect(page.get_by_role("button", name="Retry failed rows", exact=True)).to_have_count(0)
    shoot(page, "34-retried-job")
    # another retry takes a second, deliberate click, and says what it does
    actions.get_by_role("button", name="Retry again…").click()
    confirm = actions.get_by_role("alertdialog", name="Retry the failed rows again?")
    expect(confirm).to_contain_text("A second job would import the same 2 failed rows again.")
    shoot(page, "35-retry-again-confirm")
    assert axe_violations(page) == []
    confirm.get_by_role("button", name="Keep the existing retry").click()
    expect(confirm).to_have_count(0)
    assert stack.call("GET", f"/v1/jobs/{job_id}").json()["retries"] == [first_retry]
    actions.get_by_role("button", name="Retry again…").click()
    confirm.get_by_role("button", name="Retry again").click()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{job_id}$"))
    second_retry = page.url.rsplit("/", 1)[1]
    assert second_retry != first_retry
    assert stack.call("GET", f"/v1/jobs/{job_id}").json()["retries"] == [first_retry, second_retry]
    page.goto(f"/console/jobs/{job_id}")
    expect(actions.get_by_role("link")).to_have_text([first_retry, second_retry])


def test_a_double_click_on_retry_starts_one_retry(page: Any, stack: Stack) -> None:
    job_id = _open_a_job_with_failed_rows(page, stack, "twice")
    page.get_by_role("button", name="Retry failed rows").dblclick()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{job_id}$"))
    expect_counts(page, "Completed", total=2, failed=2)
    retries = stack.call("GET", f"/v1/jobs/{job_id}").json()["retries"]
    assert retries == [page.url.rsplit("/", 1)[1]]
