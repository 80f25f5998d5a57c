"""`sluice`: a command-line client of the Sluice API (reads SLUICE_URL and SLUICE_API_KEY)."""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sluice.models.job import JobView, Status
from sluice_cli import undo, webhooks

INLINE_MAX = 4 * 1024 * 1024


class ApiFailure(Exception):
    pass


class Client:
    def __init__(self, url: str, key: str) -> None:
        self.url = url.rstrip("/")
        self.key = key

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode(errors="replace")[:500]
            raise ApiFailure(f"HTTP {exc.code}: {message}") from None
        except urllib.error.URLError as exc:
            raise ApiFailure(f"cannot reach {self.url}: {exc.reason}") from None

    def job(self, job_id: str) -> JobView:
        return JobView.model_validate(self.request("GET", f"/v1/jobs/{job_id}"))

    def submit(self, path: Path, options: dict[str, str]) -> JobView:
        size = path.stat().st_size
        if size > INLINE_MAX:
            job = JobView.model_validate(self.request(
                "POST", "/v1/jobs", json.dumps({**options, "fileName": path.name}).encode(), "application/json"))
            with path.open("rb") as handle:
                put = urllib.request.Request(job.uploadUrl or "", data=handle, method="PUT",
                                             headers={"Content-Length": str(size)})
                urllib.request.urlopen(put, timeout=600).close()
            return job
        body, content_type = multipart(options, path)
        return JobView.model_validate(self.request("POST", "/v1/jobs", body, content_type))


def multipart(fields: dict[str, str], path: Path) -> tuple[bytes, str]:
    boundary = f"sluice-{secrets.token_hex(12)}"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    file_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                 f"Content-Type: {file_type}\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def progress_line(job: JobView, width: int = 30) -> str:
    total, processed = job.counts.total, job.counts.processed
    if total:
        filled = int(width * processed / total)
        bar = "#" * filled + "." * (width - filled)
        return f"[{bar}] {100 * processed // total:3d}% {processed}/{total} rows  {job.status.value}"
    return f"[{'.' * width}] {processed} rows  {job.status.value}"


def summary(job: JobView) -> str:
    counts = job.counts
    lines = [
        f"job {job.jobId}: {job.status.value}" + (f" - {job.reason}" if job.reason else ""),
        "rows: " + ", ".join(f"{k} {getattr(counts, k)}" for k in
                             ("total", "processed", "created", "updated", "unchanged", "failed")),
    ]
    for error in job.errors[:10]:
        field = f" {error.field}" if error.field else ""
        lines.append(f"  row {error.row}{field}: {error.message} (value {error.value!r})")
    if counts.failed > len(job.errors[:10]):
        lines.append(f"  ... see GET /v1/jobs/{job.jobId}/errors")
    return "\n".join(lines)


def wait(client: Client, job: JobView, interval: float, quiet: bool) -> JobView:
    while not job.finished:
        if not quiet:
            print("\r" + progress_line(job), end="", file=sys.stderr, flush=True)
        time.sleep(interval)
        job = client.job(job.jobId)
    if not quiet:
        print("\r" + progress_line(job), file=sys.stderr, flush=True)
    return job


def _client() -> Client:
    url = os.environ.get("SLUICE_URL", "http://127.0.0.1:3000")
    key = os.environ.get("SLUICE_API_KEY")
    if not key:
        raise ApiFailure("set SLUICE_API_KEY (and SLUICE_URL, default http://127.0.0.1:3000)")
    return Client(url, key)


def create_key(args: argparse.Namespace) -> int:
    """Writes a first admin key straight into the jobs table (needs AWS credentials for the stack)."""
    import boto3

    from sluice.config import get_settings
    from sluice.store.clients import Clients
    from sluice.store.keys import KeyStore

    os.environ["JOBS_TABLE"] = args.table
    settings = get_settings()
    session = boto3.session.Session(region_name=args.region)
    dynamodb = session.client("dynamodb", endpoint_url=args.endpoint_url)
    clients = Clients(dynamodb=dynamodb, s3=None, sqs=None, settings=settings)
    created = KeyStore(clients).create(args.tenant, args.name, args.permissions.split(","))
    print(json.dumps(created, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sluice", description="Sluice bulk import client")
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="import a file and (with --wait) follow it to the end")
    imp.add_argument("file", type=Path)
    imp.add_argument("--item-type", required=True)
    imp.add_argument("--job-name")
    imp.add_argument("--merge", action="store_true")
    imp.add_argument("--dry-run", action="store_true")
    imp.add_argument("--creation-path")
    imp.add_argument("--notification-email")
    imp.add_argument("--wait", action="store_true")
    imp.add_argument("--interval", type=float, default=1.0)
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    jobs = commands.add_parser("jobs", help="list recent jobs")
    jobs.add_argument("--status")
    jobs.add_argument("--item-type")
    jobs.add_argument("--limit", type=int, default=20)
    job = commands.add_parser("job", help="show one job")
    job.add_argument("job_id")
    key = commands.add_parser("create-key", help="create an API key directly in the jobs table (first admin key)")
    key.add_argument("--tenant", required=True)
    key.add_argument("--table", required=True, help="the stack's JobsTable name")
    key.add_argument("--name", default="admin")
    key.add_argument("--permissions", default="*")
    key.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    key.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    webhooks.add_parser(commands)
    undo.add_parsers(commands)
    args = parser.parse_args(argv)
    try:
        if args.command == "create-key":
            return create_key(args)
        client = _client()
        if args.command == "webhooks":
            return webhooks.run(client, args)
        if args.command in undo.COMMANDS:
            return undo.run(client, args, ApiFailure)
        if args.command == "import":
            if not args.file.is_file():
                raise ApiFailure(f"no such file: {args.file}")
            options = {"itemType": args.item_type, "merge": "true" if args.merge else "false",
                       "mode": "dry-run" if args.dry_run else "commit"}
            for name, value in (("jobName", args.job_name), ("creationPath", args.creation_path),
                                ("notificationEmail", args.notification_email)):
                if value:
                    options[name] = value
            submitted = client.submit(args.file, options)
            print(f"job {submitted.jobId} {submitted.status.value}", file=sys.stderr)
            if not args.wait:
                print(json.dumps(submitted.body(), indent=2))
                return 0
            finished = wait(client, submitted, args.interval, args.quiet)
            print(summary(finished))
            return 0 if finished.status == Status.COMPLETED else 1
        if args.command == "jobs":
            query = {k: v for k, v in (("status", args.status), ("itemType", args.item_type),
                                       ("limit", str(args.limit))) if v}
            listed = client.request("GET", "/v1/jobs?" + urlencode(query))
            for item in (JobView.model_validate(i) for i in listed["items"]):
                print(f"{item.jobId}  {item.status.value:<10}  {item.itemType or '':<16}  "
                      f"{item.counts.processed}/{item.counts.total}  {item.jobName or ''}")
            return 0
        if args.command == "job":
            print(json.dumps(client.job(args.job_id).body(), indent=2))
            return 0
    except ApiFailure as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
