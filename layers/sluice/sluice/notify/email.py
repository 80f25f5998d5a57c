"""The completion email of a finished job or export (SES), best effort: a failure is logged, never fails it."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from sluice.models.export import Export
from sluice.models.job import Job
from sluice.models.schemas import RowError
from sluice.store.clients import Clients

logger = Logger(child=True)
COUNT_NAMES = ("total", "processed", "created", "updated", "unchanged", "failed")


def job_email(clients: Clients, job: Job, errors: list[RowError], to: str | None = None) -> None:
    """to: the address (default the job's notificationEmail)."""
    view = job.view()
    lines = [f"Import id: {job.jobId}", f"Item type: {job.itemType}", f"Status: {job.status.value}"]
    if job.reason:
        lines.append(f"Reason: {job.reason}")
    lines.append("Rows: " + ", ".join(f"{name} {getattr(view.counts, name)}" for name in COUNT_NAMES))
    for error in errors[:10]:
        where = f"row {error.row}" + (f" ({error.field})" if error.field else "")
        lines.append(f"  {where}: {error.message}")
    base = clients.settings.public_api_url.rstrip("/")
    if base:
        lines.append(f"see it in the console: {base}/console/jobs/{job.jobId}")
    lines += [f"job: {base}/v1/jobs/{job.jobId}", f"errors: {base}/v1/jobs/{job.jobId}/errors"]
    _send(clients, to or job.notificationEmail, f"Sluice import {job.jobName or job.jobId}: {job.status.value}", lines,
          job.jobId)


def export_email(clients: Clients, export: Export, download: list[str]) -> None:
    lines = [f"Export id: {export.exportId}", f"Item type: {export.request.itemType}",
             f"Status: {export.status.value}"]
    if export.reason:
        lines.append(f"Reason: {export.reason}")
    lines.append(f"Records exported: {export.recordsProcessed}")
    lines += [f"download: {url}" for url in download]
    _send(clients, export.request.notificationEmail, f"Sluice export {export.jobName}: {export.status.value}",
          lines, export.exportId)


def _send(clients: Clients, address: str | None, title: str, lines: list[str], item_id: str) -> None:
    sender = clients.settings.sender_email
    if not address or not sender or clients.ses is None:
        return
    try:
        clients.ses.send_email(Source=sender, Destination={"ToAddresses": [address]},
                               Message={"Subject": {"Data": title[:200]},
                                        "Body": {"Text": {"Data": "\n".join([title, "", *lines])}}})
    except Exception:
        logger.exception("completion email not sent", extra={"jobId": item_id})
