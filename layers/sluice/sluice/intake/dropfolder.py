"""Jobs that start from an object rather than an HTTP call: the drop folder and scheduled imports.

Both record each object they take in a ledger item (a conditional put keyed by the object's key and
ETag), so the same object, or the same event delivered twice, makes one job. The object is then copied
to the job's upload key, whose event starts the ordinary ingest; drop-folder objects are moved (the
inbox copy and its options sidecar are deleted), so nothing imports twice and the inbox shows only
what is still waiting."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from pydantic import ValidationError

from sluice.intake.submit import new_job
from sluice.models.clock import now_ms
from sluice.models.errors import BadRequest, validation_message
from sluice.models.ids import is_name, is_tenant
from sluice.models.job import JobOptions, Status
from sluice.models.principal import Principal
from sluice.models.warnings import OPTIONS_FILE_LATE, JobWarning
from sluice.notify.announcer import announced_jobs
from sluice.store.blobs import Storage, parse_inbox_key, rejected_drop_key, upload_key
from sluice.store.clients import Clients
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.jobs import JobStore
from sluice.store.keys import KeyStore
from sluice.store.objects import ObjectLedger

logger = Logger(child=True)
OPTIONS_SUFFIX = ".options.json"
# every job option but those the drop itself sets (the item type from the folder, the file's name)
SIDECAR_OPTIONS = tuple(name for name in JobOptions.model_fields
                        if name not in ("itemType", "fileName", "retryOf", "creationPath"))
LATE_OPTIONS_MS = 10 * 60_000  # an options file this soon after its data file was taken is reported late


def start_from_object(clients: Clients, tenant: str, options: JobOptions, creation_path: str, bucket: str, key: str,
                      etag: str, ledger_kind: str, rejection: str | None = None) -> tuple[str, bool]:
    """One job for one object version, whatever the number of deliveries: (job id, newly started)."""
    principal = Principal(tenant, creation_path, frozenset())
    job = new_job(clients, principal, options, Status.ACCEPTED, creation_path=creation_path, check_item_type=False)
    job.jobId, fresh = ObjectLedger(clients).claim(tenant, ledger_kind, bucket, key, etag, job.jobId)
    store = announced_jobs(clients)
    existing = store.get(tenant, job.jobId)
    if existing is None:  # first delivery, or a retry after a crash between the ledger and the job
        job.fileSpecs[0].objectKey = upload_key(tenant, job.jobId)
        store.create(job)
        existing = job
    if rejection is not None:
        store.finish(existing, Status.REJECTED, rejection, {Status.ACCEPTED})
        return job.jobId, fresh
    storage = Storage(clients)
    try:
        storage.s3.copy_object(Bucket=storage.bucket, Key=upload_key(tenant, job.jobId),
                               CopySource={"Bucket": bucket, "Key": key})
    except storage.s3.exceptions.NoSuchKey:
        if fresh:
            raise
        # a repeated delivery: the first one already moved the object into the job
    return job.jobId, fresh


def _sidecar_options(storage: Storage, key: str) -> tuple[dict[str, Any], str | None]:
    """Options from `<name>.options.json` beside the file; (options, rejection reason if unusable)."""
    try:
        body = storage.open(key + OPTIONS_SUFFIX).read()
    except storage.s3.exceptions.NoSuchKey:
        return {}, None
    except storage.s3.exceptions.ClientError:
        return {}, None
    try:
        loaded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return {}, f"the options file {key.rsplit('/', 1)[-1]}{OPTIONS_SUFFIX} is not valid JSON: {exc}"
    if not isinstance(loaded, dict):
        return {}, f"the options file {key.rsplit('/', 1)[-1]}{OPTIONS_SUFFIX} must hold a JSON object"
    unknown = sorted(set(loaded) - set(SIDECAR_OPTIONS))
    if unknown:
        return {}, f"the options file names unknown options: {', '.join(unknown)}; known: {', '.join(SIDECAR_OPTIONS)}"
    return loaded, None


def take_drop(clients: Clients, key: str, etag: str) -> str:
    """An object put under inbox/{tenant}/{itemType}/ becomes a job (creationPath S3_DROP)."""
    storage = Storage(clients)
    parts = parse_inbox_key(key)
    if key.endswith("/") or parts is None:
        return "ignored"  # a folder marker, or an object outside the layout
    tenant, item_type, name = parts
    if name.endswith(OPTIONS_SUFFIX):
        return _late_options(clients, tenant, key)
    if not is_tenant(tenant) or not KeyStore(clients).tenant_has_keys(tenant):
        logger.warning("drop for an unknown tenant; moved aside", extra={"objectKey": key})
        storage.s3.copy_object(Bucket=storage.bucket, Key=rejected_drop_key(key),
                               CopySource={"Bucket": storage.bucket, "Key": key})
        storage.s3.delete_object(Bucket=storage.bucket, Key=key)
        return "unknown-tenant"
    sidecar, rejection = _sidecar_options(storage, key)
    file_name = name.rsplit("/", 1)[-1]
    values = {"itemType": item_type if is_name(item_type) else "invalid", "jobName": file_name[:200],
              "fileName": file_name[:255], **sidecar}
    try:
        options = JobOptions.model_validate(values)
    except ValidationError as exc:
        options = JobOptions(itemType=values["itemType"], jobName=file_name[:200], fileName=file_name[:255])
        rejection = rejection or f"the options file is not valid: {validation_message(exc).message}"
    if rejection is None and ItemTypeStore(clients).get(tenant, options.itemType) is None:
        rejection = (f"unknown item type '{item_type}': create it with PUT /v1/item-types/{item_type}, "
                     "then drop the file again")
    job_id, fresh = start_from_object(clients, tenant, options, "S3_DROP", storage.bucket, key, etag, "DROP",
                                      rejection)
    ObjectLedger(clients).note_taken(tenant, key, job_id, with_options=bool(sidecar) or rejection is not None)
    storage.s3.delete_object(Bucket=storage.bucket, Key=key)
    storage.s3.delete_object(Bucket=storage.bucket, Key=key + OPTIONS_SUFFIX)
    logger.info("drop taken", extra={"jobId": job_id, "fresh": fresh, "rejected": rejection is not None})
    return "rejected" if rejection else ("started" if fresh else "duplicate")


def _late_options(clients: Clients, tenant: str, key: str) -> str:
    """An options file waits in the inbox for its data file (options go first). One arriving just after its data
    file was taken without options is not applied to that job (it has started): the job gets an `options-file-late`
    warning and the options file is moved aside (rejected/...), so that it does not apply to a later drop either."""
    data_key = key[: -len(OPTIONS_SUFFIX)]
    storage = Storage(clients)
    if not is_tenant(tenant) or storage.exists(data_key):
        return "sidecar"  # read when its data file is taken
    taken = ObjectLedger(clients).last_taken(tenant, data_key)
    if taken is None or taken["withOptions"] or now_ms() - int(taken["takenMs"]) > LATE_OPTIONS_MS:
        return "sidecar"
    name = key.rsplit("/", 1)[-1]
    late = JobWarning(code=OPTIONS_FILE_LATE, option=name,
                      message=f"the options file {name} arrived after its data file was taken, so this job ran "
                              f"without it; it was moved to rejected/. Put the options file first, then the data file")
    store = JobStore(clients)
    job = store.get(tenant, str(taken["jobId"]))
    if job is not None and all(w.code != OPTIONS_FILE_LATE for w in job.requestWarnings):
        store.update(tenant, job.jobId, {"requestWarnings": [*job.requestWarnings, late]})
    with contextlib.suppress(storage.s3.exceptions.NoSuchKey):
        storage.s3.copy_object(Bucket=storage.bucket, Key=rejected_drop_key(key),
                               CopySource={"Bucket": storage.bucket, "Key": key})
    storage.s3.delete_object(Bucket=storage.bucket, Key=key)
    logger.info("late options file moved aside", extra={"jobId": taken["jobId"], "objectKey": key})
    return "late-options"


def scheduled_import(clients: Clients, event: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge schedule's input {tenant, itemType, source: s3://bucket/prefix/, rule}: import the newest
    object under the prefix, unless it was imported already."""
    tenant, item_type = str(event.get("tenant", "")), str(event.get("itemType", ""))
    source, rule = str(event.get("source", "")), str(event.get("rule", ""))
    if not (is_tenant(tenant) and is_name(item_type) and source.startswith("s3://") and rule):
        raise BadRequest("schedule input needs tenant, itemType, source (s3://bucket/prefix/) and rule")
    bucket, _, prefix = source[len("s3://"):].partition("/")
    storage = Storage(clients)
    newest: dict[str, Any] | None = None
    for page in storage.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(("/", OPTIONS_SUFFIX)):
                continue
            if newest is None or (obj["LastModified"], obj["Key"]) > (newest["LastModified"], newest["Key"]):
                newest = obj  # ties (same second) go to the later name: exports are usually named by date
    if newest is None:
        return {"outcome": "nothing-to-import", "source": source}
    file_name = newest["Key"].rsplit("/", 1)[-1]
    options = JobOptions(itemType=item_type, jobName=file_name[:200], fileName=file_name[:255])
    rejection = None
    if ItemTypeStore(clients).get(tenant, item_type) is None:
        rejection = f"unknown item type '{item_type}' named by schedule '{rule}'"
    job_id, fresh = start_from_object(clients, tenant, options, f"SCHEDULE:{rule}", bucket, newest["Key"],
                                      str(newest.get("ETag", "")), f"SCHED#{rule}", rejection)
    return {"outcome": "started" if fresh else "already-imported", "jobId": job_id, "objectKey": newest["Key"]}
