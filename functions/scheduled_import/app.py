"""Scheduled import: an EventBridge schedule's input -> the newest object under a prefix becomes a job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.intake.dropfolder import scheduled_import
from sluice.models.errors import BadRequest
from sluice.observability import metrics
from sluice.store.clients import get_clients

logger = Logger()
tracer = Tracer()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        result = scheduled_import(get_clients(), event)
    except BadRequest as exc:  # a misconfigured schedule: say so in the logs, do not retry forever
        logger.error("schedule input is unusable", extra={"reason": exc.message, "input": event})
        return {"outcome": "invalid-input", "reason": exc.message}
    logger.info("scheduled import", extra=result)
    return result
