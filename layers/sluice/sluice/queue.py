"""SQS sending, batched 10 messages a call."""

from __future__ import annotations

from typing import Any

SEND_BATCH_MAX = 10


class MessageSender:
    """Buffers messages and sends them with SendMessageBatch, retrying entries that failed."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._pending: list[tuple[str, str]] = []
        self.calls = 0

    def add(self, message_id: str, body: str) -> None:
        self._pending.append((message_id, body))
        if len(self._pending) == SEND_BATCH_MAX:
            self.flush()

    def flush(self) -> None:
        entries = [{"Id": mid, "MessageBody": body} for mid, body in self._pending]
        self._pending = []
        for _ in range(5):
            if not entries:
                return
            self.calls += 1
            response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            failed = {f["Id"] for f in response.get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
        if entries:
            raise RuntimeError(f"SendMessageBatch failed for {len(entries)} messages after retries")
