"""`sluice webhooks ...`: register endpoints, read the delivery log, redeliver (the /v1/webhooks routes)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from sluice.models.webhook import EVENT_TYPES


class Requester(Protocol):
    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any: ...


def add_parser(commands: Any) -> Any:
    hooks = commands.add_parser("webhooks", help="webhook endpoints, their delivery log and redelivery",
                                description="Webhook endpoints, their delivery log and redelivery.",
                                epilog="example:\n  sluice webhooks create https://hooks.example.com/sluice --events "
                                       "job.completed,job.failed", formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION",
                                   parser_class=type(hooks))
    actions.add_parser("list", help="the tenant's endpoints")
    create = actions.add_parser("create", help="register an endpoint (prints its secret, shown only once)")
    create.add_argument("url")
    create.add_argument("--events", default="*", help=f"comma-separated: {', '.join(EVENT_TYPES)}, or * (default)")
    create.add_argument("--description")
    show = actions.add_parser("show", help="one endpoint")
    show.add_argument("webhook_id")
    update = actions.add_parser("update", help="change an endpoint; --enable turns a disabled one back on")
    update.add_argument("webhook_id")
    update.add_argument("--url")
    update.add_argument("--events")
    update.add_argument("--description")
    state = update.add_mutually_exclusive_group()
    state.add_argument("--enable", action="store_true")
    state.add_argument("--disable", action="store_true")
    delete = actions.add_parser("delete", help="remove an endpoint")
    delete.add_argument("webhook_id")
    rotate = actions.add_parser("rotate-secret", help="a new secret (the old one signs too for 24 hours)")
    rotate.add_argument("webhook_id")
    log = actions.add_parser("deliveries", help="the delivery log: every attempt, newest first")
    log.add_argument("webhook_id")
    log.add_argument("--limit", type=int, default=20)
    log.add_argument("--cursor")
    again = actions.add_parser("redeliver", help="attempt a delivery once more, now")
    again.add_argument("webhook_id")
    again.add_argument("delivery_id")
    for action in actions.choices.values():  # --json after the action too (the page as JSON, with nextCursor)
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the API's JSON")
    return hooks


def _events(text: str) -> list[str]:
    return [e.strip() for e in text.split(",") if e.strip()]


def _send(client: Requester, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    return client.request(method, path, data, "application/json" if data is not None else None)


def run(client: Requester, args: argparse.Namespace) -> int:
    action = args.webhooks_command
    base = "/v1/webhooks"
    path = f"{base}/{quote(args.webhook_id, safe='')}" if hasattr(args, "webhook_id") else base
    if action == "list":
        listed = _send(client, "GET", base)
        if args.json:
            print(json.dumps(listed, indent=2))
            return 0
        for hook in listed["items"]:
            state = "enabled" if hook["enabled"] else f"DISABLED ({hook['disabledReason']})"
            print(f"{hook['webhookId']}  {state:<8}  {','.join(hook['events']):<24}  {hook['url']}")
        return 0
    if action == "create":
        body: dict[str, Any] = {"url": args.url, "events": _events(args.events)}
        if args.description:
            body["description"] = args.description
        print(json.dumps(_send(client, "POST", base, body), indent=2))
        return 0
    if action == "show":
        print(json.dumps(_send(client, "GET", path), indent=2))
        return 0
    if action == "update":
        changes: dict[str, Any] = {}
        for name in ("url", "description"):
            if getattr(args, name) is not None:
                changes[name] = getattr(args, name)
        if args.events is not None:
            changes["events"] = _events(args.events)
        if args.enable or args.disable:
            changes["enabled"] = bool(args.enable)
        print(json.dumps(_send(client, "PATCH", path, changes), indent=2))
        return 0
    if action == "delete":
        print(json.dumps(_send(client, "DELETE", path)))
        return 0
    if action == "rotate-secret":
        print(json.dumps(_send(client, "POST", f"{path}/rotate-secret"), indent=2))
        return 0
    if action == "deliveries":
        query = {"limit": str(args.limit), **({"cursor": args.cursor} if args.cursor else {})}
        page = _send(client, "GET", f"{path}/deliveries?{urlencode(query)}")
        if args.json:
            print(json.dumps(page, indent=2))
            return 0
        for attempt in page["items"]:
            code = attempt["responseCode"] if attempt["responseCode"] is not None else "-"
            then = f"  next {attempt['nextAttemptAt']}" if attempt["nextAttemptAt"] else ""
            print(f"{attempt['at']}  {attempt['type']:<16} #{attempt['attempt']:<2} {attempt['status']:<9} {code!s:>3} "
                  f"{attempt['durationMs']:>5} ms  {attempt['deliveryId']}{then}"
                  + (f"\n    {attempt['error']}" if attempt["error"] else ""))
        if page.get("nextCursor"):
            print(f"more: --cursor {page['nextCursor']}")
        return 0
    if action == "redeliver":
        print(json.dumps(_send(client, "POST", f"{path}/deliveries/{quote(args.delivery_id, safe='')}/redeliver")))
        return 0
    return 3
