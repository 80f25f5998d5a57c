"""SQS sending, batched to the service's limits: 10 messages and 1 MiB of payload a call."""

from __future__ import annotations

from typing import Any

SEND_BATCH_MAX = 10
SEND_BATCH_BYTES = 1_048_576 - 8_192  # the payload limit of one SendMessageBatch, less headroom for ids
MESSAGE_MAX_BYTES = 262_144  # the default MaximumMessageSize of a queue


class MessageSender:
    """Buffers messages and sends them with SendMessageBatch, retrying entries that failed."""

    def __init__(self, sqs: Any, queue_url: str, group: str | None = None) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        # On a standard queue, a message group makes SQS a fair queue: a tenant with a large backlog does not
        # hold back the messages of another (AWS "SQS fair queues"); the local emulator ignores it.
        self._group = group
        self._pending: list[tuple[str, str]] = []
        self._pending_bytes = 0
        self.calls = 0

    def add(self, message_id: str, body: str) -> None:
        size = len(body.encode())
        if size > MESSAGE_MAX_BYTES:
            raise ValueError(f"message of {size} bytes is over the {MESSAGE_MAX_BYTES}-byte queue limit")
        if self._pending and self._pending_bytes + size > SEND_BATCH_BYTES:
            self.flush()
        self._pending.append((message_id, body))
        self._pending_bytes += size
        if len(self._pending) == SEND_BATCH_MAX:
            self.flush()

    def flush(self) -> None:
        entries: list[dict[str, Any]] = [{"Id": mid, "MessageBody": body} for mid, body in self._pending]
        if self._group:
            for entry in entries:
                entry["MessageGroupId"] = self._group
        self._pending = []
        self._pending_bytes = 0
        for _ in range(5):
            if not entries:
                return
            self.calls += 1
            response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            failed = {f["Id"] for f in response.get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
        if entries:
            raise RuntimeError(f"SendMessageBatch failed for {len(entries)} messages after retries")
