"""Before-images: what each chunk of a job changed, one S3 object per chunk, written once.

`results/{tenant}/{jobId}/before/{chunk:08d}.json` (under `results/`, so it expires with the job's result
files) holds the chunk's item type and, for every record the chunk created, updated or deleted, the row, the
key, the outcome, the version the chunk wrote and the record as it was before (its stored attributes and
bookkeeping, byte for byte). Imports write it just before their record writes; delete and revert jobs write
their plan there the same way. The object is put with `If-None-Match: *`: a redelivered chunk, which reads
the records after its first attempt's writes, can never replace the first attempt's before-images with its own
writes — its put fails (412) and the first one stands."""

from __future__ import annotations

from typing import Any, TypedDict

import orjson

from sluice.store.clients import Clients


class StoredItem(TypedDict):
    """A record as stored, without its table keys: `a` its attributes (a DynamoDB map), `m` its bookkeeping."""

    a: dict[str, Any]
    m: dict[str, str]


class UndoEntry(TypedDict, total=False):
    row: int  # the row of the job that made (or, for a plan, will make) the change
    key: str
    outcome: str  # created | updated | deleted | unchanged | failed
    version: int  # the version the change wrote (0: the record is gone)
    before: StoredItem | None  # the record before the change (None: there was none)
    after: StoredItem | None  # plans: the record the change writes (None: it deletes it)
    message: str  # plans: why the row failed or changed nothing


class ChunkChanges(TypedDict):
    itemType: str
    shards: int
    entries: list[UndoEntry]


def before_image_key(tenant: str, job_id: str, chunk: int) -> str:
    return f"results/{tenant}/{job_id}/before/{chunk:08d}.json"


def _chunk_of(key: str) -> int:
    return int(key.rsplit("/", 1)[1].split(".", 1)[0])


class UndoImages:
    def __init__(self, clients: Clients) -> None:
        self.s3 = clients.s3
        self.bucket = clients.settings.bucket
        self.puts = 0

    def put_once(self, tenant: str, job_id: str, chunk: int, changes: ChunkChanges) -> ChunkChanges:
        """Stores a chunk's changes unless an earlier attempt did; returns the ones that stand."""
        key = before_image_key(tenant, job_id, chunk)
        self.puts += 1
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=orjson.dumps(changes), IfNoneMatch="*",
                               ContentType="application/json")
            return changes
        except self.s3.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise  # 409 ConditionalRequestConflict (a concurrent put) is retried by redelivery
        found = self.get(tenant, job_id, chunk)
        if found is None:  # cannot be: the precondition failed because the object exists
            raise RuntimeError(f"before-image {key} exists and cannot be read")
        return found

    def get(self, tenant: str, job_id: str, chunk: int) -> ChunkChanges | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=before_image_key(tenant, job_id, chunk))["Body"]
        except self.s3.exceptions.NoSuchKey:
            return None
        changes: ChunkChanges = orjson.loads(body.read())
        return changes

    def chunks(self, tenant: str, job_id: str) -> list[int]:
        """The chunks of a job that kept before-images, in order."""
        prefix = before_image_key(tenant, job_id, 0).rsplit("/", 1)[0] + "/"
        found: list[int] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(_chunk_of(o["Key"]) for o in page.get("Contents", []))
        return sorted(found)
