"""`sluice revert JOB [--dry-run]` and `sluice records delete ITEMTYPE KEY...`: undo over the /v1 routes."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Protocol
from urllib.parse import quote

from sluice.models.job import JobView, Status
from sluice_cli.render import Progress

COMMANDS = ("revert", "records")


class Requester(Protocol):
    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any: ...


JSON_HELP = "print the API's JSON (for scripts) instead of text"


def _described(commands: Any, name: str, help: str, example: str) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                              epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
    # SUPPRESS: given after the command it sets the value; absent, it leaves the top-level --json alone
    sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=JSON_HELP)
    return sub


def add_parsers(commands: Any) -> None:
    revert = _described(commands, "revert", "undo a finished job: delete what it created, restore what it updated "
                                            "(--dry-run: show what a revert would do)",
                        "sluice revert 01JABCDEFGHJKMNPQRSTVWXYZ0 --dry-run")
    revert.add_argument("job_id")
    revert.add_argument("--dry-run", action="store_true", help="count what a revert would do, change nothing")
    revert.add_argument("--wait", action="store_true", help="follow the revert to its end")
    revert.add_argument("--interval", type=float, default=1.0)
    records = commands.add_parser("records", help="records of an item type")
    actions = records.add_subparsers(dest="records_command", required=True)
    delete = _described(actions, "delete", "delete records of an item type by key",
                        "sluice records delete contact ann@example.org bob@example.org")
    delete.add_argument("item_type")
    delete.add_argument("keys", nargs="+", metavar="KEY")


def _finished(client: Requester, job: JobView, interval: float, progress: Progress) -> JobView:
    """Polls the revert to its end, with the progress line `import --wait` shows (a big job's revert takes a while)."""
    while not job.finished:
        time.sleep(interval)
        job = JobView.model_validate(client.request("GET", f"/v1/jobs/{job.jobId}"))
        progress.show(job.model_dump(mode="json"))
    progress.done(job.model_dump(mode="json"))
    return job


def describe(job: JobView, dry_run: bool) -> str:
    """What a revert did, or (a dry run) would do."""
    if not job.finished:
        return (f"revert {job.jobId} of job {job.revertOf}: {job.status.value} "
                f"(`sluice watch {job.jobId}` follows it)")
    counts = job.counts
    verbs = ("would delete", "would restore", "would bring back") if dry_run else ("deleted", "restored",
                                                                                   "brought back")
    lines = [f"{'preview of ' if dry_run else ''}revert {job.jobId} of job {job.revertOf}: {job.status.value}"
             + (f" - {job.reason}" if job.reason else ""),
             f"{verbs[0]} {counts.deleted} created records, {verbs[1]} {counts.updated} updated records, "
             f"{verbs[2]} {counts.created} deleted records; {counts.unchanged} already gone; "
             f"{counts.failed} conflicts (left as they are)"]
    lines += [f"  {e.value}: {e.message}" for e in job.errors[:10]]
    return "\n".join(lines)


def run(client: Requester, args: argparse.Namespace, failure: type[Exception]) -> int:
    if args.command == "revert":
        suffix = "?dryRun=true" if args.dry_run else ""
        answer = client.request("POST", f"/v1/jobs/{quote(args.job_id, safe='')}/revert{suffix}")
        job = JobView.model_validate(answer)
        if not getattr(args, "json", False):
            print(f"job {job.jobId} {job.status.value}", file=sys.stderr)
        if args.dry_run or args.wait:
            job = _finished(client, job, args.interval, Progress(enabled=not getattr(args, "json", False)))
            answer = client.request("GET", f"/v1/jobs/{job.jobId}") if getattr(args, "json", False) else answer
        print(json.dumps(answer, indent=2) if getattr(args, "json", False) else describe(job, args.dry_run))
        if job.status in (Status.REJECTED, Status.FAILED, Status.CANCELED):
            return 2  # README "Exit codes": the job was rejected, failed or was canceled
        return 0
    missing = 0
    outcomes: list[dict[str, Any]] = []
    for key in args.keys:
        try:
            client.request("DELETE", f"/v1/records/{quote(args.item_type, safe='')}/{quote(key, safe='')}")
            outcomes.append({"key": key, "deleted": True})
            if not getattr(args, "json", False):
                print(f"deleted {key}")
        except failure as exc:
            if getattr(exc, "status", None) != 404:
                raise
            missing += 1
            outcomes.append({"key": key, "deleted": False, "reason": "not found"})
            if not getattr(args, "json", False):
                print(f"not found {key}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps(outcomes, indent=2))
    return 1 if missing else 0
