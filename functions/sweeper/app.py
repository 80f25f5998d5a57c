"""Sweeper: on its schedule, move every stuck, missed or abandoned job to an end."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.observability import metrics
from sluice.pipeline.sweeper import sweep
from sluice.store.clients import get_clients

logger = Logger()
tracer = Tracer()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"report": sweep(get_clients())}
