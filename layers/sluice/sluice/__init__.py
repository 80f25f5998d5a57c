"""Sluice domain package: everything the Lambda handlers call, laid out by stage (imports only run down):

  models/   what things are (Job, Export, schemas, file specs, limits, errors) - pure
  store/    the only code that knows DynamoDB keys, S3 keys, cursors and queue message shapes
  notify/   EventBridge events and emails, told by the stores' listener
  intake/   how data arrives: submit, staged batches, drop folder, schedules, readers
  pipeline/ what happens to rows: ingest, chunks, the worker, finalisation, cancel, sweeper
  exports/  exports, their SQL and signed links
  api/      the HTTP face: routes, request bodies, access rules, OpenAPI

Where a row goes, upload to record:
  api.jobs.create_job -> intake.submit -> S3 uploads/ -> pipeline.ingest (intake.sources, intake.columns,
  pipeline.dedupe, pipeline.chunking) -> ChunkQueue -> pipeline.worker (models.schemas, store.records)
  -> store.jobs.commit_chunk -> pipeline.finalize.settle (result files, final status).
"""
