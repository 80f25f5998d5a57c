"""Running an export (the exporter function): every record of the item type, in key order, filtered (field
equality; a list means any of) and shaped by a template (select, order, rename columns) — or through
sqlQuery — written in parts, then the export Completed with its counts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from sluice.exports.links import download_links
from sluice.exports.sql import run_sql
from sluice.exports.submit import columns_of
from sluice.exports.writer import PartWriter
from sluice.models.clock import now_ms
from sluice.models.errors import LimitReached, RejectedInput
from sluice.models.job import Status
from sluice.notify.announcer import announced_exports
from sluice.store.clients import Clients, aws_unavailable
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.records import RecordStore

logger = Logger(child=True)


def run_export(clients: Clients, tenant: str, export_id: str) -> str:
    store = announced_exports(clients, lambda export: download_links(clients, export))
    export = store.get(tenant, export_id)
    if export is None:
        return "no-export"
    if export.finished:
        return "finished"
    started = store.update(tenant, export_id, {"status": Status.PROCESSING, "startMs": export.startMs or now_ms()},
                           allowed_from={Status.ACCEPTED, Status.PROCESSING})
    if started is None:
        return "state-changed"
    request = started.request
    item_type = ItemTypeStore(clients).get(tenant, request.itemType)
    try:
        if item_type is None:
            raise RejectedInput(f"item type '{request.itemType}' no longer exists")
        if request.sqlQuery:
            writer = run_sql(clients, started, item_type)
        else:
            columns = columns_of(item_type, request.template)
            writer = PartWriter(clients, started, [h for _, h in columns])
            for record in RecordStore(clients).every(item_type):
                if request.filters and not _matches(record, request.filters):
                    continue
                writer.write([record.get(field) for field, _ in columns])
            writer.finish()
    except RejectedInput as rejected:
        store.finish(started, Status.REJECTED, rejected.reason, {Status.PROCESSING})
        return "rejected"
    except LimitReached as limit:
        store.finish(started, Status.FAILED, limit.reason, {Status.PROCESSING})
        return "failed"
    except Exception as exc:
        if aws_unavailable(exc) is not None:
            raise  # AWS busy after every retry: the message comes back and the export runs again
        # anything else would fail the same way on every redelivery: the export ends now, the error logged
        logger.exception("export failed", extra={"exportId": export_id})
        store.finish(started, Status.FAILED, "the export failed unexpectedly; the error was logged. Request it "
                     "again, and if it fails again, report its exportId", {Status.PROCESSING})
        return "failed"
    counted = store.update(tenant, export_id, {"recordsProcessed": writer.rows, "parts": writer.parts},
                           allowed_from={Status.PROCESSING})
    store.finish(counted or started, Status.COMPLETED, None, {Status.PROCESSING})
    return "completed"


def _matches(record: dict[str, Any], filters: dict[str, Any]) -> bool:
    for field, wanted in filters.items():
        value = record.get(field)
        options = wanted if isinstance(wanted, list) else [wanted]
        if not any(_equal(value, option) for option in options):
            return False
    return True


def _equal(value: Any, wanted: Any) -> bool:
    if value is None or wanted is None:
        return value is wanted
    if isinstance(value, bool) or isinstance(wanted, bool):
        return str(value).lower() == str(wanted).lower()
    return str(value) == str(wanted)
