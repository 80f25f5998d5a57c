"""The web console driven by accessible names in headless Chromium, against the local stack (API.md, "The web
console"). Every count and value is asserted exactly; each page is photographed into screenshots/."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Stack, axe_violations, shoot, sign_in

PERSON = {"key": ["email"],
          "fields": {"email": {"type": "email", "required": True}, "name": {"type": "string"},
                     "age": {"type": "integer", "min": 0, "max": 150}}}
PEOPLE = ("email,name,age\nann@example.org,Ann,34\nbob@example.org,Bob,-1\nnot-an-email,Cy,20\n"
          "dee@example.org,Dee,41\n")
PEOPLE_ERRORS = [["2", "age", "-1", "must be at least 0"],
                 ["3", "email", "not-an-email", "is not a valid email address"]]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def counts_of(page: Any) -> dict[str, str]:
    items = page.get_by_role("list", name="Row counts").get_by_role("listitem").all_inner_texts()
    pairs = [text.split() for text in items]
    assert all(len(pair) == 2 for pair in pairs), items
    return {word: value for word, value in pairs}


def expect_counts(page: Any, status: str, **counts: int) -> None:
    """The job's page shows `status <value>` and `<word> <count>` for each count, as text."""
    expect(page.get_by_text(f"status {status}", exact=True)).to_be_visible(timeout=60_000)
    for word, value in counts.items():
        expect(page.get_by_text(f"{word} {value}", exact=True)).to_be_visible()


def go(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def table_rows(table: Any) -> list[list[str]]:
    return [row.get_by_role("cell").all_inner_texts() for row in table.locator("tbody tr").all()]


def test_sign_in_wrong_key_then_right_key(page: Any, stack: Stack) -> None:
    page.goto("/console/")
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid API key")
    shoot(page, "01-sign-in-invalid")
    page.get_by_label("API key").fill("acme-key")
    page.get_by_role("button", name="Sign in").click()
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Jobs", "New import", "Item types", "Exports", "API keys"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('sluice.apiKey')") == "acme-key"
    assert page.evaluate("() => localStorage.length") == 0
    assert page.context.cookies() == []
    # the key lives in this tab only: a new tab (context) asks again
    page.reload()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('sluice.apiKey')") is None


def test_jobs_list_newest_first_with_filters_and_pages(page: Any, stack: Stack) -> None:
    item_type = unique("listed")
    other_type = unique("other")
    stack.put_item_type(item_type, PERSON)
    stack.put_item_type(other_type, PERSON)
    path = unique("LST").upper()
    first = stack.submit_csv(item_type, PEOPLE, creationPath=path)["jobId"]
    second = stack.submit_csv(other_type, "email\nzed@example.org\n", creationPath=path)["jobId"]
    third = stack.submit_csv(item_type, "email\nyan@example.org\n", creationPath=path)["jobId"]
    for job_id in (first, second, third):
        stack.wait_job(job_id)
    sign_in(page)
    page.get_by_label("Creation path starts with").fill(f"API:{path}")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("table", name="Import jobs, newest first")
    expect(table.get_by_role("link", name=first)).to_be_visible()
    links = table.locator("tbody tr td:first-child a").all_inner_texts()
    assert links == [third, second, first]
    rows = {row[0].split()[0]: row for row in table_rows(table)}
    assert rows[first][0].split() == [first, f"API:{path}"]  # the creation path under the job's id
    assert rows[first][2] == item_type and rows[first][3].split() == ["Completed", "4", "rows"]
    assert rows[first][4:8] == ["2", "0", "0", "2"]  # created, updated, unchanged, failed
    assert rows[third][4:8] == ["1", "0", "0", "0"]
    shoot(page, "02-jobs")

    page.get_by_label("Item type").select_option(item_type)
    expect(table.get_by_role("link", name=second)).to_have_count(0)
    assert table.locator("tbody tr td:first-child a").all_inner_texts() == [third, first]
    assert f"itemType={item_type}" in page.url and f"creationPath=API%3A{path}" in page.url
    page.get_by_label("Status").select_option("Rejected")
    expect(page.get_by_text("No jobs match.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_label("Creation path starts with")).to_have_value("")

    # pages of 20 via nextCursor: 21 jobs under one creation path
    many = unique("PG").upper()
    ids = [stack.submit_csv(item_type, f"email\np{i}@example.org\n", creationPath=many)["jobId"] for i in range(21)]
    page.goto(f"/console/jobs?creationPath=API:{many}")
    expect(table.locator("tbody tr")).to_have_count(20)
    assert table.locator("tbody tr td:first-child a").all_inner_texts() == ids[::-1][:20]
    page.get_by_role("navigation", name="Job pages").get_by_role("button", name="Next page").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    assert table.locator("tbody tr td:first-child a").all_inner_texts() == [ids[0]]
    page.get_by_role("button", name="Previous page").click()
    expect(table.locator("tbody tr")).to_have_count(20)
    # the row's link opens the job's page
    table.get_by_role("link", name=ids[-1]).click()
    expect(page).to_have_url(re.compile(f"/console/jobs/{ids[-1]}$"))
    expect_counts(page, "Completed", total=1, created=1, failed=0)


def test_jobs_list_is_live(page: Any, stack: Stack) -> None:
    item_type = unique("live")
    stack.put_item_type(item_type, PERSON)
    path = unique("LIVE").upper()
    sign_in(page, path=f"/console/jobs?creationPath=API:{path}")
    expect(page.get_by_text("No jobs match.")).to_be_visible()
    reply = stack.call("POST", "/v1/jobs", json={"itemType": item_type, "fileName": "later.csv", "creationPath": path})
    job_id = reply.json()["jobId"]
    table = page.get_by_role("table", name="Import jobs, newest first")
    row = table.locator("tr", has=page.get_by_role("link", name=job_id))
    expect(row.get_by_text("Initialized")).to_be_visible(timeout=10_000)
    expect(row.get_by_role("progressbar", name=f"Progress of job {job_id}")).to_be_visible()
    stack.call("POST", f"/v1/jobs/{job_id}/cancel")
    expect(row.get_by_text("Canceled")).to_be_visible(timeout=10_000)
    expect(row.get_by_role("progressbar")).to_have_count(0)


def test_job_page_counts_errors_downloads_and_retry(page: Any, stack: Stack) -> None:
    item_type = unique("person")
    stack.put_item_type(item_type, PERSON)
    job_id = stack.submit_csv(item_type, PEOPLE, jobName="people.csv")["jobId"]
    stack.wait_job(job_id)
    sign_in(page, path=f"/console/jobs/{job_id}")  # a deep link survives the sign-in
    expect_counts(page, "Completed", total=4, processed=4, created=2, updated=0, unchanged=0, failed=2)
    assert counts_of(page) == {"total": "4", "processed": "4", "created": "2", "updated": "0", "unchanged": "0",
                               "failed": "2"}
    errors = page.get_by_role("table", name="Row errors, in row order")
    expect(errors.locator("tbody tr")).to_have_count(2)
    assert errors.locator("thead th").all_inner_texts() == ["Row", "Field", "Value", "Message"]
    assert table_rows(errors) == PEOPLE_ERRORS
    page.get_by_text("Keys of the records created (2)").click()
    expect(page.locator(".created-keys li")).to_have_text(["ann@example.org", "dee@example.org"])
    files = page.get_by_role("table", name="Files of this job")
    assert table_rows(files)[0][0] == "data.csv" and table_rows(files)[0][2] == "4"
    shoot(page, "03-job")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download failed rows").click()
    assert download.value.suggested_filename == f"{job_id}-failed.csv"
    assert Path(download.value.path()).read_text().splitlines() == [
        "email,name,age,sluice_row,sluice_outcome,sluice_message",
        "bob@example.org,Bob,-1,2,failed,age: must be at least 0",
        "not-an-email,Cy,20,3,failed,email: is not a valid email address"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Download succeeded rows").click()
    assert Path(download.value.path()).read_text().splitlines()[1:] == [
        "ann@example.org,Ann,34,1,created,ann@example.org", "dee@example.org,Dee,41,4,created,dee@example.org"]

    page.get_by_role("button", name="Retry failed rows").click()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{job_id}$"))
    retry_id = page.url.rsplit("/", 1)[1]
    expect_counts(page, "Completed", total=2, created=0, updated=0, unchanged=0, failed=2)
    expect(page.get_by_role("link", name=job_id)).to_be_visible()  # "Retry of"
    expect(page.get_by_role("table", name="Row errors, in row order").locator("tbody tr")).to_have_count(2)
    assert table_rows(page.get_by_role("table", name="Row errors, in row order")) == [
        ["1", "age", "-1", "must be at least 0"], ["2", "email", "not-an-email", "is not a valid email address"]]
    assert stack.call("GET", f"/v1/jobs/{retry_id}").json()["retryOf"] == job_id


def test_fix_failed_rows_in_the_browser(page: Any, stack: Stack) -> None:
    item_type = unique("fixed")
    stack.put_item_type(item_type, {**PERSON, "columns": {"E-mail": "email"}})
    job_id = stack.submit_csv(item_type, PEOPLE.replace("email,", "E-mail,", 1), creationPath="FIX")["jobId"]
    stack.wait_job(job_id)
    sign_in(page, path=f"/console/jobs/{job_id}")
    expect_counts(page, "Completed", total=4, created=2, failed=2)
    page.get_by_role("button", name="Edit failed rows").click()
    fix = page.get_by_role("table", name="Failed rows to fix")
    expect(fix.locator("tbody tr")).to_have_count(2)
    assert fix.locator("thead th").all_inner_texts()[:4] == ["Row", "E-mail → email", "name", "age"]
    age = page.get_by_label("age of row 2")
    expect(age).to_have_value("-1")
    expect(age).to_have_attribute("aria-invalid", "true")
    expect(age).to_have_accessible_description("must be at least 0")
    expect(page.get_by_label("E-mail of row 3")).to_have_accessible_description("is not a valid email address")
    expect(page.get_by_role("button", name="Submit corrected rows")).to_be_disabled()
    age.fill("abc")
    expect(age).to_have_accessible_description("expected an integer")
    age.fill("35")
    expect(age).not_to_have_attribute("aria-invalid", "true")
    page.get_by_label("E-mail of row 3").fill("cy@example.org")
    expect(page.get_by_text("2 rows ready.")).to_be_visible()
    shoot(page, "03b-fix-rows")
    page.get_by_role("button", name="Submit corrected rows").click()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{job_id}$"))
    expect_counts(page, "Completed", total=2, created=2, updated=0, unchanged=0, failed=0)
    fixed_id = page.url.rsplit("/", 1)[1]
    fixed = stack.call("GET", f"/v1/jobs/{fixed_id}").json()
    assert fixed["creationPath"] == "API:FIX" and fixed["jobName"].endswith("(corrected rows)")
    assert fixed["retryOf"] == job_id and stack.call("GET", f"/v1/jobs/{job_id}").json()["retries"] == [fixed_id]
    # linked both ways on the pages
    lineage = page.locator("dl.lineage")
    assert lineage.locator("dt").all_inner_texts() == ["Retry of"]
    assert lineage.locator("dd").get_by_role("link").all_inner_texts() == [job_id]
    shoot(page, "03c-corrected-rows-job")
    lineage.get_by_role("link", name=job_id).click()
    retried_by = page.get_by_role("list", name="Jobs that retried this job's failed rows")
    expect(retried_by.get_by_role("link")).to_have_text([fixed_id])
    expect(page.get_by_text("This job's failed rows were retried already: see \"Retried by\" above.")).to_be_visible()
    shoot(page, "03d-retried-job")
    retried_by.get_by_role("link", name=fixed_id).click()
    expect(page).to_have_url(re.compile(f"/console/jobs/{fixed_id}$"))
    assert stack.call("GET", f"/v1/records/{item_type}/bob@example.org").json()["attributes"]["age"] == 35
    assert stack.call("GET", f"/v1/records/{item_type}/cy@example.org").json()["attributes"]["name"] == "Cy"


def test_row_errors_are_paged(page: Any, stack: Stack) -> None:
    item_type = unique("paged")
    stack.put_item_type(item_type, PERSON)
    rows = "".join(f"p{i}@example.org,P{i},{200 + i}\n" for i in range(30))
    job_id = stack.submit_csv(item_type, "email,name,age\n" + rows)["jobId"]
    stack.wait_job(job_id)
    sign_in(page, path=f"/console/jobs/{job_id}")
    expect_counts(page, "Completed", total=30, created=0, failed=30)
    errors = page.get_by_role("table", name="Row errors, in row order")
    expect(errors.locator("tbody tr")).to_have_count(25)
    assert table_rows(errors)[0] == ["1", "age", "200", "must be at most 150"]
    page.get_by_role("navigation", name="Error pages").get_by_role("button", name="Next page").click()
    expect(errors.locator("tbody tr")).to_have_count(5)
    assert [r[0] for r in table_rows(errors)] == ["26", "27", "28", "29", "30"]
    assert table_rows(errors)[-1] == ["30", "age", "229", "must be at most 150"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_new_import_with_mapping_preview_uploaded_from_the_browser(page: Any, stack: Stack, tmp_path: Path) -> None:
    item_type = unique("penguin")
    stack.put_item_type(item_type, {
        "key": ["email"],
        "fields": {"email": {"type": "email", "required": True}, "name": {"type": "string"},
                   "body_mass_g": {"type": "integer", "min": 0}}})
    data = _write(tmp_path, "penguins.csv", "e-mail,Name,Body Mass (g),nickname\n"
                  "ada@example.org,Ada,3750,A\nbea@example.org,Bea,-5,B\ncyd@example.org,Cyd,4100,C\n")
    sign_in(page)
    go(page, "New import")
    page.get_by_label("Item type").select_option(item_type)
    page.get_by_label("File").set_input_files(str(data))
    columns = page.get_by_role("list", name="Columns of the file")
    expect(columns.get_by_role("listitem")).to_have_count(4)
    lines = [line.split("\n")[0] for line in columns.get_by_role("listitem").all_inner_texts()]
    assert lines == ["e-mail unknown — suggested field: email", "Name → name",
                     "Body Mass (g) unknown — suggested field: body_mass_g", "nickname unknown — ignored"]
    expect(page.get_by_text("No saved mapping for this item type yet.")).to_be_visible()
    expect(page.get_by_label("Field for column e-mail")).to_have_value("email")
    expect(page.get_by_label("Field for column nickname")).to_have_value("")
    expect(page.get_by_text("Your mapping of 2 columns (e-mail → email, Body Mass (g) → body_mass_g) goes with "
                            "this job.")).to_be_visible()
    shoot(page, "04-new-import-preview")

    # saved as a named mapping of the item type, which the job then names
    page.get_by_role("button", name="Save mapping as…").click()
    expect(page.get_by_label("Mapping name")).to_have_value("penguins")
    page.get_by_role("button", name="Save mapping", exact=True).click()
    expect(page.get_by_text(f"Saved mapping penguins of {item_type} (3 columns).")).to_be_visible()
    expect(page.get_by_label("Saved mapping", exact=True)).to_have_value("penguins")
    expect(columns.get_by_role("listitem").first).to_contain_text("e-mail → email")
    expect(page.get_by_text("Missing required field")).to_have_count(0)
    expect(page.get_by_text("Your mapping of")).to_have_count(0)
    saved = stack.call("GET", f"/v1/item-types/{item_type}/mappings/penguins").json()
    assert saved["columns"] == {"e-mail": "email", "Name": "name", "Body Mass (g)": "body_mass_g"}
    assert stack.call("GET", f"/v1/item-types/{item_type}").json()["columns"] == {}

    page.get_by_label("Job name").fill("penguins from the browser")
    page.get_by_role("button", name="Start import").click()
    expect(page).to_have_url(re.compile(r"/console/jobs/[0-9A-Z]{26}$"), timeout=30_000)
    job_id = page.url.rsplit("/", 1)[1]
    expect_counts(page, "Completed", total=3, created=2, updated=0, unchanged=0, failed=1)
    expect(page.get_by_role("table", name="Row errors, in row order").locator("tbody tr")).to_have_count(1)
    assert table_rows(page.get_by_role("table", name="Row errors, in row order")) == [
        ["2", "body_mass_g", "-5", "must be at least 0"]]
    expect(page.get_by_role("heading", name="penguins from the browser")).to_be_visible()
    shoot(page, "05-new-import-job")
    job = stack.call("GET", f"/v1/jobs/{job_id}").json()
    assert job["files"][0]["name"] == "penguins.csv" and job["ignoredColumns"] == ["nickname"]
    record = stack.call("GET", f"/v1/records/{item_type}/ada@example.org").json()
    assert record["attributes"] == {"email": "ada@example.org", "name": "Ada", "body_mass_g": 3750}

    # the rest of the journey: download the failed rows, then retry them
    with page.expect_download() as download:
        page.get_by_role("button", name="Download failed rows").click()
    assert Path(download.value.path()).read_text().splitlines() == [
        "e-mail,Name,Body Mass (g),nickname,sluice_row,sluice_outcome,sluice_message",
        "bea@example.org,Bea,-5,B,2,failed,body_mass_g: must be at least 0"]
    page.get_by_role("button", name="Retry failed rows").click()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{job_id}$"))
    expect(page.locator("dl.lineage").get_by_role("link", name=job_id)).to_be_visible()


def test_retry_keeps_the_jobs_own_mapping(page: Any, stack: Stack) -> None:
    item_type = unique("remap")
    stack.put_item_type(item_type, PERSON)
    job_id = stack.submit_csv(item_type, PEOPLE.replace("email,", "Mail,", 1), columns='{"Mail": "email"}')["jobId"]
    stack.wait_job(job_id)
    sign_in(page, path=f"/console/jobs/{job_id}")
    expect_counts(page, "Completed", total=4, created=2, failed=2)
    page.get_by_role("button", name="Retry failed rows").click()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{job_id}$"))
    assert stack.wait_job(page.url.rsplit("/", 1)[1])["status"] == "Completed"
    expect_counts(page, "Completed", total=2, created=0, updated=0, unchanged=0, failed=2)


def test_dry_run_then_commit(page: Any, stack: Stack, tmp_path: Path) -> None:
    item_type = unique("dry")
    stack.put_item_type(item_type, PERSON)
    data = _write(tmp_path, "people.csv", PEOPLE)
    sign_in(page, path=f"/console/new-import?itemType={item_type}")
    expect(page.get_by_label("Item type")).to_have_value(item_type)
    page.get_by_label("File").set_input_files(str(data))
    page.get_by_label("Dry run").check()
    held: list[Any] = []  # the upload to S3 is held until the progress bar has been seen
    page.route(f"{stack.aws}/**", lambda route: held.append(route))
    page.get_by_role("button", name="Start import").click()
    progress = page.get_by_role("progressbar", name="Uploading people.csv")
    expect(progress).to_be_visible()
    assert held and held[0].request.method == "POST"
    assert b'name="file"; filename="people.csv"' in held[0].request.post_data_buffer
    shoot(page, "06a-uploading")
    held[0].continue_()
    expect(page).to_have_url(re.compile(r"/console/jobs/[0-9A-Z]{26}$"), timeout=30_000)
    dry_id = page.url.rsplit("/", 1)[1]
    expect_counts(page, "Completed", total=4, created=2, updated=0, unchanged=0, failed=2)
    expect(page.get_by_text("dry run (nothing written)")).to_be_visible()
    assert stack.call("GET", f"/v1/records/{item_type}/ann@example.org").status_code == 404
    shoot(page, "06-dry-run")
    page.get_by_role("button", name="Commit dry run").click()
    expect(page).not_to_have_url(re.compile(f"/console/jobs/{dry_id}$"))
    expect_counts(page, "Completed", total=4, created=2, updated=0, unchanged=0, failed=2)
    expect(page.get_by_text("commit", exact=True)).to_be_visible()
    assert stack.call("GET", f"/v1/records/{item_type}/ann@example.org").json()["attributes"]["age"] == 34


def test_cancel_a_job(page: Any, stack: Stack) -> None:
    item_type = unique("cancel")
    stack.put_item_type(item_type, PERSON)
    reply = stack.call("POST", "/v1/jobs", json={"itemType": item_type, "fileName": "later.csv"})
    assert reply.status_code == 201, reply.text
    job_id = reply.json()["jobId"]
    sign_in(page, path=f"/console/jobs/{job_id}")
    expect(page.get_by_text("status Initialized", exact=True)).to_be_visible()
    expect(page.get_by_role("progressbar", name="Job progress")).to_be_visible()
    page.get_by_role("button", name="Cancel job").click()
    expect_counts(page, "Canceled", created=0, updated=0, unchanged=0, failed=0)
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    expect(page.get_by_role("progressbar", name="Job progress")).to_have_count(0)
    shoot(page, "07-canceled")
    assert stack.call("GET", f"/v1/jobs/{job_id}").json()["status"] == "Canceled"


def test_a_rejected_job_shows_its_reason_and_says_no_rows_were_read(page: Any, stack: Stack) -> None:
    item_type = unique("rejected")
    stack.put_item_type(item_type, PERSON)
    job_id = stack.submit_csv(item_type, "Email Address,Full Name\nann@example.org,Ann\n")["jobId"]
    stack.wait_job(job_id)
    sign_in(page, path=f"/console/jobs/{job_id}")
    expect(page.get_by_text("status Rejected", exact=True)).to_be_visible()
    expect(page.get_by_text("missing required columns: email", exact=False)).to_be_visible()
    expect(page.get_by_text("No rows were read from the file (see the reason above).")).to_be_visible()
    shoot(page, "07b-rejected")
    expect(page.get_by_text("No file read yet.")).to_have_count(0)


def test_read_only_key_sees_disabled_controls_with_the_reason(page: Any, stack: Stack) -> None:
    reply = stack.call("POST", "/v1/api-keys", json={"name": "viewer", "permissions": ["imports:read"]})
    assert reply.status_code == 201, reply.text
    viewer = reply.json()["key"]
    item_type = unique("ro")
    stack.put_item_type(item_type, PERSON)
    open_job = stack.call("POST", "/v1/jobs", json={"itemType": item_type, "fileName": "x.csv"}).json()["jobId"]
    reason = "Needs the imports:write permission; this key has: imports:read."

    sign_in(page, viewer)
    expect(page.get_by_text("key viewer")).to_be_visible()
    go(page, "New import")
    start = page.get_by_role("button", name="Start import")
    expect(start).to_be_disabled()
    expect(start).to_have_accessible_description(reason)
    expect(page.get_by_text(reason)).to_be_visible()
    shoot(page, "08-read-only-new-import")

    page.goto(f"/console/jobs/{open_job}")
    cancel = page.get_by_role("button", name="Cancel job")
    expect(cancel).to_be_disabled()
    expect(cancel).to_have_accessible_description(reason)

    go(page, "Item types")
    expect(page.get_by_role("button", name="New item type")).to_be_disabled()
    expect(page.get_by_text("Needs the schemas:write permission; this key has: imports:read.")).to_be_visible()
    go(page, "Exports")
    expect(page.get_by_role("button", name="Start export")).to_be_disabled()
    expect(page.get_by_text("Needs the exports:write permission; this key has: imports:read.")).to_be_visible()
    go(page, "API keys")
    expect(page.get_by_role("button", name="Create key")).to_be_disabled()
    expect(page.get_by_text("Needs the keys:admin permission; this key has: imports:read.").first).to_be_visible()
    shoot(page, "09-read-only-keys")


def test_tenant_wall(page: Any, stack: Stack) -> None:
    item_type = unique("walled")
    stack.put_item_type(item_type, PERSON)
    job_id = stack.submit_csv(item_type, PEOPLE)["jobId"]
    stack.wait_job(job_id)
    sign_in(page, "globex-key", path=f"/console/jobs/{job_id}")
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    expect(page.get_by_text("Ann")).to_have_count(0)
    shoot(page, "10-job-not-found")
    page.goto("/console/jobs/01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    page.goto("/console/jobs")
    expect(page.get_by_role("link", name=job_id)).to_have_count(0)


def test_item_types_create_edit_and_api_validation_message(page: Any, stack: Stack) -> None:
    name = unique("made")
    sign_in(page)
    go(page, "Item types")
    page.get_by_role("link", name="New item type…").click()
    page.get_by_label("Name").fill(name)
    schema = page.get_by_label("Schema (JSON)")
    schema.fill('{"fields": {"email": {"type": "emial"}}}')
    expect(page.get_by_text('Field "email" needs a "type": one of string, integer')).to_be_visible()
    schema.fill('{"key": ["email"], "fields": {"email": {"type": "email", "required": true}, '
                '"tier": {"type": "enum", "values": ["gold", "silver"]}}}')
    expect(page.get_by_text("Looks valid.")).to_be_visible()
    page.get_by_role("button", name="Create item type").click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    fields = page.get_by_role("table", name=f"Fields of {name}")
    expect(fields.locator("tbody tr")).to_have_count(2)
    assert table_rows(fields) == [["email", "email", "yes", "—"], ["tier", "enum", "no", "one of gold, silver"]]
    shoot(page, "11-item-type")
    # the API's own 400 message, as it comes
    schema.fill('{"key": ["email"], "fields": {"email": {"type": "email", "maxLength": 0}}}')
    page.get_by_role("button", name="Save schema").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("maxLength")
    api_message = stack.call("PUT", f"/v1/item-types/{name}",
                             json={"key": ["email"], "fields": {"email": {"type": "email", "maxLength": 0}}}
                             ).json()["error"]["message"]
    expect(alert).to_have_text(api_message)
    schema.fill('{"key": ["email"], "fields": {"email": {"type": "email", "required": true}, '
                '"nick": {"type": "string"}}}')
    page.get_by_role("button", name="Save schema").click()
    expect(page.get_by_text("Saved: version 2.")).to_be_visible()
    assert list(stack.call("GET", f"/v1/item-types/{name}").json()["fields"]) == ["email", "nick"]
    go(page, "Item types")
    expect(page.get_by_role("table", name="Item types of this tenant").get_by_role("link", name=name)).to_be_visible()


def test_exports_create_watch_download(page: Any, stack: Stack) -> None:
    item_type = unique("exported")
    stack.put_item_type(item_type, PERSON)
    stack.wait_job(stack.submit_csv(item_type, PEOPLE)["jobId"])
    sign_in(page)
    go(page, "Exports")
    page.get_by_label("Item type").select_option(item_type)
    page.get_by_label("Filters (JSON object)").fill('{"name": "Dee"}')
    page.get_by_role("button", name="Start export").click()
    table = page.get_by_role("table", name="Exports of this tenant, newest first")
    expect(table.locator("tbody tr").first.get_by_text("Completed")).to_be_visible(timeout=30_000)
    row = table_rows(table)[0]
    assert row[1:4] == [item_type, "Completed", "1"]
    link = table.get_by_role("link", name=re.compile(r"Download export .* part 1"))
    body = requests.get(link.get_attribute("href"), timeout=30).text
    assert body.splitlines() == ["email,name,age", "dee@example.org,Dee,41"]
    page.get_by_label("SQL query").fill("SELECT count(*) AS n FROM records")
    page.get_by_role("button", name="Start export").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first.get_by_text("Completed")).to_be_visible(timeout=30_000)
    sql_link = table.locator("tbody tr").first.get_by_role("link", name=re.compile("part 1"))
    assert requests.get(sql_link.get_attribute("href"), timeout=30).text.splitlines() == ["n", "2"]
    shoot(page, "12-exports")


def test_exports_list_is_the_tenants_paged(page: Any, stack: Stack) -> None:
    """Exports started elsewhere (here by the API) are listed, newest first, 20 a page by nextCursor."""
    item_type = unique("exlist")
    stack.put_item_type(item_type, PERSON)
    ids = []
    for i in range(21):
        reply = stack.call("POST", "/v1/exports", json={"itemType": item_type, "contentType": "text/csv",
                                                        "jobName": f"listed {i}"})
        assert reply.status_code == 202, reply.text
        ids.append(reply.json()["exportId"])
    sign_in(page)
    go(page, "Exports")
    table = page.get_by_role("table", name="Exports of this tenant, newest first")
    expect(table.locator("tbody tr")).to_have_count(20)
    assert [r[0].split("\n")[0] for r in table_rows(table)] == ids[::-1][:20]
    assert table_rows(table)[0][0].split("\n")[1] == "listed 20"
    # 21 exports queued at once run a few at a time: on a loaded machine the newest may take over 30 s to come up
    deadline = time.time() + 180
    while not stack.call("GET", f"/v1/exports/{ids[-1]}").json()["finished"] and time.time() < deadline:
        time.sleep(0.5)
    expect(table.locator("tbody tr").first.get_by_text("Completed")).to_be_visible(timeout=30_000)
    assert table_rows(table)[0][1:4] == [item_type, "Completed", "0"]
    page.get_by_role("navigation", name="Export pages").get_by_role("button", name="Next page").click()
    expect(table.locator("tbody tr").first).to_contain_text(ids[0])
    assert table_rows(table)[0][0].split("\n") == [ids[0], "listed 0"]
    page.get_by_role("button", name="Previous page").click()
    expect(table.locator("tbody tr").first).to_contain_text(ids[-1])
    for export_id in ids:  # leave no export running for the next tests
        deadline = time.time() + 60
        while not stack.call("GET", f"/v1/exports/{export_id}").json()["finished"] and time.time() < deadline:
            time.sleep(0.2)


def test_api_keys_create_shown_once_then_revoke(page: Any, stack: Stack) -> None:
    sign_in(page)
    go(page, "API keys")
    name = unique("robot")
    page.get_by_label("Name").fill(name)
    page.get_by_label("imports:write").check()
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("Secret key").input_value()
    assert secret.startswith("sk_")
    expect(page.get_by_text("this is the only time the key is shown")).to_be_visible()
    shoot(page, "13-api-key-created")
    assert stack.call("GET", "/v1/jobs?limit=1", secret).status_code == 200
    keys = page.get_by_role("table", name="API keys")
    row = keys.locator("tr", has_text=name)
    assert row.get_by_role("cell").all_inner_texts()[2] == "imports:read, imports:write"
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_label("Secret key")).to_have_count(0)
    assert secret not in page.content()
    row.get_by_role("button", name=f"Revoke key {name}").click()
    page.get_by_role("button", name=f"Yes, revoke {name}").click()
    expect(row.get_by_text("revoked")).to_be_visible()
    assert stack.call("GET", "/v1/jobs?limit=1", secret).status_code == 401


def test_revoked_key_is_signed_out(page: Any, stack: Stack) -> None:
    key = stack.call("POST", "/v1/api-keys", json={"name": "short-lived", "permissions": ["*"]}).json()
    sign_in(page, key["key"])
    stack.call("DELETE", f"/v1/api-keys/{key['keyId']}")
    go(page, "Item types")
    expect(page.get_by_text("Your API key is no longer accepted (revoked?). Sign in again.")).to_be_visible()
    expect(page.get_by_label("API key")).to_be_visible()


def test_swagger_ui_renders_the_operations(page: Any, stack: Stack) -> None:
    page.goto("/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    document = requests.get(f"{stack.api}/v1/openapi.json", timeout=10).json()
    operations = sum(len([m for m in ops if m in ("get", "put", "post", "delete", "patch")])
                     for ops in document["paths"].values())
    assert len(paths) == operations
    assert {p.replace("\u200b", "") for p in paths} == set(document["paths"])
    shoot(page, "14-swagger")


def test_stack_serves_the_console_and_swagger_ui(stack: Stack) -> None:
    """The stack itself serves /console/ (deep links too) and /v1/docs, with the right types, no key needed."""
    for path in ("/console/", "/console/jobs/01ZZZZZZZZZZZZZZZZZZZZZZZZ", "/console/new-import"):
        reply = requests.get(f"{stack.api}{path}", timeout=10)
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html"), path
        assert '<script type="module" src="/console/js/main.js">' in reply.text
    for path, kind in (("/console/js/main.js", "javascript"), ("/console/vendor/preact.js", "javascript"),
                       ("/console/app.css", "text/css"), ("/console/swagger/swagger-ui-bundle.js", "javascript")):
        reply = requests.get(f"{stack.api}{path}", timeout=10)
        assert reply.status_code == 200 and kind in reply.headers["content-type"], (path, reply.headers)
    docs = requests.get(f"{stack.api}/v1/docs", timeout=10)
    assert docs.status_code == 200 and "/console/swagger/swagger-ui-bundle.js" in docs.text


@pytest.mark.axe
@pytest.mark.parametrize("path", ["/console/jobs", "/console/new-import", "/console/item-types", "/console/exports",
                                  "/console/api-keys", "/console/item-types/_new"])
def test_pages_are_axe_clean(page: Any, stack: Stack, path: str) -> None:
    sign_in(page, path=path)
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []


@pytest.mark.axe
def test_job_page_and_sign_in_are_axe_clean_and_keyboard_usable(page: Any, stack: Stack) -> None:
    page.goto("/console/")
    assert axe_violations(page) == []
    page.keyboard.type("acme-key")  # the key field has focus on arrival
    page.keyboard.press("Enter")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    item_type = unique("axe")
    stack.put_item_type(item_type, PERSON)
    job_id = stack.submit_csv(item_type, PEOPLE)["jobId"]
    stack.wait_job(job_id)
    page.goto(f"/console/jobs/{job_id}")
    expect_counts(page, "Completed", failed=2)
    assert axe_violations(page) == []
