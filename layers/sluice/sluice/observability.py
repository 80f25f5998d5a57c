"""One Powertools Metrics instance for the package; handlers flush it (`@metrics.log_metrics`).

Metrics (namespace Sluice): RowsCreated/Updated/Unchanged/Failed/Unprocessed, ChunkLatency (ms),
JobsCompleted/Failed/Rejected/Canceled, ExportsCompleted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(child=True)
# The namespace is given here rather than left to Powertools, which reads it once at import: a module
# imported before the environment is set (tests, tools) would otherwise flush without one, and fail.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Sluice")


def _add(name: str, unit: MetricUnit, value: float) -> None:
    try:
        metrics.add_metric(name=name, unit=unit, value=value)
    except Exception:  # a metric lost is better than a chunk failed after its commit
        logger.exception("metric not recorded", extra={"metric": name})


def count(name: str, value: int = 1) -> None:
    if value:
        _add(name, MetricUnit.Count, value)


def milliseconds(name: str, value: float) -> None:
    _add(name, MetricUnit.Milliseconds, value)


@contextmanager
def failures_logged(log: Logger, **keys: object) -> Iterator[None]:
    """Logs an exception at ERROR (with the logger's keys, such as jobId) before it propagates: Powertools'
    batch processor records a failed message only at DEBUG, and its retry would otherwise leave no trace."""
    try:
        yield
    except Exception:
        log.exception("message failed; it will be retried", extra=keys)
        raise
