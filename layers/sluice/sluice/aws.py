"""AWS clients, created once per process and shared by every call in it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from sluice.config import Settings, get_settings

# Standard retry mode retries throttling (ProvisionedThroughputExceeded, SlowDown, ...) with backoff.
# Client-side parameter validation is off: the services validate every request anyway, and on the
# record path it cost a quarter of the worker's CPU (validating every attribute of every item).
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32,
                        parameter_validation=False)


@dataclass(frozen=True)
class Clients:
    dynamodb: Any
    s3: Any
    sqs: Any
    settings: Settings
    events: Any = None
    ses: Any = None
    secrets: Any = None


def make_clients(settings: Settings | None = None) -> Clients:
    settings = settings or get_settings()
    session = boto3.session.Session()
    return Clients(
        dynamodb=session.client("dynamodb", config=_CLIENT_CONFIG),
        s3=session.client("s3", config=_CLIENT_CONFIG),
        sqs=session.client("sqs", config=_CLIENT_CONFIG),
        settings=settings,
        events=session.client("events", config=_CLIENT_CONFIG),
        ses=session.client("ses", config=_CLIENT_CONFIG),
        secrets=session.client("secretsmanager", config=_CLIENT_CONFIG),
    )


@lru_cache(maxsize=1)
def get_clients() -> Clients:
    return make_clients()


def reset_clients() -> None:
    """Forget cached clients and settings (tests and the local stack swap endpoints)."""
    get_clients.cache_clear()
    get_settings.cache_clear()
