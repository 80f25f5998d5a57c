"""UnprocessedItems and UnprocessedKeys are retried until everything is written or read."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.store import dynamo
from sluice.store.queue import MessageSender


class FlakyDynamo:
    """Leaves the last item of each of the first `flaky` calls unprocessed, as a throttled table does."""

    def __init__(self, flaky: int) -> None:
        self.flaky = flaky
        self.calls: list[int] = []
        self.written: list[str] = []

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (table, requests), = RequestItems.items()
        self.calls.append(len(requests))
        if self.flaky > 0:
            self.flaky -= 1
            self.written += [r["PutRequest"]["Item"]["k"]["S"] for r in requests[:-1]]
            return {"UnprocessedItems": {table: requests[-1:]}}
        self.written += [r["PutRequest"]["Item"]["k"]["S"] for r in requests]
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (table, spec), = RequestItems.items()
        self.calls.append(len(spec["Keys"]))
        keys = spec["Keys"]
        if self.flaky > 0:
            self.flaky -= 1
            return {"Responses": {table: keys[:-1]}, "UnprocessedKeys": {table: {**spec, "Keys": keys[-1:]}}}
        return {"Responses": {table: keys}, "UnprocessedKeys": {}}


def test_batch_write_retries_unprocessed_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamo, "_backoff", lambda attempt: None)
    client = FlakyDynamo(flaky=3)
    items = [{"k": {"S": str(i)}} for i in range(60)]
    calls = dynamo.batch_write(client, "t", items)
    assert sorted(client.written, key=int) == [str(i) for i in range(60)]
    assert client.calls == [25, 1, 1, 1, 25, 10] and calls == 6


def test_batch_get_retries_unprocessed_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamo, "_backoff", lambda attempt: None)
    client = FlakyDynamo(flaky=2)
    keys = [{"k": {"S": str(i)}} for i in range(150)]
    found = dynamo.batch_get(client, "t", keys)
    assert sorted(int(k["k"]["S"]) for k in found) == list(range(150))
    assert client.calls == [100, 1, 1, 50]


def test_batch_write_gives_up_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamo, "_backoff", lambda attempt: None)
    with pytest.raises(RuntimeError, match="unprocessed after retries"):
        dynamo.batch_write(FlakyDynamo(flaky=100), "t", [{"k": {"S": "1"}}, {"k": {"S": "2"}}])


class FlakySqs:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.fail_once = True

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.batches.append([e["Id"] for e in Entries])
        if self.fail_once:
            self.fail_once = False
            return {"Failed": [{"Id": Entries[0]["Id"], "SenderFault": False, "Code": "InternalError"}]}
        return {"Failed": []}


def test_sender_batches_by_count_and_bytes_and_retries_failed_entries() -> None:
    sqs = FlakySqs()
    sender = MessageSender(sqs, "q")
    for i in range(12):
        sender.add(str(i), "x" * 200_000)  # five fit in one call's 1 MiB
    sender.flush()
    assert sqs.batches == [["0", "1", "2", "3", "4"], ["0"], ["5", "6", "7", "8", "9"], ["10", "11"]]
    with pytest.raises(ValueError, match="over the 262144-byte queue limit"):
        sender.add("big", "x" * 262_145)
