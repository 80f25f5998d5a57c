"""The seed front doors (API.md, "Seed-compatible endpoints"): each seed's documented requests, served at the
seed's own path in its own wire format, as thin translators over the calls `/v1` makes. One module per seed:

  learningbuilder       000  POST /API/WorkflowImportQueue/CreateBatch
  haplo                 001  POST /api/haplo-data-import-batch/{control,batch,file,schedule}
  set_attribute_values  002  POST /API/WorkflowInstance/SetAttributeValues
  liquid                003  POST /ls/api/batch/{import,status,export}
  teamtracks            004  POST /objectimport/{trackId}, GET /job/{jobId}

`common` holds what they share: errors in the seed's own style (never the /v1 error shape), form fields from
whatever body a seed client sends, and item types by name or alias."""
