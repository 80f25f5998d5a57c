"""Asking for an export: checked against the item type, stored Accepted, and queued for the exporter."""

from __future__ import annotations

import orjson

from sluice.models.errors import BadRequest, NotFound
from sluice.models.export import Export, ExportRequest
from sluice.models.itemtype import ItemType
from sluice.models.principal import Principal
from sluice.notify.announcer import announced_exports
from sluice.store.clients import Clients
from sluice.store.exports import ExportStore
from sluice.store.itemtypes import ItemTypeStore


def columns_of(item_type: ItemType, template: list[str] | dict[str, str] | None) -> list[tuple[str, str]]:
    """(field, header) pairs: the template's selection and names, else every field in schema order."""
    known = ["key", *item_type.definition.fields]
    if template is None:
        return [(name, name) for name in item_type.definition.fields]
    pairs = [(name, name) for name in template] if isinstance(template, list) else list(template.items())
    unknown = [field for field, _ in pairs if field not in known]
    if unknown:
        raise BadRequest(f"template names unknown fields: {', '.join(unknown)}; known: {', '.join(known)}")
    if not pairs:
        raise BadRequest("template selects no columns")
    return pairs


def create_export(clients: Clients, principal: Principal, request: ExportRequest) -> Export:
    item_type = ItemTypeStore(clients).get(principal.tenant, request.itemType)
    if item_type is None:
        raise BadRequest(f"unknown item type '{request.itemType}'", code="unknown_item_type")
    if request.filters and not request.sqlQuery:
        unknown = [f for f in request.filters if f != "key" and f not in item_type.definition.fields]
        if unknown:
            raise BadRequest(f"filters name unknown fields: {', '.join(unknown)}")
    columns_of(item_type, request.template)
    export = Export.begin(tenant=principal.tenant, submitted_by=principal.key_id, request=request,
                          retention_days=clients.settings.retention_days)
    announced_exports(clients).create(export)
    message = {"tenant": principal.tenant, "exportId": export.exportId}
    clients.sqs.send_message(QueueUrl=clients.settings.export_queue_url, MessageBody=orjson.dumps(message).decode())
    return export


def find_export(clients: Clients, tenant: str, export_id: str) -> Export:
    export = ExportStore(clients).get(tenant, export_id)
    if export is None:
        raise NotFound(f"export {export_id} not found")
    return export
