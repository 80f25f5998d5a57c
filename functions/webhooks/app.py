"""Webhooks: each message of the WebhookQueue is one attempt of one delivery (signed POST, then the next
attempt scheduled with backoff); the schedule sends again whatever attempt's message was lost."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.models.webhook import DeliveryMessage
from sluice.notify.webhooks import deliver, sweep
from sluice.observability import metrics
from sluice.store.clients import get_clients

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    message = DeliveryMessage.model_validate_json(record.body)
    logger.append_keys(tenant=message.tenant, webhookId=message.webhookId, deliveryId=message.deliveryId)
    logger.info("webhook attempt", extra={"attempt": message.attempt, "outcome": deliver(get_clients(), message)})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if "Records" in event:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    return {"report": sweep(get_clients())}
