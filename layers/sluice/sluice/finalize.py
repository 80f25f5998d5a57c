"""Ending a job: once every row read is processed or skipped, write the result files and set the final
status. Any step may call settle(); the conditional status change makes exactly one of them finish it."""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from typing import Any

from sluice.aws import Clients
from sluice.csvsafe import neutralise
from sluice.dynamo import Item
from sluice.jobs import JobStore, Outcome, Status, counts_of, is_settled
from sluice.storage import RESULT_KINDS, Storage, result_key, result_part_key

OUTCOME_COLUMNS = ["sluice_row", "sluice_outcome", "sluice_message"]
_KIND_OF = {Outcome.CREATED.value: "succeeded", Outcome.UPDATED.value: "succeeded",
            Outcome.UNCHANGED.value: "succeeded", Outcome.FAILED.value: "failed",
            Outcome.UNPROCESSED.value: "unprocessed"}


def result_part(rows: list[tuple[int, str, str, list[Any]]]) -> bytes:
    """One chunk's share of the result files: row number, outcome, message, then the original values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row, outcome, message, values in rows:
        writer.writerow([row, outcome, message, *("" if v is None else v for v in values)])
    return buffer.getvalue().encode()


def write_results(clients: Clients, job: Item) -> None:
    """The succeeded / failed / unprocessed CSVs: one set per job, or one per file in jobs of several files."""
    files = job.get("files") or [{"header": job.get("sourceHeader") or [], "firstChunk": 0,
                                  "chunkCount": int(job.get("chunkCount") or 0)}]
    done = {int(c) for c in job.get("doneChunks", set())}
    for index, file in enumerate(files):
        first = int(file.get("firstChunk", 0))
        chunks = sorted(c for c in done if first <= c < first + int(file.get("chunkCount", 0)))
        _write_file_results(clients, job, list(file.get("header") or []), chunks,
                            None if len(files) == 1 else index)


def _write_file_results(clients: Clients, job: Item, header: list[str], chunks: list[int],
                        file_index: int | None) -> None:
    storage = Storage(clients)
    tenant, job_id = job["tenant"], job["jobId"]
    with contextlib.ExitStack() as stack:
        files = {kind: stack.enter_context(tempfile.TemporaryFile(mode="w+b")) for kind in RESULT_KINDS}
        texts = {kind: io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=True)
                 for kind, handle in files.items()}
        writers = {kind: csv.writer(text, lineterminator="\r\n") for kind, text in texts.items()}
        for writer in writers.values():
            writer.writerow([*(neutralise(h) for h in header), *OUTCOME_COLUMNS])
        for chunk in chunks:
            body = storage.open(result_part_key(tenant, job_id, chunk)).read().decode()
            for row, outcome, message, *values in csv.reader(io.StringIO(body)):
                padded = values + [""] * (len(header) - len(values))
                writers[_KIND_OF[outcome]].writerow([*(neutralise(v) for v in padded), row, outcome,
                                                     neutralise(message)])
        for kind, handle in files.items():
            handle.seek(0)  # streamed from disk in parts: memory stays bounded for any job size
            storage.s3.upload_fileobj(handle, storage.bucket, result_key(tenant, job_id, kind, file_index),
                                      ExtraArgs={"ContentType": "text/csv; charset=utf-8"})


def settle(clients: Clients, job: Item) -> Item:
    """Finishes a job whose rows are all accounted for; otherwise returns it unchanged."""
    status = job.get("status")
    if not is_settled(job) or status not in (Status.PROCESSING, Status.CANCELING):
        return job
    write_results(clients, job)
    store = JobStore(clients)
    dead = int(job.get("cDead", 0))
    if status == Status.PROCESSING and dead:
        counts = counts_of(job)
        reason = (f"{dead} rows could not be processed: their chunks failed repeatedly and went to the dead-letter "
                  f"queue (they are in the unprocessed result file); {counts['processed']} rows were processed")
        finished = store.finish(job, Status.FAILED, reason, {Status.PROCESSING})
    elif status == Status.PROCESSING:
        finished = store.finish(job, Status.COMPLETED, None, {Status.PROCESSING})
    else:
        counts = counts_of(job)
        reason = (f"canceled on request: {counts['processed']} rows were processed and stay applied, "
                  f"{counts['unprocessed']} rows were not processed")
        finished = store.finish(job, Status.CANCELED, reason, {Status.CANCELING})
    return finished or store.get(job["tenant"], job["jobId"]) or job
