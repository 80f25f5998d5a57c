"""Runtime settings, read once from the environment the template sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    jobs_table: str
    records_table: str
    bucket: str
    chunk_queue_url: str
    rows_per_chunk: int = 1000
    chunk_max_bytes: int = 240_000
    retention_days: int = 30
    record_shards: int = 8
    inline_body_max: int = 4 * 1024 * 1024
    upload_url_seconds: int = 3600
    result_url_seconds: int = 3600
    chunk_dlq_url: str = ""
    ingest_dlq_url: str = ""
    stuck_minutes: int = 30
    open_job_hours: int = 24
    export_queue_url: str = ""
    export_part_rows: int = 1_000_000
    event_bus: str = "default"
    sender_email: str = ""
    link_secret_arn: str = ""
    public_api_url: str = ""
    key_rate_limit: int = 50


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        jobs_table=env.get("JOBS_TABLE", "JobsTable"),
        records_table=env.get("RECORDS_TABLE", "RecordsTable"),
        bucket=env.get("DATA_BUCKET", "sluice-data"),
        chunk_queue_url=env.get("CHUNK_QUEUE_URL", ""),
        rows_per_chunk=int(env.get("ROWS_PER_CHUNK", "1000")),
        chunk_max_bytes=int(env.get("CHUNK_MAX_BYTES", "240000")),
        retention_days=int(env.get("RETENTION_DAYS", "30")),
        record_shards=int(env.get("RECORD_SHARDS", "8")),
        inline_body_max=int(env.get("INLINE_BODY_MAX", str(4 * 1024 * 1024))),
        chunk_dlq_url=env.get("CHUNK_DLQ_URL", ""),
        ingest_dlq_url=env.get("INGEST_DLQ_URL", ""),
        stuck_minutes=int(env.get("STUCK_MINUTES", "30")),
        open_job_hours=int(env.get("OPEN_JOB_HOURS", "24")),
        export_queue_url=env.get("EXPORT_QUEUE_URL", ""),
        export_part_rows=int(env.get("EXPORT_PART_ROWS", "1000000")),
        event_bus=env.get("EVENT_BUS_NAME", "default"),
        sender_email=env.get("SENDER_EMAIL", ""),
        link_secret_arn=env.get("LINK_SECRET_ARN", ""),
        public_api_url=env.get("PUBLIC_API_URL", ""),
        key_rate_limit=int(env.get("KEY_RATE_LIMIT", "50")),
    )
