"""Import jobs: statuses, the stored job item, and every write that moves a job along.

The job item is the single commit point of the pipeline: a chunk is counted by one conditional
UpdateItem that adds its counts and its index to `doneChunks` unless the index is already there,
so a redelivered or concurrently delivered chunk can never be counted twice."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, Field

from sluice import dynamo, observability
from sluice.aws import Clients
from sluice.clock import iso_from_ms, now_ms
from sluice.dynamo import Item, conditional_write, from_item, to_av, to_item
from sluice.errors import Conflict
from sluice.notifications import completion_email, status_changed


class Status(StrEnum):
    INITIALIZED = "Initialized"
    ACCEPTED = "Accepted"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    CANCELING = "Canceling"
    CANCELED = "Canceled"
    FAILED = "Failed"


FINISHED = frozenset({Status.COMPLETED, Status.REJECTED, Status.CANCELED, Status.FAILED})
OPEN = frozenset({Status.INITIALIZED, Status.ACCEPTED, Status.PROCESSING})

ERRORS_ON_JOB = 20
OPEN_JOBS = "OPENJOBS"
OBJECTS_CREATED_MAX = 1000


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    UNPROCESSED = "unprocessed"


class ChunkCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    unprocessed: int = 0
    dead: int = 0  # of the unprocessed rows, those whose chunk went to the dead-letter queue

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


class JobOptions(BaseModel):
    """What a client may set on a job, whatever the form it submits."""

    itemType: str
    jobName: str | None = Field(default=None, max_length=200)
    merge: bool = False
    mode: str = Field(default="commit", pattern="^(commit|dry-run)$")
    creationPath: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:/-]*$")
    notificationEmail: str | None = Field(default=None, max_length=254)
    contentType: str | None = Field(default=None, max_length=200)
    fileName: str | None = Field(default=None, max_length=255)
    sheet: str | None = Field(default=None, max_length=100, description="workbooks: sheet name or 0-based index")
    headerRow: int = Field(default=1, ge=1, le=1000, description="1-based row holding the column headers")
    delimiter: str | None = Field(default=None, max_length=10, description="CSV: , ; tab | (detected if absent)")
    encoding: str | None = Field(default=None, max_length=40, description="text encoding (detected if absent)")


def job_pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


def ledger_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


class JobStore:
    """Import jobs (sort key JOB#…) and, with prefix "EXPORT", exports (EXPORT#…): the same life cycle.

    Every status it writes is announced (notifications.status_changed); a finish also sends the email."""

    def __init__(self, clients: Clients, prefix: str = "JOB") -> None:
        self._clients = clients
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table
        self._retention_ms = clients.settings.retention_days * 86_400_000
        self._prefix = prefix

    def _key(self, tenant: str, job_id: str) -> dict[str, Any]:
        return {"pk": {"S": job_pk(tenant)}, "sk": {"S": f"{self._prefix}#{job_id}"}}

    def create(self, job: Item) -> None:
        # Unfinished jobs are also listed under one sparse index key, so the sweeper finds them without a scan.
        open_entry = {"gsi1pk": OPEN_JOBS, "gsi1sk": f"{int(job['submitMs']):013d}#{job['tenant']}#{job['jobId']}"}
        item = to_item({"pk": job_pk(job["tenant"]), "sk": f"{self._prefix}#{job['jobId']}", **open_entry, **job})
        written = conditional_write(self._db, "PutItem", lambda current: current.get("submitMs") == item["submitMs"],
                                    TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        if written is None:
            raise Conflict(f"job {job['jobId']} exists already")
        status_changed(self._clients, job)

    def get(self, tenant: str, job_id: str) -> Item | None:
        response = self._db.get_item(TableName=self._table, Key=self._key(tenant, job_id), ConsistentRead=True)
        item = response.get("Item")
        return from_item(item) if item else None

    def update(
        self,
        tenant: str,
        job_id: str,
        values: dict[str, Any],
        *,
        allowed_from: frozenset[Status] | set[Status] | None = None,
        remove: tuple[str, ...] = (),
    ) -> Item | None:
        """SET the values (and REMOVE attributes), optionally only while the job's status is one of allowed_from.

        Returns the job after the update, or None when the condition did not hold."""
        names = {f"#f{i}": name for i, name in enumerate(values)}
        attr_values = {f":v{i}": to_av(value) for i, value in enumerate(values.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
        if remove:
            names.update({f"#r{i}": name for i, name in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        condition = "attribute_exists(pk)"
        if allowed_from:
            names["#status"] = "status"
            placeholders = []
            for i, status in enumerate(sorted(allowed_from)):
                attr_values[f":s{i}"] = {"S": status.value}
                placeholders.append(f":s{i}")
            condition += f" AND #status IN ({', '.join(placeholders)})"
        wanted = {name: to_av(value) for name, value in values.items()}

        def mine(current: Item) -> bool:  # this very update landed, and only its reply was lost
            return all(current.get(n) == v for n, v in wanted.items()) and not any(n in current for n in remove)

        written = conditional_write(
            self._db, "UpdateItem", mine,
            TableName=self._table,
            Key=self._key(tenant, job_id),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attr_values,
            ReturnValues="ALL_NEW",
        )
        if written is None:
            return None
        updated = from_item(written)
        if "status" in values:
            status_changed(self._clients, updated)
        return updated

    def finish(self, job: Item, status: Status, reason: str | None, allowed_from: set[Status]) -> Item | None:
        finished = now_ms()
        started = job.get("startMs") or job.get("submitMs") or finished
        values: dict[str, Any] = {
            "status": status.value,
            "finishMs": finished,
            "runTimeMs": max(0, finished - started),
            "expiresAt": (finished + self._retention_ms) // 1000,
        }
        if reason is not None:
            values["reason"] = reason
        finished = self.update(job["tenant"], job["jobId"], values, allowed_from=allowed_from,
                               remove=("gsi1pk", "gsi1sk"))
        if finished is not None:
            observability.count(f"{'Exports' if self._prefix == 'EXPORT' else 'Jobs'}{status.value}")
        if finished is not None and finished.get("notificationEmail"):
            self._email(finished)
        return finished

    def _email(self, job: Item) -> None:
        if job.get("kind") == "export":
            from sluice.exports import download_links

            links: dict[str, Any] = {"download": download_links(self._clients, job)}
            errors: list[dict[str, Any]] = []
        else:
            errors = self.errors(job["jobId"], 10)[0]
            links = {"job": f"/v1/jobs/{job['jobId']}", "errors": f"/v1/jobs/{job['jobId']}/errors"}
        completion_email(self._clients, job, errors, links)

    def commit_chunk(self, tenant: str, job_id: str, chunk: int, counts: ChunkCounts, file: int = 0) -> Item | None:
        """Adds a chunk's counts (to the job and to its file) exactly once.

        None: this chunk was already counted (or the job is gone)."""
        per_file = ", ".join(f"f{file}{name} :{value}" for name, value in _FILE_COUNTERS)
        token = uuid.uuid4().hex  # tells this commit's own retry (after a lost reply) from another delivery's
        written = conditional_write(
            self._db, "UpdateItem", lambda current: current.get("lastCommit") == {"S": token},
            TableName=self._table,
            Key=self._key(tenant, job_id),
            UpdateExpression=(
                "ADD doneChunks :chunkSet, cProcessed :p, cCreated :c, cUpdated :u, cUnchanged :n, "
                f"cFailed :f, cUnprocessed :x, cDead :d, {per_file} SET lastProgressMs = :now, lastCommit = :token"
            ),
            ConditionExpression="attribute_exists(pk) AND NOT contains(doneChunks, :chunk)",
            ExpressionAttributeValues={
                ":chunkSet": {"NS": [str(chunk)]},
                ":chunk": {"N": str(chunk)},
                ":p": {"N": str(counts.processed)},
                ":c": {"N": str(counts.created)},
                ":u": {"N": str(counts.updated)},
                ":n": {"N": str(counts.unchanged)},
                ":f": {"N": str(counts.failed)},
                ":x": {"N": str(counts.unprocessed)},
                ":d": {"N": str(counts.dead)},
                ":now": {"N": str(now_ms())},
                ":token": {"S": token},
            },
            ReturnValues="ALL_NEW",
        )
        return None if written is None else from_item(written)

    def open_jobs(self) -> list[Item]:
        """Every unfinished job of every tenant (the sweeper's worklist), oldest first."""
        items = dynamo.query_pages(self._db, TableName=self._table, IndexName="gsi1",
                                   KeyConditionExpression="gsi1pk = :open",
                                   ExpressionAttributeValues={":open": {"S": OPEN_JOBS}})
        return [from_item(i) for i in items]

    def query(self, tenant: str, limit: int, start: dict[str, Any] | None) -> tuple[list[Item], Any]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": job_pk(tenant)}, ":prefix": {"S": "JOB#"}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._db.query(**kwargs)
        return [from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")

    # The per-job ledger: one item per chunk (counts, created keys) and pages of row errors.

    def ledger_items(self, job_id: str, chunk: int, counts: ChunkCounts, created: list[str],
                     errors: list[dict[str, Any]], expires_at: int) -> list[dict[str, Any]]:
        pk = {"S": ledger_pk(job_id)}
        items = [{
            "pk": pk, "sk": {"S": f"CHUNK#{chunk:08d}"},
            "counts": {"B": orjson.dumps(counts.model_dump())},
            "created": {"B": orjson.dumps(created)},
            "expiresAt": {"N": str(expires_at)},
        }]
        for page, start in enumerate(range(0, len(errors), 500)):
            items.append({
                "pk": pk, "sk": {"S": f"ERR#{chunk:08d}#{page:04d}"},
                "errors": {"B": orjson.dumps(errors[start : start + 500])},
                "expiresAt": {"N": str(expires_at)},
            })
        return items

    def write_ledger(self, items: list[dict[str, Any]]) -> None:
        dynamo.batch_write(self._db, self._table, items)

    def errors(self, job_id: str, limit: int, after: tuple[str, int] | None = None
               ) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
        """Row errors in row order; the position (error page, index) to continue from, if any."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":pk": {"S": ledger_pk(job_id)},
                ":from": {"S": after[0] if after else "ERR#"},
                ":to": {"S": "ERR#~"},
            },
        }
        out: list[dict[str, Any]] = []
        for item in dynamo.query_pages(self._db, **kwargs):
            sk = item["sk"]["S"]
            page = orjson.loads(item["errors"]["B"])
            first = after[1] if after and sk == after[0] else 0
            for index in range(first, len(page)):
                if len(out) == limit:
                    return out, (sk, index)
                out.append(page[index])
        return out, None

    def objects_created(self, job_id: str, limit: int = OBJECTS_CREATED_MAX) -> list[str]:
        keys: list[str] = []
        for item in dynamo.query_pages(
            self._db,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": ledger_pk(job_id)}, ":prefix": {"S": "CHUNK#"}},
            ProjectionExpression="created",
        ):
            keys.extend(orjson.loads(item["created"]["B"]))
            if len(keys) >= limit:
                return keys[:limit]
        return keys


_FILE_COUNTERS = (("Processed", "p"), ("Created", "c"), ("Updated", "u"), ("Unchanged", "n"), ("Failed", "f"),
                  ("Unprocessed", "x"))


def file_counts_of(job: Item, index: int, total: int | None) -> dict[str, Any]:
    return {"total": total, **{name.lower(): int(job.get(f"f{index}{name}", 0)) for name, _ in _FILE_COUNTERS}}


def counts_of(job: Item) -> dict[str, Any]:
    return {
        "total": job.get("total"),
        "processed": int(job.get("cProcessed", 0)),
        "created": int(job.get("cCreated", 0)),
        "updated": int(job.get("cUpdated", 0)),
        "unchanged": int(job.get("cUnchanged", 0)),
        "failed": int(job.get("cFailed", 0)),
        "unprocessed": int(job.get("cUnprocessed", 0)),
    }


def is_settled(job: Item) -> bool:
    """Every row read has been processed or skipped, and the whole input has been read."""
    total = job.get("total")
    if total is None:
        return False
    return int(job.get("cProcessed", 0)) + int(job.get("cUnprocessed", 0)) >= int(total)


_FILE_FIELDS = ("name", "itemType", "uploaded", "digest", "size", "rows", "format", "encoding", "delimiter",
                "sheet", "ignoredColumns", "warnings")


def _file_view(job: Item, index: int, file: dict[str, Any]) -> dict[str, Any]:
    view = {k: file[k] for k in _FILE_FIELDS if k in file}
    if "rows" in file:
        view["counts"] = file_counts_of(job, index, int(file["rows"]))
    return view


def job_view(job: Item, errors: list[dict[str, Any]], objects_created: list[str], base_url: str = "") -> dict[str, Any]:
    """A job as the API shows it."""
    job_id = job["jobId"]
    finish = job.get("finishMs")
    start = job.get("startMs")
    run_time = job.get("runTimeMs")
    if run_time is None:
        run_time = max(0, now_ms() - int(start)) if start else 0
    self_link = f"{base_url}/v1/jobs/{job_id}"
    view: dict[str, Any] = {
        "jobId": job_id,
        "jobName": job.get("jobName"),
        "itemType": job.get("itemType"),
        "status": job.get("status"),
        "reason": job.get("reason"),
        "creationPath": job.get("creationPath"),
        "mode": job.get("mode", "commit"),
        "merge": bool(job.get("merge", False)),
        "contentType": job.get("contentType"),
        "submitTime": iso_from_ms(job.get("submitMs")),
        "startTime": iso_from_ms(start),
        "finishTime": iso_from_ms(finish),
        "dateFinished": int(finish or 0),
        "runTime": int(run_time),
        "finished": job.get("status") in FINISHED,
        "notificationEmail": job.get("notificationEmail"),
        "files": [_file_view(job, i, f) for i, f in enumerate(job.get("files") or job.get("stagedFiles") or [])],
        "counts": counts_of(job),
        "recordsProcessed": int(job.get("cProcessed", 0)),
        "errors": errors,
        "objectsCreated": objects_created,
        "ignoredColumns": job.get("ignoredColumns", []),
        "format": job.get("format"),
        "encoding": job.get("encoding"),
        "delimiter": job.get("delimiter"),
        "sheet": job.get("sheet"),
        "headerRow": int(job.get("headerRow") or 1),
        "warnings": job.get("warnings", []),
        "retryOf": job.get("retryOf"),
        "staged": bool(job.get("staged")),
        "control": job.get("control"),
        "comment": job.get("comment"),
        "itemTypes": job.get("itemTypes") or ([job["itemType"]] if job.get("itemType") else []),
        "commitOf": job.get("commitOf"),
        "links": {
            "self": self_link,
            "errors": f"{self_link}/errors",
            "results": f"{self_link}/results/{{kind}}",
        },
    }
    if job.get("uploadUrl") and job.get("status") == Status.INITIALIZED:
        view["uploadUrl"] = job["uploadUrl"]
        if job.get("uploadForm"):
            view["uploadForm"] = job["uploadForm"]
        view["uploadExpiresAt"] = job.get("uploadExpiresAt")
    return view
