"""Worker: chunk messages from the ChunkQueue -> validated rows applied to the record store."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.models.chunk import ChunkMessage
from sluice.observability import failures_logged, metrics
from sluice.pipeline.worker import process_chunk
from sluice.store.clients import get_clients

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    message = ChunkMessage.from_body(record.body)
    logger.set_correlation_id(message.jobId)
    logger.append_keys(jobId=message.jobId, tenant=message.tenant, chunk=message.chunk)
    with failures_logged(logger):
        outcome = process_chunk(get_clients(), message)
    logger.info("chunk done", extra={"outcome": outcome, "rows": len(message.rows)})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
