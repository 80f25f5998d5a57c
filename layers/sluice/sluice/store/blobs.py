"""S3 layout: every key is built here from validated ids, never from a client's file name."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sluice.store.clients import Clients

UPLOAD_NAME = "data"
_UPLOAD_KEY = re.compile(r"^uploads/(?P<tenant>[a-z0-9][a-z0-9-]{0,62})/(?P<job>[0-9A-Z]{26})/(?P<name>[a-z0-9-]+)$")
RESULT_KINDS = ("succeeded", "failed", "unprocessed")
MIN_PART_BYTES = 5 * 1024**2  # S3: every part of a multipart upload but the last is at least this big
COPY_PART_MAX_BYTES = 5 * 1024**3  # S3: the most one part (copied or uploaded) may hold
JOIN_THREADS = 8  # part copies at once (S3 copies each inside itself; botocore pools 10 connections)
COPY_OBJECT_MAX_BYTES = 5 * 1000**3  # S3: the most one CopyObject copies (a bigger object is copied in parts)
SCHEDULE_MARKER = "schedule"
REDRIVE_MARKER = "redrive"


INBOX_PREFIX = "inbox/"
_INBOX_KEY = re.compile(r"^inbox/(?P<tenant>[^/]+)/(?P<item_type>[^/]+)/(?P<name>.+)$")


def parse_inbox_key(key: str) -> tuple[str, str, str] | None:
    """inbox/{tenant}/{itemType}/{name} -> its three parts (unchecked: the tenant and name may be anything)."""
    match = _INBOX_KEY.fullmatch(key)
    return (match["tenant"], match["item_type"], match["name"]) if match else None


def rejected_drop_key(key: str) -> str:
    """Where a drop that cannot be taken (an unknown tenant's) is moved aside."""
    return "rejected/" + key


def upload_key(tenant: str, job_id: str) -> str:
    return f"uploads/{tenant}/{job_id}/{UPLOAD_NAME}"


def parse_upload_key(key: str) -> tuple[str, str] | None:
    match = _UPLOAD_KEY.fullmatch(key)
    return (match["tenant"], match["job"]) if match else None


def staging_key(tenant: str, job_id: str, index: int) -> str:
    """A staged job's declared file, waiting (no notification fires under staging/)."""
    return f"staging/{tenant}/{job_id}/{index}"


def marker_key(tenant: str, job_id: str, name: str = SCHEDULE_MARKER) -> str:
    """An empty object whose upload event starts (or re-drives) ingest of a job's files."""
    return f"uploads/{tenant}/{job_id}/{name}"


def export_part_key(tenant: str, export_id: str, part: int, extension: str) -> str:
    return f"exports/{tenant}/{export_id}/part-{part:04d}.{extension}"


def slice_state_key(tenant: str, job_id: str, run: int, number: int, part: str = "state") -> str:
    """What slice `number` of an ingest run starts from: its state (`state`) and duplicate-key registry (`keys`).
    No notification fires under ingest/."""
    return f"ingest/{tenant}/{job_id}/{run:04d}/{number:08d}-{part}"


def result_step_key(tenant: str, job_id: str, name: str) -> str:
    """What the chain writing a big job's result files keeps between its steps: each step's state and the
    segments of the result files (pipeline/results.py). No notification fires under ingest/."""
    return f"ingest/{tenant}/{job_id}/results/{name}"


def result_part_key(tenant: str, job_id: str, chunk: int) -> str:
    return f"results/{tenant}/{job_id}/parts/{chunk:08d}.csv"


def result_key(tenant: str, job_id: str, kind: str, file_index: int | None = None) -> str:
    """A job's result file of one kind; jobs of several files have one per file."""
    if file_index is None:
        return f"results/{tenant}/{job_id}/{kind}.csv"
    return f"results/{tenant}/{job_id}/{file_index}/{kind}.csv"


class Storage:
    def __init__(self, clients: Clients) -> None:
        self.s3 = clients.s3
        self.bucket = clients.settings.bucket

    def put(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def open(self, key: str) -> Any:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]

    def size(self, key: str) -> int:
        return self.head(key)[0]

    def head(self, key: str) -> tuple[int, str]:
        """The object's size and ETag."""
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        return int(head["ContentLength"]), str(head["ETag"])

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def presign_get(self, key: str, seconds: int, file_name: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if file_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{file_name}"'
        return str(self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds))

    def presign_put(self, key: str, seconds: int) -> str:
        """A PUT to exactly this key. S3 cannot cap a presigned PUT's size: ingest rejects oversized files."""
        return str(self.s3.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": key},
                                                  ExpiresIn=seconds))

    def presign_post(self, key: str, seconds: int, max_bytes: int) -> dict[str, Any]:
        """A browser-style form POST to exactly this key, which S3 itself refuses above max_bytes."""
        form = self.s3.generate_presigned_post(self.bucket, key, Conditions=[["content-length-range", 1, max_bytes]],
                                               ExpiresIn=seconds)
        return {"url": form["url"], "fields": form["fields"], "maxBytes": max_bytes}

    def create_multipart(self, key: str, content_type: str | None = None) -> str:
        """Opens a multipart upload to this key; its id."""
        extra = {"ContentType": content_type} if content_type else {}
        return str(self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)["UploadId"])

    def presign_part(self, key: str, upload_id: str, part_number: int, seconds: int) -> str:
        """A PUT of one part of a multipart upload to exactly this key."""
        return str(self.s3.generate_presigned_url(
            "upload_part", ExpiresIn=seconds,
            Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number}))

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Joins the uploaded parts into the object (S3 checks each part's ETag and size)."""
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]})

    def join(self, key: str, sources: list[tuple[str, int]], content_type: str) -> None:
        """Writes the object at `key` as the concatenation of the (key, size) objects, copied inside S3 (nothing
        passes through this process). Every source but the last must hold at least MIN_PART_BYTES; one over
        COPY_PART_MAX_BYTES is copied as equal ranges (each then over half that, so big enough). Empty sources
        add nothing. A source of one part is copied whole: S3 copies a byte range only out of an object over 5 MB
        (InvalidRequest "not supported as a byte-range copy source" otherwise; moto does not check it)."""
        pieces: list[tuple[str, dict[str, str]]] = []  # (source, its range when it is copied in ranges)
        for source, size in sources:
            count = -(-size // COPY_PART_MAX_BYTES)
            for piece in range(count):
                first, end = size * piece // count, size * (piece + 1) // count
                pieces.append((source, {"CopySourceRange": f"bytes={first}-{end - 1}"} if count > 1 else {}))
        if not pieces:
            self.put(key, b"", content_type)
            return
        upload_id = self.create_multipart(key, content_type)

        def copy(number: int, source: str, ranged: dict[str, str]) -> tuple[int, str]:
            copied = self.s3.upload_part_copy(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                              CopySource={"Bucket": self.bucket, "Key": source}, **ranged)
            return number, str(copied["CopyPartResult"]["ETag"])

        try:
            with ThreadPoolExecutor(max_workers=JOIN_THREADS) as pool:
                parts = list(pool.map(lambda item: copy(item[0] + 1, *item[1]), enumerate(pieces)))
            self.complete_multipart(key, upload_id, parts)
        except BaseException:
            self.abort_multipart(key, upload_id)
            raise

    def copy(self, source: str, key: str) -> None:
        """Copies an object of any size inside S3: one CopyObject, or in parts above what that takes."""
        head = self.s3.head_object(Bucket=self.bucket, Key=source)
        size = int(head["ContentLength"])
        if size <= COPY_OBJECT_MAX_BYTES:
            self.s3.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source})
        else:
            self.join(key, [(source, size)], str(head["ContentType"]))

    def delete_under(self, prefix: str) -> None:
        """Deletes every object under the prefix (best effort callers: the lifecycle rules expire them anyway)."""
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def abort_multipart(self, key: str, upload_id: str) -> bool:
        """Discards a multipart upload and its parts; False if there was none (completed or aborted already)."""
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchUpload", "404"):
                return False
            raise
        return True


class StreamedObject(io.RawIOBase):
    """Writes an object of any size as it is produced, in memory-bounded parts: one PutObject when it stays under
    one part, else a multipart upload of `part_bytes` parts (S3: at least 5 MiB but the last, at most 10,000).
    `close()` finishes it; `abort()` (or an exception inside `with`) discards it."""

    def __init__(self, storage: Storage, key: str, content_type: str, part_bytes: int = 16 * 1024**2) -> None:
        self._storage, self._key, self._content_type, self._part_bytes = storage, key, content_type, part_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[tuple[int, str]] = []
        self.size = 0  # bytes written so far

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("the object is finished or discarded")
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self._part_bytes:
            self._send_part(bytes(self._buffer[:self._part_bytes]))
            del self._buffer[:self._part_bytes]
        return len(data)

    def _send_part(self, data: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self._storage.create_multipart(self._key, self._content_type)
        number = len(self._parts) + 1
        etag = self._storage.s3.upload_part(Bucket=self._storage.bucket, Key=self._key, UploadId=self._upload_id,
                                            PartNumber=number, Body=data)["ETag"]
        self._parts.append((number, str(etag)))

    def close(self) -> None:
        if self.closed:
            return
        if self._upload_id is None:
            self._storage.put(self._key, bytes(self._buffer), self._content_type)
        else:
            if self._buffer:
                self._send_part(bytes(self._buffer))
            self._storage.complete_multipart(self._key, self._upload_id, self._parts)
        self._buffer = bytearray()
        super().close()

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.close()
        else:  # never a partial object
            self.abort()

    def abort(self) -> None:
        """Discards what was written (nothing once closed: the object is whole then)."""
        if self.closed:
            return
        if self._upload_id is not None:
            self._storage.abort_multipart(self._key, self._upload_id)
        self._buffer = bytearray()
        super().close()
