"""Where the record keys of purges and reverts come from (they read no file), and the keyless-duplicates
warning of imports into item types without a key."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from itertools import islice
from typing import Any

import orjson

from sluice.models.errors import RejectedInput
from sluice.models.job import Job
from sluice.models.schemas import ItemTypeDefinition
from sluice.models.warnings import KEYLESS_DUPLICATES, JobWarning
from sluice.pipeline.undo import REVERTIBLE
from sluice.store.blobs import Storage, staging_key
from sluice.store.clients import Clients
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.objects import ObjectLedger
from sluice.store.records import RecordStore
from sluice.store.undo import UndoImages

KEYED_OPERATIONS = frozenset({"purge", "revert"})
KEY_COLUMN = "key"
PURGE_KEYS = 1_000_000  # the staging object's index holding a purge's key list


def key_groups(clients: Clients, job: Job) -> Iterator[tuple[int | None, list[str]]]:
    """The job's record keys in chunk-sized groups, the same on every run of ingest."""
    if job.operation == "revert":
        yield from _revert_groups(clients, job)
    else:
        yield from _purge_groups(clients, job)


def _revert_groups(clients: Clients, job: Job) -> Iterator[tuple[int | None, list[str]]]:
    assert job.revertOf is not None
    images = UndoImages(clients)
    size = clients.settings.rows_per_chunk
    for chunk in images.chunks(job.tenant, job.revertOf):
        changes = images.get(job.tenant, job.revertOf, chunk)
        keys = [e["key"] for e in (changes or {"entries": []})["entries"] if e["outcome"] in REVERTIBLE]
        for start in range(0, len(keys), size):
            yield chunk, keys[start : start + size]


def _purge_groups(clients: Clients, job: Job) -> Iterator[tuple[int | None, list[str]]]:
    """Every key of the item type, listed once into a staging object on the first run (records vanish as the
    purge goes, so a second run of ingest reads that list rather than the table)."""
    storage = Storage(clients)
    key = staging_key(job.tenant, job.jobId, PURGE_KEYS)
    try:
        storage.size(key)
    except storage.s3.exceptions.ClientError:
        item_type = ItemTypeStore(clients).get(job.tenant, job.itemType or "")
        if item_type is None:
            raise RejectedInput(f"item type '{job.itemType}' no longer exists") from None
        with tempfile.TemporaryFile() as listing:
            for record_key in RecordStore(clients).keys(item_type):
                listing.write(orjson.dumps(record_key) + b"\n")
            listing.seek(0)
            try:
                storage.s3.put_object(Bucket=storage.bucket, Key=key, Body=listing, IfNoneMatch="*")
            except storage.s3.exceptions.ClientError as error:
                if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                    raise
    lines = (orjson.loads(line) for line in storage.open(key).iter_lines() if line)
    size = clients.settings.rows_per_chunk
    while group := list(islice(lines, size)):
        yield None, group


def keyless_warnings(clients: Clients, job: Job, summary: dict[str, Any]) -> list[JobWarning]:
    """keyless-duplicates: the same file imported again into an item type without a key creates every record
    again (unless dedupe=content)."""
    found: list[JobWarning] = []
    if job.mode == "dry-run" or job.dedupe == "content":
        return found
    ledger = ObjectLedger(clients)
    for spec, facts in zip(job.fileSpecs, summary.get("files", []), strict=False):
        if ItemTypeDefinition.model_validate_json(spec.schema_snapshot().definition).key or not facts.digest:
            continue  # an item type with a key: a second import updates the same records
        first, claimed = ledger.claim(job.tenant, f"KEYLESS#{spec.itemType}", "", "", facts.digest, job.jobId)
        if not claimed and first != job.jobId:
            found.append(JobWarning(
                code=KEYLESS_DUPLICATES,
                message=f"item type '{spec.itemType}' has no key and job {first} imported the same file "
                f"({spec.name}) before: every row created a new record again. Revert this job "
                f"(POST /v1/jobs/{job.jobId}/revert), and import with dedupe=content to make a row's values its key",
                itemType=spec.itemType, firstJobId=first, file=spec.name))
    return found
