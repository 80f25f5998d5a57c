"""The listeners that stores call on every status they write: an event for each change, and the
completion email once a job or export finishes. Stages that move jobs along build their stores here."""

from __future__ import annotations

from collections.abc import Callable

from sluice.models.export import Export
from sluice.models.job import Job, Status
from sluice.notify.email import export_email, job_email
from sluice.notify.events import status_changed
from sluice.notify.webhooks import announce_export, announce_job
from sluice.store.clients import Clients
from sluice.store.exports import ExportStore
from sluice.store.jobs import JobStore

EMAIL_ERRORS = 10


class JobAnnouncer:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def changed(self, job: Job) -> None:
        status_changed(self._clients, job)
        announce_job(self._clients, job)

    def finished(self, job: Job) -> None:
        outcome_address = outcome_recipient(job)
        if job.notificationEmail or outcome_address:
            errors, _ = JobStore(self._clients).errors(job.jobId, EMAIL_ERRORS)
            if job.notificationEmail:
                job_email(self._clients, job, errors)
            if outcome_address:
                job_email(self._clients, job, errors, to=outcome_address)


def outcome_recipient(job: Job) -> str | None:
    """Who hears how a finished job went (000's sendSuccessEmailTo / sendFailureEmailTo): success is Completed
    with no failed row; anything else (a failed row, Rejected, Failed, Canceled) is failure."""
    succeeded = job.status == Status.COMPLETED and job.counts.failed == 0
    return job.successEmailTo if succeeded else job.failureEmailTo


class ExportAnnouncer:
    def __init__(self, clients: Clients, download_links: Callable[[Export], list[str]] | None = None) -> None:
        self._clients = clients
        self._download_links = download_links or (lambda _: [])

    def changed(self, export: Export) -> None:
        status_changed(self._clients, export)
        announce_export(self._clients, export, self._download_links)

    def finished(self, export: Export) -> None:
        if export.request.notificationEmail:
            export_email(self._clients, export, self._download_links(export))


def announced_jobs(clients: Clients) -> JobStore:
    """The job store for code that changes a job's status: every change is announced."""
    return JobStore(clients, JobAnnouncer(clients))


def announced_exports(clients: Clients, download_links: Callable[[Export], list[str]] | None = None) -> ExportStore:
    """download_links: the signed links a completed export's email carries."""
    return ExportStore(clients, ExportAnnouncer(clients, download_links))
