"""Runtime settings, read once from the environment the template sets. A malformed value is an error when
the settings are first read (a function's start), never a silent default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(RuntimeError):
    pass


class Settings(BaseModel):
    """Each field's alias is the environment variable that sets it (template.yaml, Globals and functions)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    jobs_table: str = Field("JobsTable", alias="JOBS_TABLE", min_length=1)
    records_table: str = Field("RecordsTable", alias="RECORDS_TABLE", min_length=1)
    bucket: str = Field("sluice-data", alias="DATA_BUCKET", min_length=1)
    chunk_queue_url: str = Field("", alias="CHUNK_QUEUE_URL")
    quick_chunk_queue_url: str = Field("", alias="QUICK_CHUNK_QUEUE_URL")  # small jobs' lane (empty: none)
    quick_job_bytes: int = Field(256 * 1024, alias="QUICK_JOB_BYTES", ge=0)  # a job this small takes that lane
    rows_per_chunk: int = Field(1000, alias="ROWS_PER_CHUNK", ge=1, le=10_000)
    ingest_queue_url: str = Field("", alias="INGEST_QUEUE_URL")  # sliced ingest hands on its next slice here
    # text one ingest invocation reads before it hands the rest of the file to the next (template IngestSliceBytes)
    ingest_slice_bytes: int = Field(512 * 1024 * 1024, alias="INGEST_SLICE_BYTES", ge=4096)
    # chunks whose result parts one invocation writes into the result files: a job of more has them written by a
    # chain of steps (template ResultStepChunks)
    result_step_chunks: int = Field(5_000, alias="RESULT_STEP_CHUNKS", ge=1)
    chunk_max_bytes: int = Field(240_000, alias="CHUNK_MAX_BYTES", ge=1_000, le=262_144)
    retention_days: int = Field(30, alias="RETENTION_DAYS", ge=1, le=3650)
    record_shards: int = Field(8, alias="RECORD_SHARDS", ge=1, le=99)
    inline_body_max: int = Field(4 * 1024 * 1024, alias="INLINE_BODY_MAX", ge=1)
    # upload links outlive a revoked key by at most this long (an upload after revocation ends the job Rejected)
    upload_url_seconds: int = Field(900, alias="UPLOAD_URL_SECONDS", ge=60, le=900)
    result_url_seconds: int = Field(3600, alias="RESULT_URL_SECONDS", ge=60, le=7 * 86_400)
    chunk_dlq_url: str = Field("", alias="CHUNK_DLQ_URL")
    ingest_dlq_url: str = Field("", alias="INGEST_DLQ_URL")
    stuck_minutes: int = Field(30, alias="STUCK_MINUTES", ge=1)
    open_job_hours: int = Field(24, alias="OPEN_JOB_HOURS", ge=1)
    export_queue_url: str = Field("", alias="EXPORT_QUEUE_URL")
    export_part_rows: int = Field(1_000_000, alias="EXPORT_PART_ROWS", ge=1)
    event_bus: str = Field("default", alias="EVENT_BUS_NAME", min_length=1)
    sender_email: str = Field("", alias="SENDER_EMAIL")
    link_secret_arn: str = Field("", alias="LINK_SECRET_ARN")
    public_api_url: str = Field("", alias="PUBLIC_API_URL")
    key_rate_limit: int = Field(50, alias="KEY_RATE_LIMIT", ge=0)
    webhook_queue_url: str = Field("", alias="WEBHOOK_QUEUE_URL")
    # local stack only (sluice_local sets them; the template never does): endpoints on 127.0.0.1 / ::1 over
    # plain HTTP, and the retry schedule run this many times faster
    webhooks_allow_loopback: bool = Field(False, alias="SLUICE_WEBHOOKS_ALLOW_LOOPBACK")
    webhook_retry_speedup: float = Field(1.0, alias="SLUICE_WEBHOOK_RETRY_SPEEDUP", ge=1, le=1_000_000)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        names = {field.alias for field in cls.model_fields.values()}
        try:
            return cls.model_validate({name: value for name, value in env.items() if name in names})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}={e.get('input')!r}: {e['msg']}"
                                 for e in exc.errors())
            raise ConfigError(f"invalid settings: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env(os.environ)
