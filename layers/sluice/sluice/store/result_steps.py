"""Where the chain writing a big job's result files keeps what the next step needs: each step's state and the
result files' segments (S3, under ingest/), and the continuation message on the IngestQueue."""

from __future__ import annotations

import contextlib

from sluice.models.results import ResultAssembly, ResultStepMessage
from sluice.store.blobs import Storage, result_step_key
from sluice.store.clients import Clients


class ResultSteps:
    def __init__(self, clients: Clients) -> None:
        self._storage = Storage(clients)
        self._sqs = clients.sqs
        self._queue_url = clients.settings.ingest_queue_url

    def save(self, tenant: str, job_id: str, state: ResultAssembly) -> None:
        """Stores the state step `state.step` starts from: written before the job moves on to that step."""
        self._storage.put(result_step_key(tenant, job_id, f"{state.step:08d}-state.json"), state.to_bytes(),
                          "application/json")

    def load(self, tenant: str, job_id: str, step: int) -> ResultAssembly | None:
        try:
            body = self._storage.open(result_step_key(tenant, job_id, f"{step:08d}-state.json")).read()
        except self._storage.s3.exceptions.NoSuchKey:
            return None
        return ResultAssembly.from_bytes(body)

    def send(self, message: ResultStepMessage) -> None:
        if not self._queue_url:
            raise RuntimeError("INGEST_QUEUE_URL is not set: a job's result files cannot be written in steps")
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=message.to_body())

    def discard(self, tenant: str, job_id: str) -> None:
        """Removes the chain's states and segments once the result files are whole (expiry catches what this
        misses)."""
        with contextlib.suppress(Exception):  # best effort: the lifecycle rule expires ingest/ anyway
            self._storage.delete_under(result_step_key(tenant, job_id, ""))
