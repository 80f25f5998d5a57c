"""The seed doors in the OpenAPI document: one tag per seed, each operation with the seed's own request and
answer shapes and its own error shape (plain text for 001)."""

from __future__ import annotations

from typing import Any

from sluice.models.job import Status

JSON = "application/json"
TEXT = "text/plain"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
STATUSES = [s.value for s in Status]
_ERRORS = {"400": "bad input, named", "401": "no valid API key", "403": "the key lacks the permission",
           "404": "not found (also another tenant's)", "409": "conflicts with the current state", "413": "too large",
           "429": "too many requests for this key (see Retry-After)", "503": "AWS busy after retries (see Retry-After)"}
TAGS = [
    {"name": "000 LearningBuilder Workflow Import Queue",
     "description": "Seed 000: a JSON Lines batch into the import queue (`Authorization: apikey <key>`; "
                    "permission BeginWorkflowImportProcess or imports:write)."},
    {"name": "001 Haplo batch import",
     "description": "Seed 001: control file, batch, files, schedule; plain-text answers and errors "
                    "(`curl --user haplo:$KEY`)."},
    {"name": "002 LearningBuilder SetAttributeValues",
     "description": "Seed 002: set attributes of records by entity type, instance id and attribute id "
                    "(`Authorization: apikey <key>`; permission SetAttributeValues or records:write)."},
    {"name": "003 Liquid Decisions batch",
     "description": "Seed 003: batch import, status and export with the Batch Status Response "
                    "(`Authorization: Bearer <key>`)."},
    {"name": "004 TeamTracks object import",
     "description": "Seed 004: import a spreadsheet into a track, then poll the job "
                    "(`Authorization: Bearer <key>`, optional `tenant` and `Ocp-Apim-Subscription-Key`)."},
]
SECURITY_SCHEMES = {
    "apikeyHeader": {"type": "apiKey", "in": "header", "name": "Authorization",
                     "description": "`Authorization: apikey <API key>` (LearningBuilder's form)"},
    "basicAuth": {"type": "http", "scheme": "basic", "description": "any user name, the API key as the password"},
    "subscriptionKey": {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key",
                        "description": "the API key, when no Authorization header carries it (TeamTracks' clients)"},
}
_ANY_KEY: list[dict[str, list[str]]] = [{"apiKey": []}, {"apikeyHeader": []}, {"basicAuth": []}]


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or []}


STRING = {"type": "string"}
NULLABLE = {"type": ["string", "null"]}
LB_ERROR = _obj({"Message": STRING}, ["Message"])
LIQUID_ERROR = _obj({"status": {"type": "string"}, "jobId": {"type": "null"}, "reason": STRING}, ["reason"])
TEAMTRACKS_ERROR = _obj({"statusCode": {"type": "integer"}, "message": STRING}, ["statusCode", "message"])
BATCH_STATUS = _obj({
    "submitTime": {**NULLABLE, "description": "as 2015-05-26T13:35:25+0000"}, "jobId": STRING,
    "notificationEmail": NULLABLE, "jobName": NULLABLE, "contentType": NULLABLE, "itemType": NULLABLE,
    "recordsProcessed": {"type": "string", "pattern": "^[0-9]+$"}, "runTime": {"type": "string", "pattern": "^[0-9]+$"},
    "status": {"type": "string", "enum": STATUSES}, "reason": STRING,
    "links": {"type": "array", "items": STRING, "description": "an export's download links, once Completed"},
}, ["submitTime", "jobId", "notificationEmail", "jobName", "contentType", "itemType", "recordsProcessed", "runTime",
    "status", "reason"])
COUNTERS = ("successfullyCreated", "failedToCreate", "successfullyUpdated", "unchanged", "failedToUpdate")
TEAMTRACKS_JOB = _obj({
    "finished": {"type": "boolean"}, "dateFinished": {"type": "integer", "description": "epoch ms; 0 until finished"},
    **{name: {"type": "integer", "minimum": 0} for name in COUNTERS},
    "objectsCreated": {"type": "array", "items": STRING}, "errors": {"type": "array", "items": {"type": "object"}},
}, ["finished", "dateFinished", *COUNTERS])
ATTRIBUTE_VALUES = {"type": "array", "items": _obj({
    "entityTypeAbbr": {"type": ["string", "integer"]}, "wfiId": {"type": ["string", "integer"]},
    "values": {"type": "array", "items": _obj({"attrDefId": {"type": ["integer", "string"]}, "val": {}},
                                              ["attrDefId"])}}, ["entityTypeAbbr", "wfiId", "values"])}
ATTRIBUTE_RESULT = _obj({"successCount": {"type": "integer"}, "errorCount": {"type": "integer"},
                         "errors": {"type": "array", "items": _obj({
                             "entityTypeAbbr": {}, "wfiId": {}, "error": STRING,
                             "values": {"type": "array", "items": _obj({"attrDefId": {}, "val": {}, "error": STRING},
                                                                       ["attrDefId"])}},
                             ["entityTypeAbbr", "wfiId", "values"])}}, ["successCount", "errorCount", "errors"])


def _content(media: str, schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


def _operation(tag: str, summary: str, ok: dict[str, Any], error: tuple[str, dict[str, Any]], *,
               body: dict[str, Any] | None = None, parameters: list[dict[str, Any]] | None = None,
               security: list[dict[str, list[str]]] | None = None) -> dict[str, Any]:
    media, schema = error
    operation: dict[str, Any] = {
        "tags": [tag], "summary": summary, "parameters": parameters or [],
        "responses": {"200": ok, **{status: _content(media, schema, text) for status, text in _ERRORS.items()}},
        "security": security or _ANY_KEY,
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    return operation


def _query(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": STRING}


def _form(media: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {media: {"schema": _obj(properties, required)}}


BINARY = {"type": "string", "format": "binary"}


def paths() -> dict[str, Any]:
    lb, haplo, sav, liquid, tt = (tag["name"] for tag in TAGS)
    lb_error, text_error = (JSON, LB_ERROR), (TEXT, STRING)
    text_ok = _content(TEXT, STRING)
    liquid_ok = _content(JSON, BATCH_STATUS, "the Batch Status Response")
    haplo_base = "/api/haplo-data-import-batch"
    return {
        "/API/WorkflowImportQueue/CreateBatch": {"post": _operation(
            lb, "Queue a batch of JSON Lines rows for an import process (item type)",
            _content(JSON, _obj({"queueBatchId": STRING, "queueBatchDetails": STRING},
                                ["queueBatchId", "queueBatchDetails"])), lb_error,
            parameters=[_query("importProcessId", "the item type (name or alias)", required=True),
                        _query("fileName", "the job's name"),
                        _query("creationPath", "1-15 of A-Z 0-9 _; stored as IMPORT_QUEUE_API:<value>"),
                        _query("sendSuccessEmailTo", "mailed when the job completes with no failed row"),
                        _query("sendFailureEmailTo", "mailed when a row failed or the job did not complete")],
            # JSON Lines whatever the Content-Type says (curl --data-binary sends a form's)
            body={"application/x-ndjson": {"schema": STRING}, TEXT: {"schema": STRING}})},
        f"{haplo_base}/control": {"post": _operation(
            haplo, "Upload a control file; answers its digest", text_ok, text_error,
            body=_form(MULTIPART, {"comment": STRING, "file": BINARY}, ["file"]))},
        f"{haplo_base}/batch": {"post": _operation(
            haplo, "Create a batch for a control file; answers the batch id", text_ok, text_error,
            body=_form(FORM, {"comment": STRING, "control": STRING}, ["control"]))},
        f"{haplo_base}/file": {"post": _operation(
            haplo, "Upload a file the control file declares; answers its digest", text_ok, text_error,
            body=_form(MULTIPART, {"batch": STRING, "name": STRING, "file": BINARY}, ["batch", "name", "file"]))},
        f"{haplo_base}/schedule": {"post": _operation(
            haplo, "Schedule the batch (mode=dry-run: validate only); answers SCHEDULED", text_ok, text_error,
            body=_form(FORM, {"batch": STRING, "mode": {"type": "string", "enum": ["dry-run"]}}, ["batch"]))},
        "/API/WorkflowInstance/SetAttributeValues": {"post": _operation(
            sav, "Set attribute values of records", _content(JSON, ATTRIBUTE_RESULT), lb_error,
            body={JSON: {"schema": ATTRIBUTE_VALUES}})},
        "/ls/api/batch/import": {"post": _operation(
            liquid, "Import a JSON or CSV file", liquid_ok, (JSON, LIQUID_ERROR),
            body=_form(MULTIPART, {"file": BINARY, "jobName": STRING, "itemType": STRING, "template": STRING,
                                   "merge": STRING, "contentType": STRING, "notificationEmail": STRING},
                       ["file", "itemType"]))},
        "/ls/api/batch/status": {"post": _operation(
            liquid, "The status of an import or export job", liquid_ok, (JSON, LIQUID_ERROR),
            body=_form(FORM, {"jobId": STRING}, ["jobId"]))},
        "/ls/api/batch/export": {"post": _operation(
            liquid, "Export records as CSV or JSON", liquid_ok, (JSON, LIQUID_ERROR),
            body=_form(FORM, {name: STRING for name in ("jobName", "notificationEmail", "itemType", "contentType",
                                                        "rowHeader", "template", "sqlQuery", "filters")},
                       ["itemType"]))},
        "/objectimport/{trackId}": {"parameters": [_path("trackId", "the track (item type name or alias)")],
                                    "post": _operation(
            tt, "Import an xlsx, xls or csv file into a track", _content(JSON, _obj({"jobId": STRING}, ["jobId"])),
            (JSON, TEAMTRACKS_ERROR), body=_form(MULTIPART, {"file": BINARY}, ["file"]),
            parameters=[_TENANT], security=[*_ANY_KEY, {"subscriptionKey": []}])},
        "/job/{jobId}": {"parameters": [_path("jobId", "the jobId objectimport answered")], "get": _operation(
            tt, "The status of an import job", _content(JSON, TEAMTRACKS_JOB), (JSON, TEAMTRACKS_ERROR),
            parameters=[_TENANT], security=[*_ANY_KEY, {"subscriptionKey": []}])},
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}


_TENANT = {"name": "tenant", "in": "header", "required": False, "schema": STRING,
           "description": "if sent, the key's tenant (another tenant: 404)"}
