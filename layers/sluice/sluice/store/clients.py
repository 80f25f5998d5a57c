"""AWS clients, created once per process and shared by every call in it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from sluice.config import Settings, get_settings

if TYPE_CHECKING:  # the stubs are a development dependency only
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_events import EventBridgeClient
    from types_boto3_s3 import S3Client
    from types_boto3_secretsmanager import SecretsManagerClient
    from types_boto3_ses import SESClient
    from types_boto3_sqs import SQSClient
from sluice.models.errors import ServiceUnavailable

# Standard retry mode retries throttling (ProvisionedThroughputExceeded, SlowDown, ...) with backoff.
# Client-side parameter validation is off: the services validate every request anyway, and on the
# record path it cost a quarter of the worker's CPU (validating every attribute of every item).
# The user agent marks Sluice's own traffic (in CloudTrail, and for the fault-injection tests).
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32,
                        parameter_validation=False, user_agent_extra="sluice/0.1")


@dataclass(frozen=True)
class Clients:
    dynamodb: DynamoDBClient
    s3: S3Client
    sqs: SQSClient
    settings: Settings
    events: EventBridgeClient | None = None
    ses: SESClient | None = None
    secrets: SecretsManagerClient | None = None


@lru_cache(maxsize=1)
def shared_session() -> boto3.session.Session:
    """One session per process: its clients share the service models it loaded (tens of ms per client)."""
    return boto3.session.Session()


def make_clients(settings: Settings | None = None) -> Clients:
    settings = settings or get_settings()
    session = shared_session()
    return Clients(
        dynamodb=session.client("dynamodb", config=_CLIENT_CONFIG),
        s3=session.client("s3", config=_CLIENT_CONFIG.merge(Config(signature_version="s3v4"))),
        sqs=session.client("sqs", config=_CLIENT_CONFIG),
        settings=settings,
        events=session.client("events", config=_CLIENT_CONFIG),
        ses=session.client("ses", config=_CLIENT_CONFIG),
        secrets=session.client("secretsmanager", config=_CLIENT_CONFIG),
    )


THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestThrottled", "SlowDown",
    "TransactionInProgressException", "LimitExceededException", "InternalServerError", "ServiceUnavailable",
    "InternalFailure",
})


def aws_unavailable(exc: Exception) -> ServiceUnavailable | None:
    """The error to answer when AWS still throttled, failed or timed out after every retry; None for errors
    that are bugs (a 500 is right for those)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code not in THROTTLING_CODES and status < 500:
            return None
    elif not isinstance(exc, ConnectionError | HTTPClientError):
        return None
    return ServiceUnavailable("the service is busy; try again shortly", retry_after=2)


@lru_cache(maxsize=1)
def get_clients() -> Clients:
    return make_clients()


def reset_clients() -> None:
    """Forget cached clients and settings (tests and the local stack swap endpoints)."""
    get_clients.cache_clear()
    get_settings.cache_clear()
