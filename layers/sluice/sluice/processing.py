"""The worker's step: validate a chunk's rows, apply the good ones, record errors, count once.

Order matters for crash safety: records -> ledger (errors, created keys) -> result part -> commit.
Every step before the commit is idempotent; the commit is the one conditional write that counts."""

from __future__ import annotations

import time
import uuid
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger

from sluice import observability
from sluice.aws import Clients
from sluice.chunks import ChunkMessage
from sluice.clock import now_ms
from sluice.filespecs import first_seen_decode, spec_of
from sluice.finalize import result_part, settle
from sluice.jobs import ChunkCounts, JobStore, Outcome, Status
from sluice.records import Candidate, RecordStore
from sluice.schemas import KEY_SEPARATOR, ItemTypeDefinition, RowError, RowValidator, is_blank, short
from sluice.storage import Storage, result_part_key

logger = Logger(child=True)
_GENERATED_KEYS = uuid.UUID("6f0a7c64-7f55-4a35-9d0e-2b8c2b0f5a11")


@lru_cache(maxsize=64)
def _validator(definition_json: str) -> RowValidator:
    return RowValidator(ItemTypeDefinition.model_validate_json(definition_json))


def generated_key(job_id: str, row: int) -> str:
    """Records of a schema without a natural key get an id that is the same on every redelivery."""
    return str(uuid.uuid5(_GENERATED_KEYS, f"{job_id}:{row}"))


def process_chunk(clients: Clients, message: ChunkMessage, records: RecordStore | None = None) -> str:
    started = time.perf_counter()
    try:
        return _process_chunk(clients, message, records)
    finally:
        observability.milliseconds("ChunkLatency", (time.perf_counter() - started) * 1000)


def _process_chunk(clients: Clients, message: ChunkMessage, records: RecordStore | None) -> str:
    store = JobStore(clients)
    job = store.get(message.tenant, message.jobId)
    if job is None:
        logger.warning("chunk for an unknown job", extra={"jobId": message.jobId})
        return "no-job"
    if message.chunk in job.get("doneChunks", set()):
        return settle(clients, job)["status"]
    status = job["status"]
    if status == Status.CANCELING:
        return skip_chunk(clients, message, "job canceled before this row was processed")
    if status != Status.PROCESSING:
        return f"skipped-{status}"

    spec = spec_of(job, message.file)
    validator = _validator(spec.snapshot["definition"])
    key_fields = validator.key_fields
    file_label = spec.name if job.get("staged") else None
    errors: list[RowError] = []
    failed: dict[int, list[RowError]] = {}
    candidates: list[Candidate] = []
    for row, duplicate_of, values, read_error, line in message.rows:
        if read_error is not None:
            failed[row] = [RowError(row=row, line=line, file=file_label,
                                    value=short(",".join(str(v) for v in values)), message=read_error)]
            continue
        raw, conflicts = _raw_fields(row, message.fields, message.header, values)
        attributes, row_errors = validator.validate(row, raw)
        row_errors = conflicts + row_errors
        if not row_errors and duplicate_of:
            first_file, first_row = first_seen_decode(duplicate_of)
            where = f"row {first_row}" if first_file == message.file else \
                f"row {first_row} of {spec_of(job, first_file).name}"
            row_errors = [RowError(row=row, field=KEY_SEPARATOR.join(key_fields),
                                   value=short(validator.key_of(attributes)),
                                   message=f"duplicate key, first seen at {where}")]
        if row_errors:
            for error in row_errors:
                error.line = line
                error.file = file_label
            failed[row] = row_errors
            continue
        key = validator.key_of(attributes) if key_fields else generated_key(message.jobId, row)
        candidates.append(Candidate(row=row, key=key, attributes=attributes))

    dry_run = job.get("mode") == "dry-run"
    outcomes = (records or RecordStore(clients)).apply(
        message.tenant, spec.itemType, int(spec.snapshot["shards"]), message.jobId, candidates,
        merge=spec.merge, dry_run=dry_run,
    )
    counts = ChunkCounts()
    part_rows: list[tuple[int, str, str, list[Any]]] = []
    created: list[str] = []
    key_of_row = {c.row: c.key for c in candidates}
    for row, _, values, _, _ in message.rows:
        if row in failed:
            counts.add(Outcome.FAILED)
            errors.extend(failed[row])
            message_text = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in failed[row])
            part_rows.append((row, Outcome.FAILED.value, message_text, values))
            continue
        outcome = outcomes[row]
        counts.add(outcome)
        if outcome == Outcome.CREATED and not dry_run:
            created.append(key_of_row[row])
        part_rows.append((row, outcome.value, key_of_row[row], values))

    expires_at = (now_ms() // 1000) + clients.settings.retention_days * 86_400 * 2
    store.write_ledger(store.ledger_items(message.jobId, message.chunk, counts, created,
                                          [e.model_dump(exclude={"file"} if e.file is None else None)
                                           for e in errors], expires_at))
    Storage(clients).put(result_part_key(message.tenant, message.jobId, message.chunk), result_part(part_rows))
    return _commit(clients, store, message, counts, job)


def skip_chunk(clients: Clients, message: ChunkMessage, reason: str, *, dead: bool = False) -> str:
    """Counts a chunk's rows as not processed (its job is canceling, or it went to the dead-letter queue),
    once, and puts them in the unprocessed result file with the reason."""
    rows = [(r[0], Outcome.UNPROCESSED.value, reason, r[2]) for r in message.rows]
    Storage(clients).put(result_part_key(message.tenant, message.jobId, message.chunk), result_part(rows))
    counts = ChunkCounts(unprocessed=len(rows), dead=len(rows) if dead else 0)
    return _commit(clients, JobStore(clients), message, counts, None)


def _commit(clients: Clients, store: JobStore, message: ChunkMessage, counts: ChunkCounts, job: Any) -> str:
    committed = store.commit_chunk(message.tenant, message.jobId, message.chunk, counts, message.file)
    if committed is not None:  # counted once, so measured once
        for outcome in ("created", "updated", "unchanged", "failed", "unprocessed"):
            observability.count(f"Rows{outcome.capitalize()}", getattr(counts, outcome))
    latest = committed or store.get(message.tenant, message.jobId) or job
    if latest is None:
        return "no-job"
    settled = settle(clients, latest)
    return "committed" if committed else f"already-committed-{settled['status']}"


def _raw_fields(row: int, fields: list[str | None], header: list[str], values: list[Any]
                ) -> tuple[dict[str, Any], list[RowError]]:
    raw: dict[str, Any] = {}
    source: dict[str, str] = {}
    conflicts: list[RowError] = []
    for position, name in enumerate(fields):
        if name is None or position >= len(values):
            continue
        value = values[position]
        if name in raw and not is_blank(value) and not is_blank(raw[name]):
            conflicts.append(RowError(row=row, field=name, value=short(value),
                                      message=f"both '{source[name]}' and '{header[position]}' give this field"))
            continue
        if name not in raw or not is_blank(value):
            raw[name] = value
            source[name] = header[position]
    return raw, conflicts
