"""Exports in the jobs table (`TENANT#{tenant}` / `EXPORT#{exportId}`), with their own index of unfinished ones."""

from __future__ import annotations

from typing import Any

from sluice.models.export import Export, ExportRequest
from sluice.store.lifecycle import LifecycleStore

OPEN_EXPORTS = "OPENEXPORTS"


class ExportStore(LifecycleStore[Export]):
    prefix = "EXPORT"
    open_index = OPEN_EXPORTS
    metric_prefix = "Exports"
    model = Export

    def _to_values(self, model: Export) -> dict[str, Any]:
        values = super()._to_values(model)
        values["request"] = model.request.model_dump_json(exclude_none=True)  # any JSON a filter holds, as is
        return values

    def _from_values(self, values: dict[str, Any]) -> dict[str, Any]:
        values["request"] = ExportRequest.model_validate_json(values["request"])
        return values

    def open_exports(self) -> list[Export]:
        return self.open_items()
