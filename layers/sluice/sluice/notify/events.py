"""Every status change of a job or export goes to EventBridge (source `sluice`, detail-type
`Job Status Changed`). Best effort: a failure is logged, never fails the job."""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools import Logger

from sluice.models.export import Export
from sluice.models.job import CountsView, Job, Status
from sluice.store.clients import Clients

logger = Logger(child=True)
EVENT_SOURCE = "sluice"
DETAIL_TYPE = "Job Status Changed"
REVERTED_DETAIL_TYPE = "Job Reverted"  # besides its status change, a revert job that completes (job.reverted)


def status_detail(item: Job | Export) -> dict[str, Any]:
    if isinstance(item, Export):
        return {"tenant": item.tenant, "jobId": item.exportId, "kind": "export", "status": item.status.value,
                "reason": item.reason, "itemType": item.request.itemType, "creationPath": item.creationPath,
                "recordsProcessed": item.recordsProcessed}
    return {"tenant": item.tenant, "jobId": item.jobId, "kind": "import", "status": item.status.value,
            "reason": item.reason, "itemType": item.itemType, "creationPath": item.creationPath,
            "counts": CountsView.of(item.total, item.counts).model_dump(), "operation": item.operation,
            "mode": item.mode, **({"revertOf": item.revertOf} if item.revertOf else {})}


def is_completed_revert(job: Job) -> bool:
    return job.operation == "revert" and job.mode == "commit" and job.status == Status.COMPLETED


def status_changed(clients: Clients, item: Job | Export) -> None:
    detail = status_detail(item)
    publish(clients, DETAIL_TYPE, detail)
    if isinstance(item, Job) and is_completed_revert(item):
        publish(clients, REVERTED_DETAIL_TYPE, {**detail, "type": "job.reverted"})


def publish(clients: Clients, detail_type: str, detail: dict[str, Any]) -> None:
    """One event of source `sluice` on the stack's bus, best effort."""
    if clients.events is None:
        return
    try:
        response = clients.events.put_events(Entries=[{
            "Source": EVENT_SOURCE, "DetailType": detail_type, "Detail": orjson.dumps(detail, default=str).decode(),
            "EventBusName": clients.settings.event_bus, "Resources": [],
        }])
        if response.get("FailedEntryCount"):
            logger.warning("event not accepted", extra={"detailType": detail_type,
                                                        "response": response.get("Entries")})
    except Exception:
        logger.exception("event not published", extra={"detailType": detail_type})
