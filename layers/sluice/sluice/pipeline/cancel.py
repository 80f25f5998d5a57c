"""Canceling a job: before any data arrived it ends at once; while it runs, chunks not yet processed are
skipped (counted as unprocessed) and the job ends Canceled once every row is accounted for. A job that has
processed every row (a big one may still be writing its result files) has nothing left to stop: 409."""

from __future__ import annotations

from sluice.models.errors import Conflict, NotFound
from sluice.models.job import Job, Status
from sluice.notify.announcer import announced_jobs
from sluice.pipeline.finalize import settle
from sluice.store.clients import Clients

INLINE_RESULT_CHUNKS = 500  # the API answers well inside its 30 s: a bigger job's result files are written in steps


def cancel(clients: Clients, tenant: str, job_id: str) -> Job:
    store = announced_jobs(clients)
    job = store.get(tenant, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    if job.finished:
        raise Conflict(f"job {job_id} has already finished ({job.status.value}); nothing to cancel")
    if job.status == Status.CANCELING:
        return job
    if job.settled:  # nothing left to stop: the job ends as its rows decided (its result files being written)
        progress = f" (its result files are being written: {job.resultChunk} of {job.chunkCount} chunks so far)" \
            if job.resultStep is not None else ""
        raise Conflict(f"job {job_id} has processed every row{progress}; nothing to cancel: it finishes on its own")
    if job.status == Status.INITIALIZED:
        done = store.update(tenant, job_id, {"total": 0}, allowed_from={Status.INITIALIZED})
        if done is not None:
            finished = store.finish(done, Status.CANCELED, "canceled on request before any data arrived",
                                    {Status.INITIALIZED})
            if finished is not None:
                return finished
    moved = store.update(tenant, job_id, {"status": Status.CANCELING},
                         allowed_from={Status.ACCEPTED, Status.PROCESSING})
    if moved is None:
        return cancel(clients, tenant, job_id)  # the status moved under us: decide again on the new one
    return settle(clients, moved, INLINE_RESULT_CHUNKS)
