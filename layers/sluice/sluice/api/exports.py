"""Routes of exports and their download links."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sluice.api.http import parse_limit
from sluice.api.idempotency import idempotent
from sluice.api.request import base_url, body_as, checked_job_id, json_response, principal, query
from sluice.exports.links import download_links, resolve_link
from sluice.exports.submit import create_export, find_export
from sluice.models.export import Export, ExportRequest
from sluice.models.job import Status
from sluice.store.clients import Clients, get_clients
from sluice.store.exports import ExportStore

router = APIGatewayHttpRouter()


def export_body(clients: Clients, export: Export, base: str) -> dict[str, Any]:
    links = download_links(clients, export, base) if export.status == Status.COMPLETED else None
    return export.view(links).body()


@router.post("/v1/exports")
def post_export() -> Response:
    event = router.current_event
    caller = principal(event, "exports:write")

    def start() -> Response:
        request = body_as(event, ExportRequest, "{\"itemType\": ..., \"contentType\": \"text/csv\"}")
        clients = get_clients()
        export = create_export(clients, caller, request)
        return json_response(export_body(clients, export, base_url(event)), 202,
                             {"Location": f"/v1/exports/{export.exportId}"})

    return idempotent(event, caller, start)


@router.get("/v1/exports")
def list_exports() -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "exports:read")
    params = query(event, "limit", "cursor")
    limit = parse_limit(params.get("limit"), default=20, maximum=100)
    clients = get_clients()
    exports, cursor = ExportStore(clients).page(caller.tenant, limit, params.get("cursor"))
    return {"items": [export_body(clients, e, base_url(event)) for e in exports], "nextCursor": cursor}


@router.get("/v1/exports/<export_id>")
def get_export(export_id: str) -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "exports:read")
    clients = get_clients()
    return export_body(clients, find_export(clients, caller.tenant, checked_job_id(export_id)), base_url(event))


@router.get("/v1/export-links/<token>")
def follow_export_link(token: str) -> Response:
    url = resolve_link(get_clients(), token)  # the token is the credential: no API key needed
    return json_response({"url": url}, 302, {"Location": url, "Cache-Control": "no-store"})
