"""Where a sliced ingest keeps what the next slice needs: the state (S3, under ingest/), the duplicate-key
registry file beside it, and the continuation message on the IngestQueue."""

from __future__ import annotations

import contextlib
from pathlib import Path

from sluice.models.slices import SliceMessage, SliceState
from sluice.store.blobs import Storage, slice_state_key
from sluice.store.clients import Clients


class SliceStore:
    def __init__(self, clients: Clients) -> None:
        self._storage = Storage(clients)
        self._sqs = clients.sqs
        self._queue_url = clients.settings.ingest_queue_url

    def save(self, tenant: str, job_id: str, state: SliceState, registry: Path | None) -> None:
        """Stores the state (and registry) slice `state.slice` starts from; written once, read by each delivery."""
        if registry is not None:
            self._storage.s3.upload_file(str(registry), self._storage.bucket,
                                         slice_state_key(tenant, job_id, state.run, state.slice, "keys"))
        self._storage.put(slice_state_key(tenant, job_id, state.run, state.slice), state.to_bytes(),
                          "application/json")

    def load(self, tenant: str, job_id: str, run: int, number: int) -> SliceState | None:
        try:
            body = self._storage.open(slice_state_key(tenant, job_id, run, number)).read()
        except self._storage.s3.exceptions.NoSuchKey:
            return None
        return SliceState.from_bytes(body)

    def fetch_registry(self, tenant: str, job_id: str, run: int, number: int, path: Path) -> None:
        self._storage.s3.download_file(self._storage.bucket, slice_state_key(tenant, job_id, run, number, "keys"),
                                       str(path))

    def discard(self, tenant: str, job_id: str, run: int, number: int) -> None:
        """Removes a slice's state once the slice after it has taken over (expiry catches what this misses)."""
        for part in ("state", "keys"):
            with contextlib.suppress(Exception):  # best effort: the lifecycle rule expires ingest/ anyway
                self._storage.s3.delete_object(Bucket=self._storage.bucket,
                                               Key=slice_state_key(tenant, job_id, run, number, part))

    def send(self, message: SliceMessage) -> None:
        if not self._queue_url:
            raise RuntimeError("INGEST_QUEUE_URL is not set: a sliced ingest cannot hand on its next slice")
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=message.to_body())
