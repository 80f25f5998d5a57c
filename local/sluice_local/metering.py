"""Counting AWS requests by operation (tests and the bench read it), via botocore's event hooks."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestMeter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.batch_sizes: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def attach(self, *clients: Any) -> RequestMeter:
        for client in clients:
            client.meta.events.register("before-parameter-build.*.*", self._record)
        return self

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        name = model.name
        size = None
        if name == "SendMessageBatch":
            size = len(params.get("Entries", []))
        elif name == "BatchWriteItem":
            size = sum(len(v) for v in params.get("RequestItems", {}).values())
        elif name == "BatchGetItem":
            size = sum(len(v.get("Keys", [])) for v in params.get("RequestItems", {}).values())
        with self._lock:
            self.counts[name] += 1
            if size is not None:
                self.batch_sizes.setdefault(name, []).append(size)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.batch_sizes.clear()
