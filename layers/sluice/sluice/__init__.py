"""Sluice domain package: everything the Lambda handlers call.

Where a row goes, upload to record:
  api.submit (jobs_submit) -> S3 uploads/ -> ingest.run_ingest (readers, columns, dedupe)
  -> ChunkQueue -> worker.process_chunk (schemas validation, records.apply) -> jobs.commit_chunk
  -> finalize.finalize_job (results files, final status).
"""
