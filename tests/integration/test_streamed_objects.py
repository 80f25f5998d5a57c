"""Result files are streamed to S3 in parts as they are written (store/blobs.StreamedObject): no local disk, memory
bounded by one part, whatever the job's size (issue 22: finalisation had copied them to the worker's 512 MB /tmp)."""

from __future__ import annotations

import random

import pytest

from sluice.store.blobs import Storage, StreamedObject
from tests.harness import Harness

PART = 5 * 1024**2  # S3's smallest part but the last


def _uploads(storage: Storage) -> list[object]:
    return list(storage.s3.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", []))


def test_an_object_larger_than_a_part_goes_up_in_parts_byte_exact(harness: Harness) -> None:
    storage = Storage(harness.clients)
    chooser = random.Random(22)
    data = chooser.randbytes(2 * PART + 12_345)
    streamed = StreamedObject(storage, "results/acme/j/big.csv", "text/csv", part_bytes=PART)
    at = 0
    while at < len(data):  # writes of every size, some across part boundaries
        step = chooser.choice([1, 100, 65_536, PART - 1, PART + 1])
        streamed.write(data[at:at + step])
        at += step
    assert len(_uploads(storage)) == 1  # two parts sent, the rest buffered
    streamed.close()
    head = storage.s3.head_object(Bucket=storage.bucket, Key="results/acme/j/big.csv")
    assert head["ETag"].endswith('-3"') and head["ContentType"] == "text/csv"
    assert storage.open("results/acme/j/big.csv").read() == data
    assert _uploads(storage) == []
    streamed.abort()  # after close: nothing to discard
    assert storage.exists("results/acme/j/big.csv")


def test_a_small_object_is_one_put(harness: Harness) -> None:
    storage = Storage(harness.clients)
    with StreamedObject(storage, "results/acme/j/small.csv", "text/csv", part_bytes=PART) as streamed:
        streamed.write(b"a,b\r\n")
    assert storage.open("results/acme/j/small.csv").read() == b"a,b\r\n"
    assert '-' not in storage.s3.head_object(Bucket=storage.bucket, Key="results/acme/j/small.csv")["ETag"]


def test_an_aborted_object_leaves_nothing(harness: Harness) -> None:
    storage = Storage(harness.clients)
    streamed = StreamedObject(storage, "results/acme/j/gone.csv", "text/csv", part_bytes=PART)
    streamed.write(b"x" * (PART + 10))
    assert len(_uploads(storage)) == 1
    streamed.abort()
    assert _uploads(storage) == [] and not storage.exists("results/acme/j/gone.csv")
    with pytest.raises(ValueError, match="finished or discarded"):
        streamed.write(b"more")
    with pytest.raises(RuntimeError), StreamedObject(storage, "results/acme/j/half.csv", "text/csv") as half:
        half.write(b"half of it")
        raise RuntimeError("the writer failed")
    assert not storage.exists("results/acme/j/half.csv")
