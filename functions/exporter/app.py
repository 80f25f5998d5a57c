"""Exporter: export requests from the ExportQueue -> CSV or JSON Lines parts in S3."""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.exports.run import run_export
from sluice.observability import failures_logged, metrics
from sluice.store.clients import get_clients

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    message = orjson.loads(record.body)
    logger.set_correlation_id(message["exportId"])
    logger.append_keys(tenant=message["tenant"], exportId=message["exportId"])
    with failures_logged(logger):
        outcome = run_export(get_clients(), message["tenant"], message["exportId"])
    logger.info("export", extra={"outcome": outcome})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
