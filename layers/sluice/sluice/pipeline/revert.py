"""Starting the jobs that undo: a revert of a finished job, and a purge of an item type (a delete job over all
its records, then the item type itself). Both read no file: ingest takes their record keys from the reverted
job's before-images or from the item type's records (`pipeline/keyed.py`)."""

from __future__ import annotations

from sluice.models.errors import Conflict, NotFound
from sluice.models.filespec import FileSpec
from sluice.models.itemtype import ItemType
from sluice.models.job import Job, Status
from sluice.models.principal import Principal
from sluice.notify.announcer import announced_jobs
from sluice.store.blobs import Storage, marker_key
from sluice.store.clients import Clients
from sluice.store.itemtypes import ItemTypeStore
from sluice.store.jobs import JobStore
from sluice.store.records import RecordStore
from sluice.store.undo import UndoImages


def revert_refusal(clients: Clients, job: Job, dry_run: bool) -> str | None:
    """Why the job cannot be reverted, if it cannot."""
    if job.operation == "revert":
        return (f"job {job.jobId} is itself a revert (of job {job.revertOf}); a revert cannot be reverted: "
                "import the data again instead")
    if job.operation == "purge":
        return f"job {job.jobId} purged item type '{job.itemType}', which was deleted with its records"
    if job.mode == "dry-run":
        return f"job {job.jobId} is a dry run: it wrote nothing, so there is nothing to revert"
    if not job.finished or job.status == Status.REJECTED:
        return f"job {job.jobId} is {job.status.value}; a job can be reverted once it has finished writing"
    if job.counts.created + job.counts.updated + job.counts.deleted == 0:
        return f"job {job.jobId} created, updated and deleted no record: there is nothing to revert"
    if not job.revertible:
        return f"job {job.jobId} was submitted with revertible=false: it kept no before-images"
    if job.revertedBy and not dry_run:
        return f"job {job.jobId} is reverted already, by job {job.revertedBy}"
    for name in dict.fromkeys(spec.itemType for spec in job.fileSpecs):
        if ItemTypeStore(clients).get(job.tenant, name) is None:
            return f"item type '{name}' of job {job.jobId} was deleted since"
    if not UndoImages(clients).chunks(job.tenant, job.jobId):
        return (f"the before-images of job {job.jobId} have expired (they are kept "
                f"{clients.settings.retention_days} days, like its result files)")
    return None


def start_revert(clients: Clients, caller: Principal, job_id: str, dry_run: bool) -> Job:
    """A revert job (or its dry run) of a finished job; 409 with the reason when it cannot be reverted."""
    original = JobStore(clients).get(caller.tenant, job_id)
    if original is None:
        raise NotFound(f"job {job_id} not found")
    refusal = revert_refusal(clients, original, dry_run)
    if refusal:
        raise Conflict(refusal)
    name = f"revert of {original.jobName or job_id}"
    job = Job.begin(tenant=caller.tenant, submitted_by=caller.key_id, status=Status.ACCEPTED, creation_path="API",
                    file_specs=[s.model_copy() for s in original.fileSpecs],
                    retention_days=clients.settings.retention_days,
                    jobName=(name + (" (dry run)" if dry_run else ""))[:200],
                    itemType=original.itemType, itemTypes=original.itemTypes, mode="dry-run" if dry_run else "commit",
                    operation="revert", revertOf=job_id, revertible=False)
    store = announced_jobs(clients)
    store.create(job)
    if not dry_run:
        winner = JobStore(clients).mark_reverted(caller.tenant, job_id, job.jobId)
        if winner != job.jobId:
            reason = f"job {job_id} is reverted already, by job {winner}"
            store.finish(job, Status.REJECTED, reason, {Status.ACCEPTED})
            raise Conflict(reason)
    Storage(clients).put(marker_key(caller.tenant, job.jobId), b"")  # its upload event starts ingest
    return store.get(caller.tenant, job.jobId) or job


def start_purge(clients: Clients, caller: Principal, item_type: ItemType) -> Job:
    """A delete job over every record of the item type; the item type goes once it has finished."""
    job = Job.begin(tenant=caller.tenant, submitted_by=caller.key_id, status=Status.ACCEPTED, creation_path="API",
                    file_specs=[_purge_spec(item_type)], retention_days=clients.settings.retention_days,
                    jobName=f"purge of {item_type.name}", itemType=item_type.name, operation="purge",
                    revertible=False)
    announced_jobs(clients).create(job)
    Storage(clients).put(marker_key(caller.tenant, job.jobId), b"")
    return job


def _purge_spec(item_type: ItemType) -> FileSpec:
    return FileSpec(name="purge", itemType=item_type.name, snapshot=item_type.snapshot(), objectKey="")


def finish_purge(clients: Clients, job: Job) -> str | None:
    """Deletes a purged item type once its records are gone. Returns why it was kept, if it was (records were
    written while the purge ran)."""
    item_type = ItemTypeStore(clients).get(job.tenant, job.itemType or "")
    if item_type is None:
        return None
    if RecordStore(clients).any(item_type):
        return (f"records of '{item_type.name}' were written while the purge ran, so the item type was kept; "
                "purge it again")
    ItemTypeStore(clients).delete(job.tenant, item_type.name)
    return None
