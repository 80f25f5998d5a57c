"""Ending a job: once every row read is processed or skipped, write the result files and set the final
status. Any step may call settle(); the conditional status change makes exactly one of them finish it.

A job of more than `ResultStepChunks` chunks has its result files written by a chain of steps on the IngestQueue
(pipeline/results.py) instead of by the invocation that settles it: settle() claims the chain once (the job's
`resultStep`), each step moves it on, and the last step sets the final status."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from sluice.models.job import Job, Status
from sluice.models.results import ResultAssembly, ResultStepMessage
from sluice.notify.announcer import announced_jobs
from sluice.pipeline.results import chunks_of, result_step, write_results
from sluice.pipeline.revert import finish_purge
from sluice.store.blobs import Storage
from sluice.store.clients import Clients
from sluice.store.jobs import JobStore
from sluice.store.result_steps import ResultSteps

logger = Logger(child=True)


def settle(clients: Clients, job: Job, inline_chunks: int | None = None) -> Job:
    """Finishes a job whose rows are all accounted for (or, for a job of more chunks than one invocation writes
    the result files of, starts the chain that writes them and then finishes it); otherwise returns it unchanged.
    inline_chunks: write at most this many chunks' result files here (a caller with a short timeout)."""
    if job.status not in (Status.PROCESSING, Status.CANCELING):
        return job
    store = announced_jobs(clients)
    crossed = job.threshold_crossed() if job.mode == "commit" else None
    if crossed and job.status == Status.PROCESSING and not job.settled:
        # past an error threshold: no new chunk is taken (they are skipped as unprocessed, as on a cancel)
        stopping = store.update(job.tenant, job.jobId, {"status": Status.CANCELING, "thresholdCrossed": crossed},
                                allowed_from={Status.PROCESSING})
        job = stopping or store.get(job.tenant, job.jobId) or job
        if job.status not in (Status.PROCESSING, Status.CANCELING):
            return job
    if not job.settled or job.resultStep is not None:  # a chain writes its result files (the sweeper watches it)
        return job
    step_chunks, chunks = clients.settings.result_step_chunks, chunks_of(job)
    if chunks <= (step_chunks if inline_chunks is None else min(inline_chunks, step_chunks)):
        write_results(Storage(clients), job)
        return _finish(store, clients, job)
    claimed = store.claim_result_steps(job.tenant, job.jobId)
    if claimed is None:
        return store.get(job.tenant, job.jobId) or job
    ResultSteps(clients).send(ResultStepMessage(tenant=job.tenant, jobId=job.jobId, step=0))
    logger.info("result files to be written in steps", extra={"chunks": chunks, "stepChunks": step_chunks})
    return claimed


def write_result_step(clients: Clients, message: ResultStepMessage) -> str:
    """Handles a continuation: writes the next step of a job's result files if it is the one the job expects."""
    store = announced_jobs(clients)
    job = store.get(message.tenant, message.jobId)
    if job is None:
        return "no-job"
    if job.finished:
        return "finished"
    if job.resultStep != message.step:
        return "stale-step"  # delivered again after it ran
    steps = ResultSteps(clients)
    state = ResultAssembly(step=0, stepChunks=clients.settings.result_step_chunks) if message.step == 0 else \
        steps.load(job.tenant, job.jobId, message.step)
    if state is None:
        raise RuntimeError(f"the state of result step {message.step} is missing")  # written before the job moved on
    following = result_step(Storage(clients), job, state)
    if following is not None:
        steps.save(job.tenant, job.jobId, following)
        if store.advance_result_step(job.tenant, job.jobId, message.step, following.chunk):
            steps.send(ResultStepMessage(tenant=job.tenant, jobId=job.jobId, step=following.step))
        return "continued"
    finished = _finish(store, clients, job)
    steps.discard(job.tenant, job.jobId)
    return finished.status.value


def _finish(store: JobStore, clients: Clients, job: Job) -> Job:
    """Sets the final status of a job whose result files are written. The status may move meanwhile (a cancel
    request): then decided again on the new one."""
    for _ in range(3):  # Processing -> Canceling is the only move left to an unfinished settled job
        finished = _finish_as(store, clients, job)
        if finished is not None:
            return finished
        latest = store.get(job.tenant, job.jobId)
        if latest is None or latest.finished:
            return latest or job
        job = latest
    return job


def _finish_as(store: JobStore, clients: Clients, job: Job) -> Job | None:
    counts = job.counts
    crossed = job.threshold_crossed() if job.mode == "commit" else None
    if job.status == Status.PROCESSING and crossed:
        return store.finish(job, Status.FAILED, _threshold_reason(crossed, job), {Status.PROCESSING})
    if job.status == Status.CANCELING and job.thresholdCrossed:
        return store.finish(job, Status.FAILED, _threshold_reason(job.thresholdCrossed, job), {Status.CANCELING})
    if job.status == Status.PROCESSING and counts.dead:
        reason = (f"{counts.dead} rows could not be processed: their chunks failed repeatedly and went to the "
                  f"dead-letter queue (they are in the unprocessed result file); {counts.processed} rows were "
                  "processed")
        return store.finish(job, Status.FAILED, reason, {Status.PROCESSING})
    if job.status == Status.PROCESSING and job.operation == "purge" and job.mode == "commit" and \
            (kept := finish_purge(clients, job)):
        return store.finish(job, Status.FAILED, kept, {Status.PROCESSING})
    if job.status == Status.PROCESSING:
        return store.finish(job, Status.COMPLETED, None, {Status.PROCESSING})
    if job.status == Status.CANCELING:
        reason = (f"canceled on request: {counts.processed} rows were processed and stay applied, "
                  f"{counts.unprocessed} rows were not processed")
        return store.finish(job, Status.CANCELED, reason, {Status.CANCELING})
    return None


def _threshold_reason(crossed: str, job: Job) -> str:
    counts = job.counts
    return (f"stopped: {crossed}. {counts.failed} rows failed, {counts.created + counts.updated + counts.unchanged} "
            f"succeeded (and stay applied), {counts.unprocessed} were not processed, of the {job.total} rows read")
