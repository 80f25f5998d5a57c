"""The audit log over HTTP: GET /v1/audit, and `audit()` that routes call after an action that changes access
or destroys data succeeded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sluice.api.http import parse_limit
from sluice.api.request import principal, query
from sluice.models.errors import BadRequest
from sluice.models.principal import Principal
from sluice.store.audit import AuditLog
from sluice.store.clients import get_clients

router = APIGatewayHttpRouter()


def audit(event: APIGatewayProxyEventV2, caller: Principal, action: str, target: str, **details: Any) -> None:
    """One entry: the acting key, the action, its target and the caller's address."""
    source_ip = event.request_context.http.source_ip or None
    AuditLog(get_clients()).record(caller.tenant, caller.key_id, action, target, source_ip, **details)


def _since_ms(text: str | None) -> int:
    if not text:
        return 0
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"since must be an ISO-8601 time such as 2026-01-31T00:00:00Z, got '{text[:40]}'") from None
    if moment.tzinfo is None:
        raise BadRequest("since needs a time zone (end it with Z for UTC)")
    return max(0, int(moment.timestamp() * 1000))


@router.get("/v1/audit")
def list_audit() -> dict[str, Any]:
    event = router.current_event
    caller = principal(event, "keys:admin")
    params = query(event, "since", "limit", "cursor")
    limit = parse_limit(params.get("limit"), default=100, maximum=1000)
    entries, cursor = AuditLog(get_clients()).page(caller.tenant, _since_ms(params.get("since")), limit,
                                                   params.get("cursor"))
    return {"items": entries, "nextCursor": cursor}
