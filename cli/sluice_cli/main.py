"""`sluice`: a command-line client of the Sluice API (SLUICE_URL and SLUICE_API_KEY, or --url and --key).

Exit codes: 0 every row applied (or the command did what it was asked), 1 the job completed with failed or
unprocessed rows, 2 the job was rejected, failed or canceled, 3 a usage or connection error or a request the API
refused. Errors are one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode

from sluice_cli import completion, undo, webhooks
from sluice_cli.client import MIN_PART_BYTES, ApiFailure, Client, CliError, segment
from sluice_cli.render import (
    EXIT_APPLIED,
    EXIT_USAGE,
    FINISHED,
    Progress,
    error_text,
    exit_code,
    jobs_table,
    summary,
    warning_text,
)

JOB_ID = re.compile(r"^[0-9A-Z]{26}$")
DEFAULT_URL = "http://127.0.0.1:3000"

EXAMPLES = """\
examples:
  export SLUICE_URL=http://127.0.0.1:3000 SLUICE_API_KEY=dev-key
  sluice item-types put contact.json                 # the item type "contact" from a JSON file
  sluice import people.csv --item-type contact --wait
  sluice import book.xlsx --item-type contact --sheet People --header-row 2 --dry-run --wait
  sluice errors 01JABCDEFGHJKMNPQRSTVWXYZ0 --all --csv > errors.csv
  sluice results 01JABCDEFGHJKMNPQRSTVWXYZ0 --kind failed -o failed.csv
  sluice exports create --item-type contact --filter tier=gold --wait -o gold.csv
  sluice jobs --status Completed --json | jq -r '.items[].jobId'
  eval "$(sluice completion bash)"                    # tab completion in this shell

exit codes: 0 all rows applied, 1 some rows failed, 2 job rejected/failed/canceled, 3 usage or connection error
"""


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors on exit code 3 (2 means a failed job here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"sluice: {message}\n")


def job_id(value: str) -> str:
    if not JOB_ID.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a job id (26 capital letters and digits, as `sluice import` and `sluice jobs` print)")
    return value


def _part_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of bytes") from None
    if size < MIN_PART_BYTES:
        raise argparse.ArgumentTypeError(f"parts are at least {MIN_PART_BYTES} bytes (S3's minimum)")
    return size


def name_value(value: str) -> tuple[str, str]:
    name, sep, text = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{value!r}: expected NAME=VALUE")
    return name, text


def _json_flag(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: given after the command it sets the value; absent, it leaves the top-level --json alone
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the API's JSON (for scripts) instead of text")


def _wait_flags(parser: argparse.ArgumentParser, what: str = "the job") -> None:
    parser.add_argument("--wait", action="store_true", help=f"follow {what} to its end (exit code by outcome)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def build_parser() -> Parser:
    parser = Parser(prog="sluice", description="Sluice bulk import client.", epilog=EXAMPLES,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", dest="base_url", default=os.environ.get("SLUICE_URL", DEFAULT_URL),
                        help=f"the API's base URL (env SLUICE_URL, default {DEFAULT_URL})")
    parser.add_argument("--key", default=os.environ.get("SLUICE_API_KEY"), help="an API key (env SLUICE_API_KEY)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON (for scripts) instead of text")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    def command(name: str, help: str, example: str = "", **kwargs: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                                  epilog=f"example:\n  {example}" if example else None,
                                  formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
        _json_flag(sub)
        return sub

    imp = command("import", "import a file (CSV, JSON Lines, XLSX, XLS); --wait follows it to the end",
                  "sluice import people.csv --item-type contact --mapping crm-export --wait")
    imp.add_argument("file", type=Path)
    imp.add_argument("--item-type", required=True)
    imp.add_argument("--name", "--job-name", dest="name", help="the job's name (default: the file name)")
    imp.add_argument("--sheet", help="workbooks: the sheet's name or 0-based index (default: the first)")
    imp.add_argument("--header-row", type=int, help="the 1-based row holding the headers (default 1)")
    imp.add_argument("--delimiter", help="CSV: , ; | or tab (default: detected)")
    imp.add_argument("--encoding", help="text encoding, e.g. utf-8, cp1252, utf-16 (default: detected)")
    imp.add_argument("--mapping", metavar="FILE|NAME",
                     help="source header -> field: a JSON file ({\"Header\": \"field\"} or {\"columns\": {...}}), "
                          "sent as this job's columns; or the name of a mapping saved on the item type")
    imp.add_argument("--merge", action="store_true", help="change only the given fields (default: replace records)")
    imp.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    imp.add_argument("--creation-path", help="tags the job (creationPath API:<value>), to find it with `jobs`")
    imp.add_argument("--notification-email")
    imp.add_argument("--option", type=name_value, action="append", default=[], metavar="NAME=VALUE",
                     help="any other job option of the API, as is (repeatable)")
    imp.add_argument("--part-size", type=_part_size, metavar="BYTES",
                     help="upload in parts of this many bytes (at least 5 MiB), whatever the file's size (files over "
                          "1 GiB always go up in parts of 64 MiB)")
    _wait_flags(imp)

    show = command("job", "show one job", "sluice job 01JABCDEFGHJKMNPQRSTVWXYZ0")
    show.add_argument("job_id", type=job_id)
    watch = command("watch", "follow a job to its end with a progress line", "sluice watch 01JABCDEFGHJKMNPQRSTVWXYZ0")
    watch.add_argument("job_id", type=job_id)
    watch.add_argument("--interval", type=float, default=1.0)
    watch.add_argument("--quiet", action="store_true")
    for name, help in (("commit", "apply a completed dry run for real (a new job, no re-upload)"),
                       ("retry", "a new job of a finished job's failed rows, as they were"),
                       ("cancel", "cancel a job (rows applied stay applied)")):
        sub = command(name, help, f"sluice {name} 01JABCDEFGHJKMNPQRSTVWXYZ0" + (" --wait" if name != "cancel" else ""))
        sub.add_argument("job_id", type=job_id)
        _wait_flags(sub)

    errors = command("errors", "a job's row errors, in row order", "sluice errors 01JABCDEFGHJKMNPQRSTVWXYZ0 --csv")
    errors.add_argument("job_id", type=job_id)
    errors.add_argument("--limit", type=int, default=100, help="rows a page (default 100, at most 1000)")
    errors.add_argument("--cursor", help="the page after this one (printed at the end of the last)")
    errors.add_argument("--all", action="store_true", help="every page")
    errors.add_argument("--csv", action="store_true", help="as CSV: row,line,field,value,message,file")

    results = command("results", "download a job's result file",
                      "sluice results 01JABCDEFGHJKMNPQRSTVWXYZ0 --kind failed -o failed.csv")
    results.add_argument("job_id", type=job_id)
    results.add_argument("--kind", choices=("succeeded", "failed", "unprocessed"), required=True)
    results.add_argument("--file", dest="part", help="jobs of several files: the file's name")
    results.add_argument("-o", "--output", default="-", help="where to write it (default: stdout)")

    jobs = command("jobs", "list jobs, newest first", "sluice jobs --status Completed --item-type contact")
    jobs.add_argument("--status", choices=("Initialized", "Accepted", "Processing", "Completed", "Rejected",
                                           "Canceling", "Canceled", "Failed"))
    jobs.add_argument("--item-type")
    jobs.add_argument("--creation-path", help="a prefix of creationPath, e.g. API:LH or S3_DROP")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.add_argument("--cursor")

    item_types = command("item-types", "item types (schemas)", "sluice item-types put contact.json")
    actions = item_types.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=Parser)
    _json_flag(actions.add_parser("list", help="the tenant's item types"))
    get = actions.add_parser("get", help="one item type's definition")
    get.add_argument("name")
    _json_flag(get)
    put = actions.add_parser("put", help="create or replace an item type from a JSON file")
    put.add_argument("file", type=Path)
    put.add_argument("--name", help="the item type's name (default: the file's name without .json)")
    _json_flag(put)
    delete = actions.add_parser("delete", help="delete an item type")
    delete.add_argument("name")
    delete.add_argument("--purge", action="store_true", help="its records too")
    _json_flag(delete)

    exports = command("exports", "export records", "sluice exports create --item-type contact --wait -o all.csv")
    actions = exports.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=Parser)
    create = actions.add_parser("create", help="start an export (--wait -o FILE: and download it)")
    create.add_argument("--item-type", required=True)
    create.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    create.add_argument("--filter", type=name_value, action="append", default=[], metavar="FIELD=VALUE",
                        help="records whose field equals the value (repeatable)")
    create.add_argument("--sql", help="a read-only query over the table `records`")
    create.add_argument("--name")
    create.add_argument("-o", "--output", help="with --wait: download the file here")
    _wait_flags(create, "the export")
    _json_flag(create)
    _json_flag(actions.add_parser("list", help="the tenant's exports, newest first"))
    for name, help in (("get", "one export"), ("download", "download a completed export")):
        sub = actions.add_parser(name, help=help)
        sub.add_argument("export_id", type=job_id)
        if name == "download":
            sub.add_argument("-o", "--output", default="-", help="where to write it (default: stdout)")
        _json_flag(sub)

    keys = command("keys", "API keys of this tenant", "sluice keys create --name ci --permissions imports:write")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=Parser)
    create = actions.add_parser("create", help="a new key (printed once)")
    create.add_argument("--name", required=True)
    create.add_argument("--permissions", required=True, help="comma-separated, e.g. imports:write,imports:read or *")
    _json_flag(create)
    _json_flag(actions.add_parser("list", help="the tenant's keys"))
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    _json_flag(revoke)

    hooks = webhooks.add_parser(commands)
    _json_flag(hooks)
    undo.add_parsers(commands)

    key = command("create-key", "create a first admin key directly in the stack's jobs table (AWS credentials)",
                  "sluice create-key --tenant acme --table <JobsTable output>")
    key.add_argument("--tenant", required=True)
    key.add_argument("--table", required=True, help="the stack's JobsTable name")
    key.add_argument("--name", default="admin")
    key.add_argument("--permissions", default="*")
    key.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    key.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))

    shells = command("completion", "print a shell completion script", 'eval "$(sluice completion bash)"')
    shells.add_argument("shell", choices=("bash", "zsh"))
    return parser


# ---- output helpers


def emit(args: argparse.Namespace, value: Any, text: Callable[[], str] | str) -> None:
    if args.json:
        print(json.dumps(value, indent=2))
    else:
        rendered = text() if callable(text) else text
        if rendered:
            print(rendered)


def open_output(target: str) -> Any:
    if target == "-":
        return sys.stdout.buffer
    try:
        return Path(target).open("wb")
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror}") from None


def follow(client: Client, job: dict[str, Any], args: argparse.Namespace, path: str = "/v1/jobs") -> dict[str, Any]:
    progress = Progress(enabled=not args.quiet)
    while job.get("status") not in FINISHED:
        progress.show(job)
        time.sleep(args.interval)
        job = dict(client.request("GET", f"{path}/{segment(str(job.get('jobId') or job.get('exportId')))}"))
    progress.done(job)
    return job


def finish(client: Client, job: dict[str, Any], args: argparse.Namespace) -> int:
    """After a job was made: its JSON or one line (no --wait), or followed to its end with a summary."""
    if not getattr(args, "wait", True):
        emit(args, job, lambda: f"job {job['jobId']} {job['status']}" + (
            "  (dry run)" if job.get("mode") == "dry-run" else "") + f"\nfollow it: sluice watch {job['jobId']}")
        return EXIT_APPLIED
    done = follow(client, job, args)
    emit(args, done, lambda: summary(done))
    return exit_code(done)


# ---- commands


def mapping_option(value: str) -> dict[str, Any]:
    path = Path(value)
    if not path.is_file():
        if "/" in value or value.endswith(".json"):
            raise CliError(f"no such mapping file: {value}")
        return {"mapping": value}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"{value} is not JSON: {exc}") from None
    columns = loaded.get("columns", loaded) if isinstance(loaded, dict) else None
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise CliError(f"{value} must hold {{\"Source header\": \"field\", ...}} (or that under \"columns\")")
    return {"columns": columns}


def do_import(client: Client, args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise CliError(f"no such file: {args.file}")
    options: dict[str, Any] = {"itemType": args.item_type, "merge": args.merge,
                               "mode": "dry-run" if args.dry_run else "commit"}
    for name, value in (("jobName", args.name), ("sheet", args.sheet), ("headerRow", args.header_row),
                        ("delimiter", "\t" if args.delimiter in ("tab", "\\t") else args.delimiter),
                        ("encoding", args.encoding), ("creationPath", args.creation_path),
                        ("notificationEmail", args.notification_email)):
        if value is not None:
            options[name] = value
    if args.mapping:
        options.update(mapping_option(args.mapping))
    for name, value in args.option:
        try:
            options[name] = json.loads(value)  # numbers, booleans, objects as JSON; anything else as text
        except ValueError:
            options[name] = value
    if not args.json and not args.quiet:
        print(("dry run of " if args.dry_run else "importing ") + f"{args.file} ({args.file.stat().st_size} bytes)",
              file=sys.stderr)
    say = None if args.json or args.quiet else lambda line: print(line, file=sys.stderr, flush=True)
    job = client.submit(args.file, options, args.part_size, say)
    if not args.json and not args.quiet and args.wait:
        print(f"job {job['jobId']} {job['status']}", file=sys.stderr)
    return finish(client, job, args)


def do_errors(client: Client, args: argparse.Namespace) -> int:
    cursor, items, next_cursor = args.cursor, [], None
    while True:
        query = {"limit": str(args.limit), **({"cursor": cursor} if cursor else {})}
        page = client.request("GET", f"/v1/jobs/{segment(args.job_id)}/errors?{urlencode(query)}")
        items += page["items"]
        next_cursor = page.get("nextCursor")
        if not (args.all and next_cursor):
            break
        cursor = next_cursor
    if args.json:
        print(json.dumps({"items": items, "nextCursor": next_cursor}, indent=2))
    elif args.csv:
        columns = ["row", "line", "field", "value", "message", "file"]
        writer = csv.DictWriter(sys.stdout, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(items)
    else:
        for item in items:
            print(error_text(item))
        if not items:
            print("no row errors")
    if next_cursor and not args.json:
        print(f"more: sluice errors {args.job_id} --cursor {next_cursor} (or --all)", file=sys.stderr)
    return EXIT_APPLIED


def do_results(client: Client, args: argparse.Namespace) -> int:
    query = f"?{urlencode({'file': args.part})}" if args.part else ""
    link = client.request("GET", f"/v1/jobs/{segment(args.job_id)}/results/{args.kind}{query}")
    sink = open_output(args.output)
    try:
        written = client.download(link["url"], sink)
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
    if args.output != "-":
        emit(args, {**link, "file": args.output, "bytes": written}, f"wrote {args.output} ({written} bytes)")
    return EXIT_APPLIED


def do_jobs(client: Client, args: argparse.Namespace) -> int:
    query = {k: v for k, v in (("status", args.status), ("itemType", args.item_type),
                               ("creationPath", args.creation_path), ("limit", str(args.limit)),
                               ("cursor", args.cursor)) if v}
    page = client.request("GET", "/v1/jobs?" + urlencode(query))
    more = f"\nmore: sluice jobs --cursor {page['nextCursor']}" if page.get("nextCursor") else ""
    emit(args, page, lambda: jobs_table(page["items"]) + more)
    return EXIT_APPLIED


def do_item_types(client: Client, args: argparse.Namespace) -> int:
    if args.action == "list":
        page = client.request("GET", "/v1/item-types")
        emit(args, page, lambda: "\n".join(
            f"{t.get('itemType') or t.get('name')}  key {','.join(t.get('key') or []) or '-'}  "
            f"{len(t.get('fields') or {})} fields" for t in page["items"]))
    elif args.action == "get":
        found = client.request("GET", f"/v1/item-types/{segment(args.name)}")
        print(json.dumps(found, indent=2))
    elif args.action == "put":
        name = args.name or args.file.name.removesuffix(".json")
        try:
            definition = json.loads(args.file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise CliError(f"{args.file} is not JSON: {exc}") from None
        stored = client.send("PUT", f"/v1/item-types/{segment(name)}", definition)
        emit(args, stored, f"item type {name}: version {stored.get('version', '?')}")
    else:
        query = "?purge=true" if args.purge else ""
        answer = client.request("DELETE", f"/v1/item-types/{segment(args.name)}{query}")
        emit(args, answer, f"item type {args.name} deleted" if answer is None else
             f"item type {args.name}: {json.dumps(answer)}")
    return EXIT_APPLIED


def export_line(export: dict[str, Any]) -> str:
    return (f"{export.get('exportId')}  {export.get('status', ''):<10}  {export.get('itemType') or '':<16}  "
            f"{export.get('recordsProcessed', 0)} records  {export.get('jobName') or ''}")


def download_export(client: Client, export: dict[str, Any], target: str) -> int:
    """Every part of a completed export into one file (a CSV's header once: each part repeats it)."""
    links = (export.get("links") or {}).get("download")
    if export.get("status") != "Completed" or not links:
        raise CliError(f"export {export.get('exportId')} is {export.get('status')}: nothing to download"
                       + (f" ({export['reason']})" if export.get("reason") else ""))
    parts = [links] if isinstance(links, str) else list(links)
    header = export.get("contentType", "text/csv") == "text/csv" and export.get("rowHeader", True)
    sink = open_output(target)
    written = 0
    try:
        for number, url in enumerate(parts):
            if number == 0 or not header:
                written += client.download(str(url), sink)
            else:
                buffer = io.BytesIO()
                client.download(str(url), buffer)
                rest = buffer.getvalue().split(b"\n", 1)[1] if b"\n" in buffer.getvalue() else b""
                sink.write(rest)
                written += len(rest)
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
    return written


def do_exports(client: Client, args: argparse.Namespace) -> int:
    if args.action == "list":
        page = client.request("GET", "/v1/exports")
        emit(args, page, lambda: "\n".join(export_line(e) for e in page["items"]))
        return EXIT_APPLIED
    if args.action in ("get", "download"):
        export = client.request("GET", f"/v1/exports/{segment(args.export_id)}")
        if args.action == "get":
            emit(args, export, lambda: export_line(export) + "".join(
                f"\nwarning: {warning_text(w)}" for w in export.get("warnings") or []))
            return EXIT_APPLIED
        written = download_export(client, export, args.output)
        if args.output != "-":
            emit(args, {"file": args.output, "bytes": written}, f"wrote {args.output} ({written} bytes)")
        return EXIT_APPLIED
    body: dict[str, Any] = {"itemType": args.item_type,
                            "contentType": "text/csv" if args.format == "csv" else "application/json"}
    if args.filter:
        body["filters"] = dict(args.filter)
    for name, value in (("sqlQuery", args.sql), ("jobName", args.name)):
        if value:
            body[name] = value
    export = dict(client.send("POST", "/v1/exports", body))
    if not args.wait:
        emit(args, export, lambda: export_line(export))
        return EXIT_APPLIED
    while export.get("status") not in FINISHED:
        time.sleep(args.interval)
        export = dict(client.request("GET", f"/v1/exports/{segment(export['exportId'])}"))
    if export["status"] != "Completed":
        emit(args, export, lambda: export_line(export) + (f" - {export.get('reason')}" if export.get("reason") else ""))
        return 2
    if args.output:
        written = download_export(client, export, args.output)
        if args.output != "-":
            emit(args, export, lambda: export_line(export) + f"\nwrote {args.output} ({written} bytes)")
        return EXIT_APPLIED
    emit(args, export, lambda: export_line(export))
    return EXIT_APPLIED


def do_keys(client: Client, args: argparse.Namespace) -> int:
    if args.action == "create":
        created = client.send("POST", "/v1/api-keys", {
            "name": args.name, "permissions": [p.strip() for p in args.permissions.split(",") if p.strip()]})
        emit(args, created, f"key {created['keyId']} ({created.get('name')}): {created['key']}\n"
                            "(shown only now: keep it somewhere safe)")
    elif args.action == "list":
        page = client.request("GET", "/v1/api-keys")
        emit(args, page, lambda: "\n".join(
            f"{k.get('keyId')}  {'revoked' if k.get('revoked') else 'active':<7}  {k.get('name', '')}  "
            f"{','.join(k.get('permissions') or [])}" for k in page["items"]))
    else:
        answer = client.request("DELETE", f"/v1/api-keys/{segment(args.key_id)}")
        emit(args, answer, f"key {args.key_id} revoked")
    return EXIT_APPLIED


def create_key(args: argparse.Namespace) -> int:
    """Writes a first admin key straight into the jobs table (needs AWS credentials for the stack)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from sluice.config import get_settings
    from sluice.store.clients import Clients
    from sluice.store.keys import KeyStore

    os.environ["JOBS_TABLE"] = args.table
    settings = get_settings()
    try:
        session = boto3.session.Session(region_name=args.region)
        dynamodb = session.client("dynamodb", endpoint_url=args.endpoint_url)
        clients = Clients(dynamodb=dynamodb, s3=None, sqs=None, settings=settings)
        created = KeyStore(clients).create(args.tenant, args.name, args.permissions.split(","))
    except (BotoCoreError, ClientError) as exc:
        raise CliError(f"cannot write the key to table {args.table}: {exc}") from None
    except ValueError as exc:  # a tenant, name or permission the key store refuses
        raise CliError(str(exc)) from None
    print(json.dumps(created, indent=2))
    return 0


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "completion":
        print(completion.script(parser, args.shell))
        return EXIT_APPLIED
    if args.command == "create-key":
        return create_key(args)
    if not args.key:
        raise CliError(f"set SLUICE_API_KEY (or --key), and SLUICE_URL (or --url; default {DEFAULT_URL})")
    client = Client(args.base_url, args.key)
    if args.command == "webhooks":
        return webhooks.run(client, args)
    if args.command in undo.COMMANDS:
        return undo.run(client, args, ApiFailure)
    if args.command == "import":
        return do_import(client, args)
    if args.command == "job":
        found = client.job(args.job_id)
        emit(args, found, lambda: summary(found))
        return EXIT_APPLIED
    if args.command == "watch":
        args.wait = True
        return finish(client, client.job(args.job_id), args)
    if args.command in ("commit", "retry", "cancel"):
        route = {"commit": "commit", "retry": "retry-failed", "cancel": "cancel"}[args.command]
        job = dict(client.request("POST", f"/v1/jobs/{segment(args.job_id)}/{route}"))
        return finish(client, job, args)
    handlers: dict[str, Callable[[Client, argparse.Namespace], int]] = {
        "errors": do_errors, "results": do_results, "jobs": do_jobs, "item-types": do_item_types,
        "exports": do_exports, "keys": do_keys}
    return handlers[args.command](client, args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args, parser)
    except CliError as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sluice: interrupted (the job goes on; `sluice watch` follows it again)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sluice jobs | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_APPLIED


if __name__ == "__main__":
    sys.exit(main())
