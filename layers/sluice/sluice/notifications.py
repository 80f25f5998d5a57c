"""Telling the outside world: every status change of a job or export goes to EventBridge
(source `sluice`, detail-type `Job Status Changed`), and a finished one with a notificationEmail sends
one email through SES. Both are best effort: a failure is logged, never fails the job."""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools import Logger

from sluice.aws import Clients
from sluice.dynamo import Item

logger = Logger(child=True)
EVENT_SOURCE = "sluice"
DETAIL_TYPE = "Job Status Changed"


def _counts(job: Item) -> dict[str, Any]:
    return {"total": job.get("total"), **{name: int(job.get(f"c{name.capitalize()}", 0)) for name in
                                          ("processed", "created", "updated", "unchanged", "failed", "unprocessed")}}


def status_changed(clients: Clients, job: Item) -> None:
    if clients.events is None:
        return
    kind = job.get("kind", "import")
    detail = {"tenant": job["tenant"], "jobId": job["jobId"], "kind": kind, "status": job.get("status"),
              "reason": job.get("reason"), "itemType": job.get("itemType"), "creationPath": job.get("creationPath")}
    if kind == "export":
        detail["recordsProcessed"] = int(job.get("recordsProcessed", 0))
    else:
        detail["counts"] = _counts(job)
    try:
        response = clients.events.put_events(Entries=[{
            "Source": EVENT_SOURCE, "DetailType": DETAIL_TYPE, "Detail": orjson.dumps(detail, default=str).decode(),
            "EventBusName": clients.settings.event_bus, "Resources": [],
        }])
        if response.get("FailedEntryCount"):
            logger.warning("status event not accepted", extra={"response": response.get("Entries")})
    except Exception:
        logger.exception("status event not published")


def completion_email(clients: Clients, job: Item, errors: list[dict[str, Any]], links: dict[str, Any]) -> None:
    address = job.get("notificationEmail")
    sender = clients.settings.sender_email
    if not address or not sender or clients.ses is None:
        return
    kind = job.get("kind", "import")
    title = f"Sluice {kind} {job.get('jobName') or job['jobId']}: {job.get('status')}"
    lines = [title, "", f"{kind.capitalize()} id: {job['jobId']}", f"Item type: {job.get('itemType')}",
             f"Status: {job.get('status')}"]
    if job.get("reason"):
        lines.append(f"Reason: {job['reason']}")
    if kind == "export":
        lines.append(f"Records exported: {int(job.get('recordsProcessed', 0))}")
    else:
        counts = _counts(job)
        lines.append("Rows: " + ", ".join(f"{k} {counts[k]}" for k in
                                          ("total", "processed", "created", "updated", "unchanged", "failed")))
        for error in errors[:10]:
            where = f"row {error['row']}" + (f" ({error['field']})" if error.get("field") else "")
            lines.append(f"  {where}: {error['message']}")
    for name, link in links.items():
        for url in link if isinstance(link, list) else [link]:
            lines.append(f"{name}: {url}")
    try:
        clients.ses.send_email(Source=sender, Destination={"ToAddresses": [address]},
                               Message={"Subject": {"Data": title[:200]}, "Body": {"Text": {"Data": "\n".join(lines)}}})
    except Exception:
        logger.exception("completion email not sent", extra={"jobId": job["jobId"]})
