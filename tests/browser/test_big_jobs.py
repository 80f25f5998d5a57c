"""A big job's page while its result files are written in steps after its last row (issue 22): the job stays
`Processing` at 100% of its rows and carries `resultFiles: {chunksRead, chunks}`; the page says what it is waiting
for instead of a progress bar that seems to sit still, and offers the downloads once the job completes.

The stack's job is real; only while `writing` is set is its answer turned into the state a job of more than
`ResultStepChunks` chunks shows meanwhile (the API's own shape, `tests/e2e/test_slices.py` holds the stack to it),
because on a small stack that state lasts less than a poll."""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Stack, shoot, sign_in
from tests.browser.test_console import PEOPLE, PERSON, expect_counts, unique


def test_a_job_writing_its_result_files_says_so_then_offers_them(page: Any, stack: Stack) -> None:
    item_type = unique("big_")
    stack.put_item_type(item_type, PERSON)
    job = stack.wait_job(stack.submit_csv(item_type, PEOPLE)["jobId"])
    assert job["status"] == "Completed" and job["counts"]["processed"] == 4
    writing: dict[str, int | None] = {"chunksRead": 120}

    def as_while_writing(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        if writing["chunksRead"] is not None:
            body.update(status="Processing", finished=False, finishTime=None,
                        resultFiles={"chunksRead": writing["chunksRead"], "chunks": 304})
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"**/v1/jobs/{job['jobId']}", as_while_writing)
    sign_in(page, path=f"/console/jobs/{job['jobId']}")
    expect_counts(page, "Processing", total=4, processed=4, failed=2)
    expect(page.get_by_text("Every row is processed. Writing the result files: 120 of 304 chunks read. "
                            "The job completes once they are written.")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Result files progress")).to_have_attribute("value", "120")
    results = page.get_by_role("region", name="Result files")
    expect(results).to_contain_text("Being written (120 of 304 chunks read): they can be downloaded once the job "
                                    "completes.")
    expect(results.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)  # every row is processed: nothing to stop
    shoot(page, "big-job-writing-result-files")

    writing["chunksRead"] = 300
    expect(page.get_by_text("Writing the result files: 300 of 304 chunks read.", exact=False)).to_be_visible()

    def listed_as_while_writing(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        for listed in body["items"]:
            if listed["jobId"] == job["jobId"] and writing["chunksRead"] is not None:
                listed.update(status="Processing", finished=False,
                              resultFiles={"chunksRead": writing["chunksRead"], "chunks": 304})
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(lambda url: url.endswith("/v1/jobs") or "/v1/jobs?" in url, listed_as_while_writing)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs", exact=True).click()
    row = page.get_by_role("row").filter(has_text=job["jobId"])
    expect(row).to_contain_text("writing result files: 300 / 304 chunks")
    page.go_back()

    writing["chunksRead"] = None
    expect_counts(page, "Completed", total=4, processed=4, failed=2)
    expect(page.get_by_text("Writing the result files", exact=False)).to_have_count(0)
    expect(page.get_by_role("progressbar", name="Result files progress")).to_have_count(0)
    for label in ("succeeded rows", "failed rows", "unprocessed rows"):
        expect(results.get_by_role("button", name=f"Download {label}")).to_be_enabled()


def test_a_compressed_upload_says_so_beside_its_format(page: Any, stack: Stack) -> None:
    item_type = unique("gz_")
    stack.put_item_type(item_type, PERSON)
    sign_in(page)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("people.csv", PEOPLE)
    for name, data, media, said in (("people.csv.gz", gzip.compress(PEOPLE.encode()), "application/gzip",
                                     "csv, utf-8, delimiter \",\", gzip-compressed"),
                                    ("people.zip", packed.getvalue(), "application/zip",
                                     "csv, utf-8, delimiter \",\", in a zip archive")):
        reply = stack.call("POST", "/v1/jobs", files={"file": (name, data, media)}, data={"itemType": item_type})
        assert reply.status_code == 202, reply.text
        job = stack.wait_job(reply.json()["jobId"])
        assert job["status"] == "Completed" and job["counts"]["processed"] == 4, job
        page.goto(f"/console/jobs/{job['jobId']}")
        expect_counts(page, "Completed", total=4, processed=4, failed=2)
        details = page.get_by_role("region", name="Details")
        expect(details.locator("dt", has_text="Format").locator("xpath=following-sibling::dd")).to_have_text(said)


def test_a_revert_preview_shows_its_dry_run_and_progress_while_it_runs(page: Any, stack: Stack) -> None:
    """A big job's revert preview is a dry run over every record it wrote (221 s for 300,000 rows on the local
    stack): the page shows that dry run's progress and links it, instead of a button label alone. Its answers are
    held at `Processing` (half its rows) until `held` is cleared, so the test sees the running state."""
    item_type = unique("rev_")
    stack.put_item_type(item_type, PERSON)
    job = stack.wait_job(stack.submit_csv(item_type, PEOPLE)["jobId"])
    held = {"on": True}

    def dry_run_running(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        if held["on"] and body.get("revertOf") == job["jobId"]:
            body.update(status="Processing", finished=False, finishTime=None,
                        counts={**body["counts"], "total": 2, "processed": 1})
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(lambda url: "/v1/jobs/" in url and not url.rstrip("/").endswith(job["jobId"]), dry_run_running)
    sign_in(page, path=f"/console/jobs/{job['jobId']}")
    page.get_by_role("button", name="Revert…").click()
    checking = page.locator(".revert-checking")
    expect(checking).to_contain_text("Checking each record the job wrote (a dry run of the revert,")
    dry_id = checking.get_by_role("link").inner_text()
    assert dry_id != job["jobId"] and stack.call("GET", f"/v1/jobs/{dry_id}").json()["revertOf"] == job["jobId"]
    expect(checking.get_by_role("progressbar", name="Revert preview progress")).to_have_attribute("value", "1")
    expect(checking).to_contain_text("1 / 2 (50%)")
    held["on"] = False
    expect(page.get_by_role("status", name="Revert preview")).to_be_visible(timeout=30_000)
    expect(checking).to_have_count(0)
    expect(page.get_by_role("status", name="Revert preview")).to_contain_text("delete 2 records this job created")


def _size(count: int) -> str:
    """A size as the console writes it (lib.js formatBytes)."""
    value, unit = float(count), 0
    while value >= 1024 and unit < 3:
        value, unit = value / 1024, unit + 1
    return f"{count} bytes" if unit == 0 else f"{value:.1f} {['bytes', 'KB', 'MB', 'GB'][unit]}"


def _big_csv(rows: int) -> str:
    """A CSV of `rows` rows, well over the 64 KiB the console reads of a file, so the compressed stream is cut."""
    return "E-mail,Name,age\n" + "".join(f"p{n:06d}@example.org,Person {n},{n % 90}\n" for n in range(rows))


def test_new_import_reads_the_header_row_inside_a_gzip_or_zip_file(page: Any, stack: Stack) -> None:
    """The API takes gzip files and zip archives of one file; the console read their compressed bytes as CSV and
    proposed binary garbage as columns. Now it reads the header row inside (DecompressionStream), then uploads the
    file as is and the job reads it."""
    item_type = unique("packed_")
    stack.put_item_type(item_type, {**PERSON, "columns": {"E-mail": "email"}})
    text = _big_csv(20_000)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("people.csv", text)
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("people.csv", text)
    sign_in(page, path=f"/console/new-import?itemType={item_type}")
    picker = page.get_by_label("File", exact=True)
    assert {".gz", ".zip"} <= set(picker.get_attribute("accept").split(","))  # the file picker offers them
    expect(picker).to_have_accessible_description(re.compile(r"gzip-compressed \(\.gz\) or alone in a zip archive"))
    for name, data, media in (("people.csv.gz", gzip.compress(text.encode()), "application/gzip"),
                              ("people.zip", stored.getvalue(), "application/zip"),
                              ("people.zip", packed.getvalue(), "application/zip")):
        assert len(data) > 64 * 1024 or media == "application/gzip"
        page.get_by_label("File", exact=True).set_input_files(files=[{"name": name, "mimeType": media, "buffer": data}])
        expect(page.get_by_text(f"Chosen: {name}, {_size(len(data))}.")).to_be_visible()
        columns = page.get_by_role("list", name="Columns of the file")
        expect(columns.get_by_role("listitem")).to_have_text([re.compile(r"^E-mail → emailField"),
                                                              re.compile(r"^Name → nameField"),
                                                              re.compile(r"^age → ageField")])
    page.get_by_role("button", name="Start import").click()
    expect(page).to_have_url(re.compile(r"/console/jobs/[0-9A-Z]{26}$"), timeout=30_000)
    expect_counts(page, "Completed", total=20_000, created=20_000, failed=0)
    job = stack.call("GET", f"/v1/jobs/{page.url.rsplit('/', 1)[1]}").json()
    assert job["files"][0]["compression"] == "zip" and job["files"][0]["rows"] == 20_000, job
    assert stack.call("GET", f"/v1/records/{item_type}/p019999@example.org").json()["attributes"]["name"] == \
        "Person 19999"
