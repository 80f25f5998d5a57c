"""Ingest: S3 upload events (via the IngestQueue) -> a stream-parsed file -> chunks on the ChunkQueue; a file
read in slices hands each next slice on through the same queue (a continuation message), and so does a big job's
chain writing its result files."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sluice.intake.dropfolder import take_drop
from sluice.models.continuations import Continuation
from sluice.models.results import ResultStepMessage
from sluice.models.slices import SliceMessage
from sluice.observability import failures_logged, metrics
from sluice.pipeline.finalize import write_result_step
from sluice.pipeline.ingest import ingest_slice, ingest_upload
from sluice.store.blobs import INBOX_PREFIX, parse_upload_key
from sluice.store.clients import Clients, get_clients

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def s3_objects(body: str) -> list[tuple[str, str]]:
    """(key, etag) of each object in an S3 event notification; the s3:TestEvent has none."""
    message = json.loads(body)
    return [
        (unquote_plus(r["s3"]["object"]["key"]), str(r["s3"]["object"].get("eTag", "")))
        for r in message.get("Records", [])
        if r.get("eventName", "").startswith("ObjectCreated")
    ]


CONTINUATIONS: tuple[tuple[type[Continuation], Callable[[Clients, Any], str]], ...] = (
    (SliceMessage, ingest_slice),  # the next slice of a job's files
    (ResultStepMessage, write_result_step),  # the next step of writing a big job's result files
)


def record_handler(record: SQSRecord) -> None:
    for kind, handle in CONTINUATIONS:
        continuation = kind.from_body(record.body)
        if continuation is not None:
            logger.set_correlation_id(continuation.jobId)
            logger.append_keys(tenant=continuation.tenant, jobId=continuation.jobId, **continuation.where())
            with failures_logged(logger):
                outcome = handle(get_clients(), continuation)
            logger.info("continued", extra={"continuation": kind.KEY, "outcome": outcome})
            return
    for key, etag in s3_objects(record.body):
        ids = parse_upload_key(key)
        if ids is not None:  # uploads/{tenant}/{jobId}/...: every line of this job carries its id
            logger.set_correlation_id(ids[1])
            logger.append_keys(tenant=ids[0], jobId=ids[1])
        logger.append_keys(objectKey=key)
        clients = get_clients()
        with failures_logged(logger):
            outcome = take_drop(clients, key, etag) if key.startswith(INBOX_PREFIX) else ingest_upload(clients, key)
        logger.info("ingested", extra={"outcome": outcome})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
