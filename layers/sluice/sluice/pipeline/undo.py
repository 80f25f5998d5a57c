"""The worker's step for jobs that take records away or put them back: delete jobs (and purges) and reverts.

Each chunk first makes its plan — which record goes, which comes back as it was, which row fails and why —
from one read of the records, and stores it once as the chunk's before-image object. A redelivered chunk
finds that plan and carries out the same one, so every row keeps its first outcome (a record it deleted is
not "not found" the second time) and nothing is counted twice. Writes then go only where the record is still
as the plan found it: a change made by someone else in between is never overwritten."""

from __future__ import annotations

from dataclasses import dataclass, field

from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.job import Job, Outcome
from sluice.models.schemas import RowError, short
from sluice.store.clients import Clients
from sluice.store.records import Candidate, RecordMeta, RecordStore
from sluice.store.undo import ChunkChanges, StoredItem, UndoEntry, UndoImages

REVERTIBLE = frozenset({Outcome.CREATED.value, Outcome.UPDATED.value, Outcome.DELETED.value})


@dataclass
class Applied:
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    failures: dict[int, RowError] = field(default_factory=dict)


def _meta(item: StoredItem | None) -> RecordMeta | None:
    return RecordMeta.decode(item["m"]["S"]) if item is not None else None


def _result(entries: list[UndoEntry]) -> Applied:
    applied = Applied()
    for entry in entries:
        outcome = Outcome(entry["outcome"])
        applied.outcomes[entry["row"]] = outcome
        if outcome == Outcome.FAILED:
            applied.failures[entry["row"]] = RowError(row=entry["row"], value=short(entry["key"]),
                                                      message=entry.get("message", "failed"))
    return applied


# --- delete jobs and purges -----------------------------------------------------------------------------


def apply_deletes(clients: Clients, job: Job, item_type: str, shards: int, chunk: int, candidates: list[Candidate],
                  records: RecordStore) -> Applied:
    """Deletes the records the rows name; a key with no record is a row error."""
    current = records.read(job.tenant, item_type, shards, [c.key for c in candidates])
    entries: list[UndoEntry] = []
    for candidate in candidates:
        before = current.get(candidate.key)
        if before is None:
            entries.append({"row": candidate.row, "key": candidate.key, "outcome": Outcome.FAILED.value,
                            "message": f"no {item_type} record with key '{short(candidate.key)}'"})
        else:
            entries.append({"row": candidate.row, "key": candidate.key, "outcome": Outcome.DELETED.value,
                            "version": 0, "before": before, "after": None})
    if job.mode == "dry-run":
        return _result(entries)
    plan = UndoImages(clients).put_once(job.tenant, job.jobId, chunk,
                                        {"itemType": item_type, "shards": shards, "entries": entries})["entries"]
    # deleted where the record is still as the plan found it (an earlier attempt may have deleted it already)
    records.delete(job.tenant, item_type, shards,
                   [e["key"] for e in plan if e["outcome"] == Outcome.DELETED.value
                    and current.get(e["key"]) == e.get("before")])
    return _result(plan)


# --- reverts ----------------------------------------------------------------------------------------------


def _changed_since(item: StoredItem | None) -> str:
    meta = _meta(item)
    if meta is None:
        return "it was deleted since"
    by = {"import": f"job {meta.job_id}", "revert": f"revert job {meta.job_id}"}.get(meta.source, meta.source)
    return f"it was changed since (version {meta.version}, written by {by} at {iso_from_ms(meta.updated_ms)})"


def _plan_revert(job: Job, row: int, original: UndoEntry, current: StoredItem | None, now: int) -> UndoEntry:
    """What reverting one change does to its record, given the record as it is now."""
    key = original["key"]
    plan: UndoEntry = {"row": row, "key": key, "before": current}
    meta = _meta(current)
    written_by_job = (meta is not None and meta.job_id == job.revertOf and meta.row == original["row"]
                      and meta.version == original["version"])
    what = original["outcome"]
    if what == Outcome.CREATED.value and written_by_job:
        return {**plan, "outcome": Outcome.DELETED.value, "version": 0, "after": None}
    if what == Outcome.CREATED.value and current is None:
        return {**plan, "outcome": Outcome.UNCHANGED.value, "message": "already deleted"}
    if what == Outcome.UPDATED.value and written_by_job and meta is not None and original.get("before"):
        before = original["before"]
        assert before is not None
        restored = RecordMeta(meta.version + 1, RecordMeta.decode(before["m"]["S"]).created_ms, now, job.jobId, row,
                              Outcome.UPDATED.value, "revert")
        return {**plan, "outcome": Outcome.UPDATED.value, "version": restored.version,
                "after": {"a": before["a"], "m": {"S": restored.encode()}}}
    if what == Outcome.DELETED.value and current is None and original.get("before"):
        before = original["before"]
        assert before is not None
        old = RecordMeta.decode(before["m"]["S"])
        back = RecordMeta(old.version + 1, old.created_ms, now, job.jobId, row, Outcome.CREATED.value, "revert")
        return {**plan, "outcome": Outcome.CREATED.value, "version": back.version,
                "after": {"a": before["a"], "m": {"S": back.encode()}}}
    if what == Outcome.DELETED.value:
        return {**plan, "outcome": Outcome.FAILED.value,
                "message": "conflict: a record with this key was created again since the delete; left as it is"}
    return {**plan, "outcome": Outcome.FAILED.value,
            "message": f"conflict: {_changed_since(current)}; left as it is"}


def apply_revert(clients: Clients, job: Job, chunk: int, source: int, candidates: list[Candidate],
                 records: RecordStore) -> tuple[Applied, list[str]]:
    """Undoes the changes one chunk of the reverted job made, for the rows of this revert chunk. Returns what
    happened to each row, and the keys of records it brought back (a reverted delete)."""
    assert job.revertOf is not None
    images = UndoImages(clients)
    original = images.get(job.tenant, job.revertOf, source)
    if original is None:
        raise RuntimeError(f"before-images of chunk {source} of job {job.revertOf} are gone")
    item_type, shards = original["itemType"], original["shards"]
    by_key = {e["key"]: e for e in original["entries"]}
    current = records.read(job.tenant, item_type, shards, [c.key for c in candidates])
    now = now_ms()
    entries = [_plan_revert(job, c.row, by_key[c.key], current.get(c.key), now) for c in candidates]
    if job.mode != "dry-run":
        changes: ChunkChanges = {"itemType": item_type, "shards": shards, "entries": entries}
        entries = images.put_once(job.tenant, job.jobId, chunk, changes)["entries"]
        _carry_out(job, item_type, shards, entries, current, records)
    created = [e["key"] for e in entries if e["outcome"] == Outcome.CREATED.value]
    return _result(entries), created


def _carry_out(job: Job, item_type: str, shards: int, plan: list[UndoEntry], current: dict[str, StoredItem],
               records: RecordStore) -> None:
    """Writes the plan where each record is still as the plan found it (an earlier attempt may have written
    some already: those now carry this revert's stamp and are left alone)."""
    deletes: list[str] = []
    puts: dict[str, StoredItem] = {}
    for entry in plan:
        if entry["outcome"] not in REVERTIBLE:
            continue
        now_item = current.get(entry["key"])
        if now_item != entry.get("before"):
            continue  # done by an earlier attempt, or changed by someone else since the plan: left as it is
        after = entry.get("after")
        if after is None:
            deletes.append(entry["key"])
        else:
            puts[entry["key"]] = after
    records.delete(job.tenant, item_type, shards, deletes)
    records.put_stored(job.tenant, item_type, shards, puts)
