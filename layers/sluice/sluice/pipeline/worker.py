"""The worker's step: validate a chunk's rows, apply the good ones, record errors, count once.

Order matters for crash safety: records -> ledger (errors, created keys) -> result part -> commit.
Every step before the commit is idempotent; the commit is the one conditional write that counts."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from aws_lambda_powertools import Logger

from sluice import observability
from sluice.models.chunk import ChunkMessage
from sluice.models.clock import now_ms
from sluice.models.filespec import FileSpec, first_seen_decode
from sluice.models.job import Job, Outcome, RowCounts, Status
from sluice.models.schemas import KEY_SEPARATOR, ItemTypeDefinition, RowError, RowValidator, is_blank, short
from sluice.notify.announcer import announced_jobs
from sluice.pipeline import undo
from sluice.pipeline.finalize import settle
from sluice.pipeline.results import ResultRow, result_part
from sluice.store.blobs import Storage, result_part_key
from sluice.store.clients import Clients
from sluice.store.jobs import JobStore
from sluice.store.records import Candidate, RecordStore
from sluice.store.undo import UndoEntry, UndoImages

logger = Logger(child=True)
_GENERATED_KEYS = uuid.UUID("6f0a7c64-7f55-4a35-9d0e-2b8c2b0f5a11")


@lru_cache(maxsize=64)
def _validator(definition_json: str, date_formats: tuple[tuple[str, str], ...] = ()) -> RowValidator:
    return RowValidator(ItemTypeDefinition.model_validate_json(definition_json), dict(date_formats))


def generated_key(job_id: str, row: int) -> str:
    """Records of a schema without a natural key get an id that is the same on every redelivery."""
    return str(uuid.uuid5(_GENERATED_KEYS, f"{job_id}:{row}"))


def content_key(attributes: dict[str, Any]) -> str:
    """dedupe=content: a keyless record's key is a hash of its values, so the same row imported again is the
    same record (unchanged) instead of a new one."""
    text = orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(text).hexdigest()[:32]


@dataclass
class Checked:
    """A chunk's rows after validation: the ones to apply, and the failed ones with their errors."""

    candidates: list[Candidate] = field(default_factory=list)
    failed: dict[int, list[RowError]] = field(default_factory=dict)
    failed_keys: dict[int, str] = field(default_factory=dict)  # failed rows whose key could be read
    same_content: dict[int, Outcome] = field(default_factory=dict)  # dedupe=content: a row repeating one before it


def process_chunk(clients: Clients, message: ChunkMessage, records: RecordStore | None = None) -> str:
    started = time.perf_counter()
    try:
        return _process_chunk(clients, message, records)
    finally:
        observability.milliseconds("ChunkLatency", (time.perf_counter() - started) * 1000)


def _process_chunk(clients: Clients, message: ChunkMessage, records: RecordStore | None) -> str:
    store = announced_jobs(clients)
    job, counted = store.get_for_chunk(message.tenant, message.jobId, message.chunk)
    if job is None:
        logger.warning("chunk for an unknown job", extra={"jobId": message.jobId})
        return "no-job"
    if counted:
        return settle(clients, job).status.value
    if job.status == Status.CANCELING:
        why = f"the job stopped ({job.thresholdCrossed}) before this row was processed" if job.thresholdCrossed \
            else "job canceled before this row was processed"
        return skip_chunk(clients, message, why)
    if job.status != Status.PROCESSING:
        return f"skipped-{job.status.value}"

    spec = job.spec(message.file)
    records = records or RecordStore(clients)
    if job.operation != "import":
        return _process_undo_chunk(clients, store, job, spec, message, records)
    checked = _check_rows(job, spec, message)
    dry_run = job.mode == "dry-run"
    shards = spec.schema_snapshot().shards

    def keep_before(entries: list[UndoEntry]) -> None:
        UndoImages(clients).put_once(message.tenant, message.jobId, message.chunk,
                                     {"itemType": spec.itemType, "shards": shards, "entries": entries})

    outcomes = records.apply(message.tenant, spec.itemType, shards, message.jobId, checked.candidates,
                             merge=spec.merge, dry_run=dry_run, keep_before=keep_before if job.revertible else None)
    outcomes.update(checked.same_content)
    counts, created, errors, part_rows = _tally(message, checked, outcomes, dry_run)
    # failed rows whose key names a stored record (TeamTracks' failedToUpdate); read after this chunk's own
    # writes, so that a redelivered chunk finds the same
    existing = records.existing(message.tenant, spec.itemType, shards, list(checked.failed_keys.values()))
    counts.failedExisting = sum(1 for key in checked.failed_keys.values() if key in existing)
    return _record_and_commit(clients, store, message, job, counts, created, errors, part_rows)


def _process_undo_chunk(clients: Clients, store: JobStore, job: Job, spec: FileSpec, message: ChunkMessage,
                        records: RecordStore) -> str:
    """A chunk of a delete job, a purge or a revert."""
    if message.keyed:
        checked = Checked(candidates=[Candidate(row=r.row, key=str(r.values[0]), attributes={})
                                      for r in message.rows])
    else:
        checked = _check_rows(job, spec, message)
    created: list[str] = []
    if job.operation == "revert":
        applied, created = undo.apply_revert(clients, job, message.chunk, message.source or 0, checked.candidates,
                                             records)
    else:
        applied = undo.apply_deletes(clients, job, spec.itemType, spec.schema_snapshot().shards, message.chunk,
                                     checked.candidates, records)
    lines = {r.row: r.line for r in message.rows}
    for row, error in applied.failures.items():
        error.line = lines.get(row)
        checked.failed[row] = [error]
    outcomes = {row: outcome for row, outcome in applied.outcomes.items() if outcome != Outcome.FAILED}
    counts, _, errors, part_rows = _tally(message, checked, outcomes, job.mode == "dry-run")
    return _record_and_commit(clients, store, message, job, counts, created if job.mode != "dry-run" else [],
                              errors, part_rows)


def _record_and_commit(clients: Clients, store: JobStore, message: ChunkMessage, job: Job, counts: RowCounts,
                       created: list[str], errors: list[RowError], part_rows: list[ResultRow]) -> str:
    expires_at = (now_ms() // 1000) + clients.settings.retention_days * 86_400 * 2
    store.write_ledger(store.ledger_items(message.jobId, message.chunk, counts, created, errors, expires_at))
    Storage(clients).put(result_part_key(message.tenant, message.jobId, message.chunk), result_part(part_rows))
    return _commit(clients, store, message, counts, job, expires_at)


def _check_rows(job: Job, spec: FileSpec, message: ChunkMessage) -> Checked:
    """Validates every row of the chunk against the job's schema snapshot."""
    validator = _validator(spec.schema_snapshot().definition, tuple(sorted(message.dateFormats.items())))
    file_label = spec.name if job.staged else None
    checked = Checked()
    seen_content: set[str] = set()
    for chunk_row in message.rows:
        row, line = chunk_row.row, chunk_row.line
        if chunk_row.error is not None:
            checked.failed[row] = [RowError(row=row, line=line, file=file_label, message=chunk_row.error,
                                            value=short(",".join(str(v) for v in chunk_row.values)))]
            continue
        raw, conflicts = _raw_fields(row, message.fields, message.header, chunk_row.values)
        attributes, row_errors = validator.validate(row, raw)
        row_errors = conflicts + row_errors
        if not row_errors and chunk_row.duplicate_of:
            row_errors = [_duplicate_error(job, message, validator, row, attributes, chunk_row.duplicate_of)]
        if row_errors:
            for error in row_errors:
                error.line = line
                error.file = file_label
            checked.failed[row] = row_errors
            if validator.key_fields and (failed_key := validator.key_of_raw(raw)) is not None:
                checked.failed_keys[row] = failed_key
            continue
        if validator.key_fields:
            key = validator.key_of(attributes)
        elif job.dedupe == "content":
            key = content_key(attributes)
            if key in seen_content:  # the same values twice in one chunk: one record, the repeat changes nothing
                checked.same_content[row] = Outcome.UNCHANGED
                continue
            seen_content.add(key)
        else:
            key = generated_key(message.jobId, row)
        checked.candidates.append(Candidate(row=row, key=key, attributes=attributes))
    return checked


def _duplicate_error(job: Job, message: ChunkMessage, validator: RowValidator, row: int,
                     attributes: dict[str, Any], duplicate_of: int) -> RowError:
    first_file, first_row = first_seen_decode(duplicate_of)
    where = f"row {first_row}" if first_file == message.file else f"row {first_row} of {job.spec(first_file).name}"
    return RowError(row=row, field=KEY_SEPARATOR.join(validator.key_fields), value=short(validator.key_of(attributes)),
                    message=f"duplicate key, first seen at {where}")


def _tally(message: ChunkMessage, checked: Checked, outcomes: dict[int, Outcome], dry_run: bool
           ) -> tuple[RowCounts, list[str], list[RowError], list[ResultRow]]:
    """Each row's outcome, in row order: the chunk's counts, the keys it created, its errors, its result rows."""
    counts = RowCounts()
    created: list[str] = []
    errors: list[RowError] = []
    part_rows: list[ResultRow] = []
    key_of_row = {c.row: c.key for c in checked.candidates}
    for chunk_row in message.rows:
        row = chunk_row.row
        if row in checked.failed:
            counts.add(Outcome.FAILED)
            errors.extend(checked.failed[row])
            text = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in checked.failed[row])
            part_rows.append(ResultRow(row, Outcome.FAILED, text, chunk_row.values))
            continue
        outcome = outcomes[row]
        counts.add(outcome)
        key = key_of_row.get(row, "")
        if outcome == Outcome.CREATED and not dry_run:
            created.append(key)
        part_rows.append(ResultRow(row, outcome, key, chunk_row.values))
    return counts, created, errors, part_rows


def skip_chunk(clients: Clients, message: ChunkMessage, reason: str, *, dead: bool = False) -> str:
    """Counts a chunk's rows as not processed (its job is canceling, or it went to the dead-letter queue),
    once, and puts them in the unprocessed result file with the reason."""
    rows = [ResultRow(r.row, Outcome.UNPROCESSED, reason, r.values) for r in message.rows]
    Storage(clients).put(result_part_key(message.tenant, message.jobId, message.chunk), result_part(rows))
    counts = RowCounts(unprocessed=len(rows), dead=len(rows) if dead else 0)
    return _commit(clients, announced_jobs(clients), message, counts, None)


def _commit(clients: Clients, store: JobStore, message: ChunkMessage, counts: RowCounts, job: Job | None,
            expires_at: int | None = None) -> str:
    committed = store.commit_chunk(message.tenant, message.jobId, message.chunk, counts, message.file, expires_at)
    if committed is not None:  # counted once, so measured once
        for outcome in ("created", "updated", "unchanged", "deleted", "failed", "unprocessed"):
            observability.count(f"Rows{outcome.capitalize()}", getattr(counts, outcome))
    latest = committed or store.get(message.tenant, message.jobId) or job
    if latest is None:
        return "no-job"
    settled = settle(clients, latest)
    return "committed" if committed else f"already-committed-{settled.status.value}"


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

