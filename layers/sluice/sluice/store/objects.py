"""The ledger of S3 objects taken as jobs (drop folder, schedules): one conditional put per object version,
so the same object, or its event delivered twice, makes one job."""

from __future__ import annotations

import hashlib
from typing import Any

from sluice.models.clock import now_ms
from sluice.store.clients import Clients
from sluice.store.dynamo import from_item, to_item
from sluice.store.lifecycle import tenant_pk


class ObjectLedger:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table
        self._retention_days = clients.settings.retention_days

    def claim(self, tenant: str, kind: str, bucket: str, key: str, etag: str, job_id: str) -> tuple[str, bool]:
        """(the job id of this object version, True when this call claimed it for job_id)."""
        sk = f"{kind}#" + hashlib.sha256(f"{bucket}/{key}#{etag}".encode()).hexdigest()
        ledger_key = {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": sk}}
        try:
            self._db.put_item(TableName=self._table, Item={**ledger_key, **to_item({
                "jobId": job_id, "objectKey": key, "bucket": bucket, "etag": etag, "createdMs": now_ms(),
                "expiresAt": now_ms() // 1000 + self._retention_days * 86_400 * 2})},
                ConditionExpression="attribute_not_exists(pk)")
            return job_id, True
        except self._db.exceptions.ConditionalCheckFailedException:
            item = self._db.get_item(TableName=self._table, Key=ledger_key, ConsistentRead=True)["Item"]
            return str(from_item(item)["jobId"]), False

    def _name_key(self, tenant: str, key: str) -> dict[str, Any]:
        return {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": "DROPNAME#" + hashlib.sha256(key.encode()).hexdigest()}}

    def note_taken(self, tenant: str, key: str, job_id: str, with_options: bool) -> None:
        """The last job a drop-folder object of this name became, and whether an options file came with it."""
        self._db.put_item(TableName=self._table, Item={**self._name_key(tenant, key), **to_item({
            "jobId": job_id, "objectKey": key, "withOptions": with_options, "takenMs": now_ms(),
            "expiresAt": now_ms() // 1000 + self._retention_days * 86_400 * 2})})

    def last_taken(self, tenant: str, key: str) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, Key=self._name_key(tenant, key), ConsistentRead=True)
        return from_item(item["Item"]) if "Item" in item else None
