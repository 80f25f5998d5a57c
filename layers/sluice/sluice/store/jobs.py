"""Import jobs in the jobs table: the job item (`TENANT#{tenant}` / `JOB#{jobId}`), its ledger under
`JOB#{jobId}` (one item per chunk with its counts and created keys, and pages of row errors), and the
cursors that page through them. No other module knows these keys.

The job item holds the job's counters; a chunk is counted by one transaction that puts the chunk's `DONE#`
marker in the ledger (only if it is not there yet) and adds its counts to the job item, so a redelivered or
concurrently delivered chunk can never be counted twice, and a job may have any number of chunks (the
markers are items of their own, not a set on the job item)."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from typing import Any

import orjson

from sluice.models.clock import now_ms
from sluice.models.errors import BadRequest
from sluice.models.job import OBJECTS_CREATED_MAX, Job, RowCounts, Status
from sluice.models.schemas import RowError
from sluice.store import dynamo
from sluice.store.dynamo import BAD_CURSOR, conditional_write, decode_cursor, encode_cursor
from sluice.store.lifecycle import LifecycleStore

# stored counter attribute -> RowCounts field; per-file counters are f{index}{Name}
_COUNTERS = {"cCreated": "created", "cUpdated": "updated", "cUnchanged": "unchanged", "cDeleted": "deleted",
             "cFailed": "failed",
             "cUnprocessed": "unprocessed", "cDead": "dead", "cFailedExisting": "failedExisting"}
_FILE_COUNTER = re.compile(r"^f(\d+)(Processed|Created|Updated|Unchanged|Deleted|Failed|Unprocessed)$")
_FILE_COUNTERS = (("Processed", "p"), ("Created", "c"), ("Updated", "u"), ("Unchanged", "n"), ("Deleted", "e"),
                  ("Failed", "f"),
                  ("Unprocessed", "x"))
OPEN_JOBS = "OPENJOBS"
_COMMIT_ATTEMPTS = 10


def done_sk(chunk: int) -> str:
    return f"DONE#{chunk:010d}"


def ledger_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


class JobStore(LifecycleStore[Job]):
    prefix = "JOB"
    open_index = OPEN_JOBS
    metric_prefix = "Jobs"
    model = Job
    json_fields = frozenset({"fileSpecs", "files", "stagedFiles", "upload", "sourceHeader", "ignoredColumns",
                             "warnings", "requestWarnings", "itemTypes",
                             "sheetNames"})

    def _to_values(self, model: Job) -> dict[str, Any]:
        values = super()._to_values(model)
        for name in ("counts", "fileCounts"):  # added by chunk commits, never written whole
            values.pop(name, None)
        return values

    def _from_values(self, values: dict[str, Any]) -> dict[str, Any]:
        values.pop("doneChunks", None)  # jobs stored before the ledger markers held their chunks in a set
        counts: dict[str, int] = {}
        file_counts: dict[int, dict[str, int]] = {}
        for name in list(values):
            if name in _COUNTERS:
                counts[_COUNTERS[name]] = int(values.pop(name))
            elif name == "cProcessed":
                values.pop(name)  # derived: created + updated + unchanged + deleted + failed
            elif match := _FILE_COUNTER.match(name):
                value = int(values.pop(name))
                if match[2] != "Processed":
                    file_counts.setdefault(int(match[1]), {})[match[2].lower()] = value
        values["counts"] = counts
        values["fileCounts"] = file_counts
        return values

    def commit_chunk(self, tenant: str, job_id: str, chunk: int, counts: RowCounts, file: int = 0,
                     expires_at: int | None = None) -> Job | None:
        """Adds a chunk's counts (to the job and to its file) exactly once: one transaction puts the chunk's
        ledger marker (unless it exists) and adds the counts to the job item.

        None: this chunk was already counted (or the job is gone)."""
        per_file = ", ".join(f"f{file}{name} :{value}" for name, value in _FILE_COUNTERS)
        token = uuid.uuid4().hex  # tells this commit's own retry (after a lost reply) from another delivery's
        expiry = expires_at if expires_at is not None else (now_ms() + self._retention_ms) // 1000
        items = [
            {"Put": {
                "TableName": self._table,
                "Item": {"pk": {"S": ledger_pk(job_id)}, "sk": {"S": done_sk(chunk)}, "token": {"S": token},
                         "expiresAt": {"N": str(expiry)}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }},
            {"Update": {
                "TableName": self._table,
                "Key": self._key(tenant, job_id),
                "UpdateExpression": (
                    "ADD cProcessed :p, cCreated :c, cUpdated :u, cUnchanged :n, cDeleted :e, "
                    f"cFailed :f, cUnprocessed :x, cDead :d, cFailedExisting :fe, {per_file} "
                    "SET lastProgressMs = :now"
                ),
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {
                    ":p": {"N": str(counts.processed)},
                    ":c": {"N": str(counts.created)},
                    ":u": {"N": str(counts.updated)},
                    ":n": {"N": str(counts.unchanged)},
                    ":e": {"N": str(counts.deleted)},
                    ":f": {"N": str(counts.failed)},
                    ":x": {"N": str(counts.unprocessed)},
                    ":d": {"N": str(counts.dead)},
                    ":fe": {"N": str(counts.failedExisting)},
                    ":now": {"N": str(now_ms())},
                },
            }},
        ]
        for attempt in range(_COMMIT_ATTEMPTS):
            try:
                self._db.transact_write_items(TransactItems=items)
                break
            except self._db.exceptions.TransactionCanceledException as cancel:
                codes = [r.get("Code") for r in cancel.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in codes:
                    # counted already: by another delivery, or by this very call whose reply was lost
                    if self._done_token(job_id, chunk) != token:
                        return None
                    break
                # another transaction or write held the job item (TransactionConflict): try again
                time.sleep(min(0.02 * 2**attempt, 1.0))
        else:
            raise RuntimeError(f"chunk {chunk} of job {job_id} could not be committed: transaction conflicts")
        return self.get(tenant, job_id)

    def _done_token(self, job_id: str, chunk: int) -> str | None:
        key = {"pk": {"S": ledger_pk(job_id)}, "sk": {"S": done_sk(chunk)}}
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return item["token"]["S"] if item else None

    def get_for_chunk(self, tenant: str, job_id: str, chunk: int) -> tuple[Job | None, bool]:
        """The job and whether this chunk of it is counted already, in one consistent read."""
        job_key = self._key(tenant, job_id)
        marker_key = {"pk": {"S": ledger_pk(job_id)}, "sk": {"S": done_sk(chunk)}}
        found = dynamo.batch_get(self._db, self._table, [job_key, marker_key])
        job = next((self.load(item) for item in found if item["sk"] == job_key["sk"]), None)
        return job, any(item["sk"] == marker_key["sk"] for item in found)

    def chunk_done(self, job_id: str, chunk: int) -> bool:
        """Has this chunk been counted?"""
        return self._done_token(job_id, chunk) is not None

    def done_chunks(self, job_id: str, first: int = 0) -> set[int]:
        """The chunks counted so far, from `first` on (paged: any number of them)."""
        items = dynamo.query_pages(
            self._db, TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues={":pk": {"S": ledger_pk(job_id)}, ":from": {"S": done_sk(first)},
                                       ":to": {"S": "DONE#~"}},
            ProjectionExpression="sk",
        )
        return {int(item["sk"]["S"][5:]) for item in items}

    def advance_slice(self, tenant: str, job_id: str, run: int, number: int, chunks_sent: int | None) -> bool:
        """Moves the job on from slice `number` of ingest run `run` to the next (and records the chunks sent),
        unless another delivery did already or a re-drive started another run. True when this call moved it."""
        values: dict[str, Any] = {":run": {"N": str(run)}, ":slice": {"N": str(number)},
                                  ":next": {"N": str(number + 1)}, ":now": {"N": str(now_ms())}}
        expression = "SET ingestSlice = :next, lastProgressMs = :now"
        if chunks_sent is not None:
            expression += ", chunksSent = :sent"
            values[":sent"] = {"N": str(chunks_sent)}
        written = conditional_write(
            self._db, "UpdateItem",
            lambda current: current.get("ingestRun") == {"N": str(run)} and current.get("ingestSlice") == {
                "N": str(number + 1)},
            TableName=self._table, Key=self._key(tenant, job_id), UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk) AND ingestRun = :run AND ingestSlice = :slice",
            ExpressionAttributeValues=values, ReturnValues="NONE")
        return written is not None

    def claim_result_steps(self, tenant: str, job_id: str) -> Job | None:
        """Marks a settled job's result files as being written in steps, starting with step 0, unless a chain
        was started already. The job after the claim when this call made it, else None. The chain gets re-drives
        of its own (the sweeper's re-drives of the job's reading counted in `redrives` before)."""
        return self._move_result_step(
            tenant, job_id, 0, 0, "attribute_not_exists(resultStep) AND #status IN (:p, :c)",
            {":p": {"S": Status.PROCESSING.value}, ":c": {"S": Status.CANCELING.value}, ":zero": {"N": "0"}},
            "redrives = :zero")

    def advance_result_step(self, tenant: str, job_id: str, step: int, chunk: int) -> bool:
        """Moves the job's result-file chain on from step `step` to the next (which starts at `chunk`), unless
        another delivery of the step did already. True when this call moved it: only then is the next step sent."""
        return self._move_result_step(tenant, job_id, step + 1, chunk, "resultStep = :step",
                                      {":step": {"N": str(step)}}) is not None

    def _move_result_step(self, tenant: str, job_id: str, step: int, chunk: int, condition: str,
                          values: dict[str, Any], also: str | None = None) -> Job | None:
        """Sets the step the chain expects next (and the chunks read so far) if `condition` holds; the job after it,
        or None. A token tells this call's own retried write from another copy's move, which names the same step."""
        token = uuid.uuid4().hex
        names = {"#status": "status"} if "#status" in condition else {}
        written = conditional_write(
            self._db, "UpdateItem", lambda current: current.get("resultClaim") == {"S": token},
            TableName=self._table, Key=self._key(tenant, job_id),
            UpdateExpression="SET resultStep = :next, resultChunk = :chunk, resultClaim = :token, "
                             "lastProgressMs = :now" + (f", {also}" if also else ""),
            ConditionExpression=f"attribute_exists(pk) AND {condition}",
            **({"ExpressionAttributeNames": names} if names else {}),
            ExpressionAttributeValues={":next": {"N": str(step)}, ":chunk": {"N": str(chunk)},
                                       ":token": {"S": token}, ":now": {"N": str(now_ms())}, **values},
            ReturnValues="ALL_NEW")
        return self.load(written) if written else None

    def add_retry(self, tenant: str, job_id: str, retry_id: str) -> None:
        """Links a retry to the job whose rows it retries (once, however often it is called)."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):  # linked already, or gone
            self._db.update_item(
                TableName=self._table, Key=self._key(tenant, job_id),
                UpdateExpression="SET retries = list_append(if_not_exists(retries, :none), :retry)",
                ConditionExpression="attribute_exists(pk) AND NOT contains(retries, :id)",
                ExpressionAttributeValues={":none": {"L": []}, ":retry": {"L": [{"S": retry_id}]},
                                           ":id": {"S": retry_id}})

    def mark_reverted(self, tenant: str, job_id: str, revert_id: str) -> str | None:
        """Records the job that reverts this one, once. Returns the reverting job (this one, or the one that got
        there first), None when the job is gone."""
        written = conditional_write(
            self._db, "UpdateItem", lambda current: current.get("revertedBy") == {"S": revert_id},
            TableName=self._table, Key=self._key(tenant, job_id), UpdateExpression="SET revertedBy = :id",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(revertedBy)",
            ExpressionAttributeValues={":id": {"S": revert_id}}, ReturnValues="ALL_NEW")
        if written is not None:
            return revert_id
        found = self.get(tenant, job_id)
        return found.revertedBy if found else None

    def open_jobs(self) -> list[Job]:
        """Every unfinished job of every tenant (the sweeper's worklist), oldest first."""
        return self.open_items()

    # --- the per-job ledger: one item per chunk (counts, created keys) and pages of row errors ------------

    def ledger_items(self, job_id: str, chunk: int, counts: RowCounts, created: list[str],
                     errors: list[RowError], expires_at: int) -> list[dict[str, Any]]:
        pk = {"S": ledger_pk(job_id)}
        items = [{
            "pk": pk, "sk": {"S": f"CHUNK#{chunk:08d}"},
            "counts": {"B": orjson.dumps(counts.model_dump())},
            "created": {"B": orjson.dumps(created)},
            "expiresAt": {"N": str(expires_at)},
        }]
        dumped = [e.model_dump() for e in errors]
        for page, start in enumerate(range(0, len(dumped), 500)):
            items.append({
                "pk": pk, "sk": {"S": f"ERR#{chunk:08d}#{page:04d}"},
                "errors": {"B": orjson.dumps(dumped[start : start + 500])},
                "expiresAt": {"N": str(expires_at)},
            })
        return items

    def write_ledger(self, items: list[dict[str, Any]]) -> None:
        dynamo.batch_write(self._db, self._table, items)

    def errors(self, job_id: str, limit: int, cursor: str | None = None) -> tuple[list[RowError], str | None]:
        """Row errors in row order, and the cursor to continue from, if any."""
        after: tuple[str, int] | None = None
        if cursor:
            position = decode_cursor(cursor)
            if not (isinstance(position, list) and len(position) == 2 and isinstance(position[0], str)
                    and position[0].startswith("ERR#") and isinstance(position[1], int)):
                raise BadRequest(BAD_CURSOR)
            after = (position[0], position[1])
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            # every ERR# item holds at least one error: limit + 1 items answer the page and tell if more follow,
            # instead of a 1 MB page of a job with many failed rows read for its first 20 errors
            "Limit": limit + 1,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":pk": {"S": ledger_pk(job_id)},
                ":from": {"S": after[0] if after else "ERR#"},
                ":to": {"S": "ERR#~"},
            },
        }
        out: list[RowError] = []
        for item in dynamo.query_pages(self._db, **kwargs):
            sk = item["sk"]["S"]
            page = orjson.loads(item["errors"]["B"])
            first = after[1] if after and sk == after[0] else 0
            for index in range(first, len(page)):
                if len(out) == limit:
                    return out, encode_cursor([sk, index])
                out.append(RowError.model_validate(page[index]))
        return out, None

    def objects_created(self, job_id: str, limit: int = OBJECTS_CREATED_MAX) -> list[str]:
        """The first `limit` keys the job created, in chunk order. Read in pages of 1, 2, 4, ... chunk items: a
        chunk that created rows usually holds the whole list (one request), and a status read of a large job
        should not read a 1 MB page of its ledger; first chunks that created nothing cost a few requests more."""
        keys: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": ledger_pk(job_id)}, ":prefix": {"S": "CHUNK#"}},
            "ProjectionExpression": "created",
            "Limit": 1,
        }
        while True:
            response = self._db.query(**kwargs)
            for item in response.get("Items", []):
                keys.extend(orjson.loads(item["created"]["B"]))
                if len(keys) >= limit:
                    return keys[:limit]
            if not response.get("LastEvaluatedKey"):
                return keys
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            kwargs["Limit"] = min(kwargs["Limit"] * 2, 256)

