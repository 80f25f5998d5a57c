"""One Powertools Metrics instance for the package; handlers flush it (`@metrics.log_metrics`).

Metrics (namespace Sluice): RowsCreated/Updated/Unchanged/Failed/Unprocessed, ChunkLatency (ms),
JobsCompleted/Failed/Rejected/Canceled, ExportsCompleted."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()


def count(name: str, value: int = 1) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)
