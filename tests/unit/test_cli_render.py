"""How `sluice` shows a job: the progress line before and after the total is known, on a terminal and off one,
warnings as today's strings or the contract's objects, and the exit code a job's outcome maps to."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest

from sluice_cli.main import build_parser, do_jobs
from sluice_cli.render import Progress, exit_code, progress_line, summary, warning_text


def _job(status: str = "Processing", total: int | None = None, processed: int = 0, **more: Any) -> dict[str, Any]:
    return {"jobId": "01JABCDEFGHJKMNPQRSTVWXYZ0", "status": status, "mode": "commit",
            "counts": {"total": total, "processed": processed, "created": processed, "updated": 0, "unchanged": 0,
                       "failed": 0, "unprocessed": 0}, **more}


def test_progress_line_before_and_after_the_total_is_known() -> None:
    assert progress_line(_job("Accepted")) == \
        "[..............................] 0 rows so far (reading the file)  Accepted"
    assert progress_line(_job(total=200, processed=50)) == \
        "[#######.......................]  25% 50/200 rows  Processing"
    assert progress_line(_job("Completed", total=0)) == "[##############################] 100% 0/0 rows  Completed"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_redrawn_and_ended_once() -> None:
    stream = _Terminal()
    progress = Progress(stream)
    progress.show(_job("Accepted"))
    progress.show(_job(total=10, processed=5))
    progress.done(_job("Completed", total=10, processed=10))
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("100% 10/10 rows  Completed\n") and text.count("\n") == 1
    assert "None" not in text


def test_off_a_terminal_a_plain_line_per_status_or_tenth() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    for processed in (0, 1, 2, 50, 51, 100):
        progress.show(_job(total=100, processed=processed))
    progress.done(_job("Completed", total=100, processed=100))
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [line.split("]")[1].strip() for line in lines] == [
        "0% 0/100 rows  Processing", "50% 50/100 rows  Processing", "100% 100/100 rows  Processing",
        "100% 100/100 rows  Completed"]


def test_warnings_as_strings_or_objects() -> None:
    assert warning_text("column 'x' ignored") == "column 'x' ignored"
    assert warning_text({"code": "unknown-column", "message": "column 'speceis' is no field; did you mean species?",
                         "column": "speceis", "suggestion": "species"}) == \
        "unknown-column: column 'speceis' is no field; did you mean species?"
    assert warning_text({"code": "objects-created-truncated"}) == "objects-created-truncated"
    shown = summary(_job("Completed", total=1, processed=1, warnings=["a note", {"code": "option-ignored",
                                                                                 "message": "sheet: a CSV file"}]))
    assert shown.splitlines()[2:] == ["warning: a note", "warning: option-ignored: sheet: a CSV file"]


def test_exit_codes_by_outcome() -> None:
    assert exit_code(_job("Completed", total=2, processed=2)) == 0
    failed = _job("Completed", total=2, processed=2)
    failed["counts"]["failed"] = 1
    assert exit_code(failed) == 1
    lost = _job("Completed", total=2, processed=1)
    lost["counts"]["unprocessed"] = 1
    assert exit_code(lost) == 1
    assert [exit_code(_job(s)) for s in ("Rejected", "Failed", "Canceled")] == [2, 2, 2]
    assert "(dry run: nothing was written)" in summary(_job("Completed", total=0, mode="dry-run")).splitlines()[0]


def test_a_file_goes_up_in_parts_of_64_mib_at_most_1000_and_never_below_5_mib() -> None:
    from sluice_cli.client import MULTIPART_THRESHOLD, CliError, part_plan

    mib, gib = 1024**2, 1024**3
    assert gib == MULTIPART_THRESHOLD
    assert part_plan(16 * gib) == (256, 64 * mib)  # the largest file accepted
    assert part_plan(gib + 1) == (17, 64 * mib)  # just over the threshold: the last part holds one byte
    assert part_plan(100 * gib) == (1000, math.ceil(100 * gib / 1000))  # larger parts, never over 1,000
    assert part_plan(0) == (1, 64 * mib)
    assert part_plan(11 * mib, 5 * mib) == (3, 5 * mib)
    with pytest.raises(CliError, match="at least 5242880 bytes"):
        part_plan(11 * mib, 5 * mib - 1)
    with pytest.raises(CliError, match="at most 1000"):
        part_plan(10 * gib, 5 * mib)


class _Jobs:
    """A client answering GET /v1/jobs with one page."""

    def __init__(self, page: dict[str, Any]) -> None:
        self.page = page
        self.paths: list[str] = []

    def request(self, method: str, path: str) -> dict[str, Any]:
        self.paths.append(f"{method} {path}")
        return self.page


_LISTED = [
    _job("Completed", total=1200, processed=1200, itemType="contact", jobName="nightly people",
         submitTime="2026-12-04T13:25:07.123Z"),
    _job("Processing", total=None, processed=37, jobId="01JABCDEFGHJKMNPQRSTVWXYZ1", itemType="p",
         submitTime="2026-12-04T13:26:00.000Z"),
]


def test_sluice_jobs_prints_a_header_row_over_aligned_columns(capsys: pytest.CaptureFixture[str]) -> None:
    client = _Jobs({"items": _LISTED, "nextCursor": "abc"})
    args = build_parser().parse_args(["jobs", "--status", "Completed"])
    assert do_jobs(client, args) == 0
    assert client.paths == ["GET /v1/jobs?status=Completed&limit=20"]
    assert capsys.readouterr().out.splitlines() == [
        "JOB ID                      STATUS      ITEM TYPE  ROWS       FAILED  SUBMITTED (UTC)   NAME",
        "01JABCDEFGHJKMNPQRSTVWXYZ0  Completed   contact    1200/1200       0  2026-12-04 13:25  nightly people",
        "01JABCDEFGHJKMNPQRSTVWXYZ1  Processing  p          37/?            0  2026-12-04 13:26",
        "more: sluice jobs --cursor abc",
    ]


def test_sluice_jobs_says_when_none_match_and_json_stays_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert do_jobs(_Jobs({"items": []}), build_parser().parse_args(["jobs"])) == 0
    assert capsys.readouterr().out == "no jobs match\n"
    page = {"items": _LISTED, "nextCursor": None}
    assert do_jobs(_Jobs(page), build_parser().parse_args(["jobs", "--json"])) == 0
    assert json.loads(capsys.readouterr().out) == page  # machine-readable output: the API's page, no header


def test_while_result_files_are_written_the_line_and_summary_say_so() -> None:
    writing = _job(total=300000, processed=300000, resultFiles={"chunksRead": 120, "chunks": 304})
    assert progress_line(writing) == ("[###########...................] 300000/300000 rows processed, "
                                      "writing result files: 120/304 chunks  Processing")
    assert summary(writing).splitlines()[2] == (
        "result files: being written, 120 of 304 chunks read (every row is processed; the job completes, "
        "and `sluice results` can fetch them, once they are written)")
    done = _job("Completed", total=300000, processed=300000, resultFiles={"chunksRead": 304, "chunks": 304})
    assert "result files" not in summary(done) and "chunks" not in progress_line(done)


def test_off_a_terminal_result_files_progress_is_logged_by_tenths() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress.show(_job(total=100, processed=100))
    for read in (0, 20, 31, 160, 304):
        progress.show(_job(total=100, processed=100, resultFiles={"chunksRead": read, "chunks": 304}))
    progress.done(_job("Completed", total=100, processed=100))
    assert [line.split("]")[1].strip() for line in stream.getvalue().splitlines()] == [
        "100% 100/100 rows  Processing",
        "100/100 rows processed, writing result files: 0/304 chunks  Processing",
        "100/100 rows processed, writing result files: 31/304 chunks  Processing",
        "100/100 rows processed, writing result files: 160/304 chunks  Processing",
        "100/100 rows processed, writing result files: 304/304 chunks  Processing",
        "100% 100/100 rows  Completed"]


def test_a_dry_run_is_marked_once_in_the_jobs_list() -> None:
    from sluice_cli.render import job_cells
    preview = _job("Completed", total=6, processed=6, jobName="revert of big.csv (dry run)", mode="dry-run",
                   submitTime="2026-12-04T14:39:55Z")
    dry_import = {**preview, "jobName": "big.csv"}
    assert job_cells(preview)[-1] == "revert of big.csv (dry run)"  # was "revert of big.csv (dry run) (dry run)"
    assert job_cells(dry_import)[-1] == "big.csv (dry run)"
    assert job_cells({**dry_import, "mode": "commit"})[-1] == "big.csv"
