"""How the CLI shows jobs: a progress line, a summary, warnings (strings or `{"code", "message"}` objects)."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FINISHED = {"Completed", "Rejected", "Canceled", "Failed"}
COUNTS = ("total", "processed", "created", "updated", "unchanged", "failed")

# Exit codes (README "The sluice command"): scripts branch on them.
EXIT_APPLIED = 0  # every row applied (or nothing to wait for)
EXIT_ROWS_FAILED = 1  # the job completed, some rows failed or were not processed
EXIT_JOB_FAILED = 2  # the job was rejected, failed or canceled
EXIT_USAGE = 3  # usage, connection, or a request the API refused


def exit_code(job: dict[str, Any]) -> int:
    status = job.get("status")
    if status in ("Rejected", "Failed", "Canceled"):
        return EXIT_JOB_FAILED
    counts = job.get("counts") or {}
    if counts.get("failed") or counts.get("unprocessed"):
        return EXIT_ROWS_FAILED
    return EXIT_APPLIED


def result_files_progress(job: dict[str, Any]) -> tuple[int, int] | None:
    """`(chunksRead, chunks)` while a big job's result files are written in steps after its last row, else None."""
    steps = job.get("resultFiles")
    if job.get("status") in FINISHED or not isinstance(steps, dict) or not steps.get("chunks"):
        return None
    return int(steps.get("chunksRead") or 0), int(steps["chunks"])


def progress_line(job: dict[str, Any], width: int = 30) -> str:
    counts = job.get("counts") or {}
    total, processed = counts.get("total"), int(counts.get("processed") or 0)
    status = str(job.get("status", ""))
    writing = result_files_progress(job)
    if total and writing is not None:
        # every row is processed; the bar now follows the result files, so 100% does not sit still
        read, chunks = writing
        filled = min(width, int(width * read / chunks))
        bar = "#" * filled + "." * (width - filled)
        return (f"[{bar}] {processed}/{total} rows processed, writing result files: "
                f"{read}/{chunks} chunks  {status}")
    if total:
        filled = min(width, int(width * processed / total))
        bar = "#" * filled + "." * (width - filled)
        return f"[{bar}] {100 * processed // total:3d}% {processed}/{total} rows  {status}"
    if total == 0:
        return f"[{'#' * width}] 100% 0/0 rows  {status}"
    # the total is known only once ingest has read the whole file
    return f"[{'.' * width}] {processed} rows so far (reading the file)  {status}"


class Progress:
    """One line redrawn in place on a terminal; elsewhere (a log, a pipe) a plain line per change of status or
    tenth of the way, never a carriage return."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.last = ""
        self.last_step: tuple[str, int, int] | None = None

    def show(self, job: dict[str, Any]) -> None:
        if not self.enabled:
            return
        line = progress_line(job)
        if self.tty:
            columns = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + line[:columns - 1].ljust(min(len(self.last), columns - 1)))
            self.stream.flush()
            self.last = line
            return
        counts = job.get("counts") or {}
        total = counts.get("total") or 0
        writing = result_files_progress(job)
        step = (str(job.get("status")), 10 * int(counts.get("processed") or 0) // total if total else -1,
                -1 if writing is None else 10 * writing[0] // writing[1])
        if step != self.last_step:
            self.stream.write(line + "\n")
            self.stream.flush()
            self.last_step = step

    def done(self, job: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.show(job)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def warning_text(warning: Any) -> str:
    """Today's warnings are strings; the contract's are objects with `code` and `message` (and more)."""
    if isinstance(warning, dict):
        code, message = warning.get("code"), warning.get("message")
        extra = {k: v for k, v in warning.items() if k not in ("code", "message")}
        text = f"{code}: {message}" if code and message else str(message or code or warning)
        return text + (f" ({', '.join(f'{k} {v}' for k, v in extra.items())})" if extra and not message else "")
    return str(warning)


def summary(job: dict[str, Any], error_lines: int = 10) -> str:
    counts = job.get("counts") or {}
    dry = job.get("mode") == "dry-run"
    head = f"job {job.get('jobId')}: {job.get('status')}" + (f" - {job['reason']}" if job.get("reason") else "")
    lines = [head + ("  (dry run: nothing was written)" if dry else "")]
    shown = [f"{name} {'-' if counts.get(name) is None else counts[name]}" for name in COUNTS]  # total: unknown yet
    shown += [f"{name} {counts[name]}" for name in ("deleted", "unprocessed") if counts.get(name)]
    lines.append("rows: " + ", ".join(shown))
    writing = result_files_progress(job)
    if writing is not None:
        lines.append(f"result files: being written, {writing[0]} of {writing[1]} chunks read (every row is "
                     "processed; the job completes, and `sluice results` can fetch them, once they are written)")
    if job.get("ignoredColumns"):
        lines.append("ignored columns: " + ", ".join(map(str, job["ignoredColumns"])))
    lines += [f"warning: {warning_text(w)}" for w in job.get("warnings") or []]
    errors = list(job.get("errors") or [])[:error_lines]
    for error in errors:
        lines.append("  " + error_text(error))
    if int(counts.get("failed") or 0) > len(errors):
        lines.append(f"  ... {counts['failed']} failed rows in all: sluice errors {job.get('jobId')}")
    return "\n".join(lines)


def error_text(error: dict[str, Any]) -> str:
    where = f"row {error.get('row')}" + (f" ({error['file']})" if error.get("file") else "")
    field = f" {error['field']}" if error.get("field") else ""
    value = f" (value {error['value']!r})" if error.get("value") is not None else ""
    return f"{where}{field}: {error.get('message')}{value}"


JOB_COLUMNS = ("JOB ID", "STATUS", "ITEM TYPE", "ROWS", "FAILED", "SUBMITTED (UTC)", "NAME")
_RIGHT_ALIGNED = {"FAILED"}


def utc_minute(iso: Any) -> str:
    """An API time (ISO 8601) as `2026-12-04 13:25` in UTC: one reading, whatever the locale."""
    try:
        moment = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment.tzinfo else moment.strftime("%Y-%m-%d %H:%M")


def job_cells(job: dict[str, Any]) -> tuple[str, ...]:
    counts = job.get("counts") or {}
    total = counts.get("total")
    item_type = job.get("itemType") or ",".join(job.get("itemTypes") or []) or "-"
    name = job.get("jobName") or ""
    if job.get("mode") == "dry-run" and not name.endswith("(dry run)"):  # a revert's preview is named so already
        name += " (dry run)"
    return (str(job.get("jobId")), str(job.get("status", "")), item_type,
            f"{counts.get('processed', 0)}/{'?' if total is None else total}", str(counts.get("failed") or 0),
            utc_minute(job.get("submitTime")) if job.get("submitTime") else "-", name.strip())


def jobs_table(jobs: list[dict[str, Any]]) -> str:
    """`sluice jobs`: a header row, then a job a line in aligned columns."""
    if not jobs:
        return "no jobs match"
    rows = [JOB_COLUMNS, *(job_cells(job) for job in jobs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(JOB_COLUMNS))]
    return "\n".join("  ".join(cell.rjust(width) if name in _RIGHT_ALIGNED else cell.ljust(width)
                               for name, cell, width in zip(JOB_COLUMNS, row, widths, strict=True)).rstrip()
                     for row in rows)
