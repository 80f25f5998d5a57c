"""The OpenAPI 3.1 document the API serves at GET /v1/openapi.json.

Request bodies come from the same pydantic models the routes validate with; jobs, exports and row errors
from the models that render them (`JobView`, `ExportView`, `RowError`), so the document lists every field
they return. tests/e2e/test_openapi.py runs schemathesis against it on the local
stack (no 5xx, every response matching its schema) and tests/unit checks that it lists every route."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from sluice.api.bodies import (
    CompleteUploadRequest,
    KeyRequest,
    MappingRequest,
    ScheduleRequest,
    StagedFileLinkRequest,
    StagedJobRequest,
    UploadRequest,
)
from sluice.api.doors import openapi as doors
from sluice.models.export import ExportRequest, ExportView
from sluice.models.job import JobOptions, JobView
from sluice.models.schemas import ItemTypeDefinition, RowError
from sluice.models.webhook import DeliveryAttempt, WebhookPatch, WebhookRequest, WebhookSecretView, WebhookView
from sluice.pipeline.attribute_updates import UpdateEntry

JSON = "application/json"
_ERROR_STATUSES = {"400": "bad request", "401": "no valid API key", "403": "the key lacks the permission",
                   "404": "not found", "409": "conflicts with the current state", "413": "too large",
                   "415": "unsupported media type", "429": "too many requests for this key (see Retry-After)",
                   "503": "AWS busy after retries (see Retry-After)"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": item},
                           "nextCursor": {"type": ["string", "null"]}}}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size")
CURSOR = _query("cursor", {"type": "string"}, "nextCursor of the previous page")
JOB_ID = _path("jobId", "a job id (26 characters)")
ITEM_TYPE = _path("itemType", "an item type name")
FILE_FORM = {"type": "object", "required": ["file"],
             "properties": {"file": {"type": "string", "format": "binary"}, "itemType": {"type": "string"},
                            "merge": {"type": "string", "enum": ["true", "false"]},
                            "jobName": {"type": "string"}, "name": {"type": "string"},
                            "operation": {"type": "string", "enum": ["import", "delete"]},
                            "revertible": {"type": "string", "enum": ["true", "false"]},
                            "dedupe": {"type": "string", "enum": ["content"]}}}


def _operation(summary: str, responses: dict[str, Any], *, parameters: list[dict[str, Any]] | None = None,
               body: dict[str, Any] | None = None, public: bool = False) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "parameters": parameters or [], "responses": {
        **responses, **{status: {"description": text, "content": {JSON: {"schema": _ref("Error")}}}
                        for status, text in _ERROR_STATUSES.items() if status not in responses}}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    if public:
        operation["security"] = []
    return operation


def _components() -> dict[str, Any]:
    _, top = models_json_schema(
        [(ItemTypeDefinition, "validation"), (JobOptions, "validation"), (ExportRequest, "validation"),
         (UpdateEntry, "validation"), (StagedJobRequest, "validation"), (StagedFileLinkRequest, "validation"),
         (ScheduleRequest, "validation"), (KeyRequest, "validation"), (MappingRequest, "validation"),
         (UploadRequest, "validation"), (CompleteUploadRequest, "validation"),
         (WebhookRequest, "validation"), (WebhookPatch, "validation"), (WebhookView, "serialization"),
         (WebhookSecretView, "serialization"), (DeliveryAttempt, "serialization"),
         (JobView, "serialization"), (ExportView, "serialization"), (RowError, "serialization")],
        ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
    schemas["WhoAmI"] = {"type": "object", "required": ["tenant", "keyId", "name", "permissions"],
                         "properties": {"tenant": {"type": "string"}, "keyId": {"type": "string"},
                                        "name": {"type": ["string", "null"]},
                                        "permissions": {"type": "array", "items": {"type": "string"}}}}
    schemas["ItemType"] = {"type": "object", "required": ["itemType", "fields", "version"],
                           "properties": {"itemType": {"type": "string"}, "fields": {"type": "object"},
                                          "version": {"type": "integer"}}}
    schemas["Record"] = {"type": "object", "required": ["itemType", "key", "attributes", "version"],
                         "properties": {"itemType": {"type": "string"}, "key": {"type": "string"},
                                        "attributes": {"type": "object"}, "version": {"type": "integer"}}}
    schemas["AuditEntry"] = {
        "type": "object", "required": ["at", "keyId", "action", "target", "sourceIp"],
        "properties": {"at": {"type": "string"}, "keyId": {"type": "string"},
                       "action": {"type": "string", "description": "record.delete, records.deleteJob, itemType.delete, "
                                  "itemType.purge, itemType.rekey, job.revert, apiKey.create, apiKey.revoke, "
                                  "webhook.create, webhook.update, webhook.delete, webhook.rotateSecret"},
                       "target": {"type": "string"}, "sourceIp": {"type": ["string", "null"]},
                       "details": {"type": "object"}}}
    schemas["ApiKey"] = {"type": "object", "required": ["keyId", "permissions", "revoked"],
                         "properties": {"keyId": {"type": "string"}, "name": {"type": ["string", "null"]},
                                        "permissions": {"type": "array", "items": {"type": "string"}},
                                        "revoked": {"type": "boolean"}, "key": {"type": "string"}}}
    return schemas


def _webhook_paths() -> dict[str, Any]:
    webhook = _path("webhookId", "a webhook id (wh_...)")
    view = _json(_ref("WebhookView"))
    with_secret = _json(_ref("WebhookSecretView"))
    return {
        "/v1/webhooks": {
            "get": _operation("List webhook endpoints", {"200": _json(_page(_ref("WebhookView")))}),
            "post": _operation("Register an endpoint (the signing secret is shown once)", {"201": with_secret},
                               body={JSON: {"schema": _ref("WebhookRequest")}}),
        },
        "/v1/webhooks/{webhookId}": {
            "parameters": [webhook],
            "get": _operation("Get an endpoint", {"200": view}),
            "patch": _operation("Change an endpoint (enabled: true turns a disabled one back on)", {"200": view},
                                body={JSON: {"schema": _ref("WebhookPatch")}}),
            "delete": _operation("Remove an endpoint", {"200": _json(
                {"type": "object", "required": ["webhookId", "deleted"]})}),
        },
        "/v1/webhooks/{webhookId}/rotate-secret": {"parameters": [webhook], "post": _operation(
            "A new signing secret (shown once); the old one still signs for 24 hours", {"200": with_secret})},
        "/v1/webhooks/{webhookId}/deliveries": {"parameters": [webhook], "get": _operation(
            "The delivery log: every attempt, newest first", {"200": _json(_page(_ref("DeliveryAttempt")))},
            parameters=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"), CURSOR])},
        "/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver": {
            "parameters": [webhook, _path("deliveryId", "a delivery id (dlv_...)")],
            "post": _operation("Attempt a delivery once more, now", {"202": _json(
                {"type": "object", "required": ["deliveryId", "eventId", "attempt"]})})},
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    job = _json(_ref("JobView"))
    paths: dict[str, Any] = {
        "/v1/health": {"get": _operation("Liveness", {"200": _json({"type": "object"})}, public=True)},
        "/v1/openapi.json": {"get": _operation("This document", {"200": _json({"type": "object"})}, public=True)},
        "/v1/docs": {"get": _operation("Swagger UI over this document", {"200": {
            "description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}}, public=True)},
        "/v1/whoami": {"get": _operation("The calling key: its tenant and permissions",
                                         {"200": _json(_ref("WhoAmI"))})},
        "/v1/item-types": {"get": _operation("List item types", {"200": _json(_page(_ref("ItemType")))})},
        "/v1/item-types/{itemType}": {
            "parameters": [ITEM_TYPE],
            "get": _operation("Get an item type", {"200": _json(_ref("ItemType"))}),
            "put": _operation("Create or replace an item type (changing the key of one with records: 409)",
                              {"200": _json(_ref("ItemType")), "201": _json(_ref("ItemType"))},
                              body={JSON: {"schema": _ref("ItemTypeDefinition")}}),
            "delete": _operation("Delete an item type without records (204); with records 409, or with ?purge=true "
                                 "202 and a delete job over all of them, after which the item type goes",
                                 {"204": {"description": "deleted"}, "202": job},
                                 parameters=[_query("purge", {"type": "string", "enum": ["true", "false"]})]),
        },
        "/v1/item-types/{itemType}/mappings": {"parameters": [ITEM_TYPE], "get": _operation(
            "An item type's saved column mappings", {"200": _json(_page({"type": "object"}))})},
        "/v1/item-types/{itemType}/mappings/{name}": {
            "parameters": [ITEM_TYPE, _path("name", "a mapping name")],
            "get": _operation("A saved column mapping", {"200": _json({"type": "object"})}),
            "put": _operation("Save a column mapping (source header -> field)", {
                "200": _json({"type": "object"}), "201": _json({"type": "object"})},
                body={JSON: {"schema": _ref("MappingRequest")}}),
            "delete": _operation("Delete a saved mapping", {"204": {"description": "deleted"}}),
        },
        "/v1/jobs": {
            "get": _operation("List jobs", {"200": _json(_page(_ref("JobView")))}, parameters=[
                LIMIT, CURSOR, _query("status", {"type": "string"}), _query("itemType", {"type": "string"}),
                _query("creationPath", {"type": "string"})]),
            "post": _operation(
                "Submit a job: JSON Lines body, multipart file, or JSON for an upload URL (with parts: a multipart "
                "upload) / a staged job",
                {"201": job, "202": job},
                parameters=[_query("itemType", {"type": "string"}, "with a JSON Lines body only (400 with others)"),
                            _query("merge", {"type": "string", "enum": ["true", "false"]}),
                            _query("operation", {"type": "string", "enum": ["import", "delete"]},
                                   "delete: the rows name records to delete (key columns only)")],
                body={JSON: {"schema": {"oneOf": [_ref("UploadRequest"), _ref("StagedJobRequest")]}},
                      "multipart/form-data": {"schema": FILE_FORM},
                      "application/x-ndjson": {"schema": {"type": "string"}}}),
        },
        "/v1/jobs/{jobId}": {"parameters": [JOB_ID], "get": _operation("Get a job", {"200": job})},
        "/v1/jobs/{jobId}/errors": {"parameters": [JOB_ID], "get": _operation(
            "A job's row errors", {"200": _json(_page(_ref("RowError")))}, parameters=[LIMIT, CURSOR])},
        "/v1/jobs/{jobId}/results/{kind}": {
            "parameters": [JOB_ID, _path("kind", "succeeded, failed or unprocessed")],
            "get": _operation("A presigned link to a result file", {"200": _json({
                "type": "object", "required": ["url", "expiresAt"],
                "properties": {"url": {"type": "string"}, "expiresAt": {"type": "string"}}})},
                parameters=[_query("file", {"type": "string"}, "jobs of several files: which one")]),
        },
        "/v1/jobs/{jobId}/cancel": {"parameters": [JOB_ID], "post": _operation("Cancel a job", {"202": job})},
        "/v1/jobs/{jobId}/files": {"parameters": [JOB_ID], "post": _operation(
            "Add a declared file to a staged job (multipart), or ask for its upload URL (JSON)",
            {"200": _json({"type": "object"}), "201": _json({"type": "object"})},
            body={JSON: {"schema": _ref("StagedFileLinkRequest")},
                  "multipart/form-data": {"schema": FILE_FORM}})},
        "/v1/jobs/{jobId}/upload/complete": {"parameters": [JOB_ID], "post": _operation(
            "Complete a job's multipart upload: its parts' ETags, in order (S3 refusing them: 400 with its reason; "
            "again: the same answer; a job waiting for no multipart upload: 409)", {"202": job},
            body={JSON: {"schema": _ref("CompleteUploadRequest")}})},
        "/v1/jobs/{jobId}/schedule": {"parameters": [JOB_ID], "post": _operation(
            "Start a staged job", {"202": job},
            body={JSON: {"schema": _ref("ScheduleRequest")}})},
        "/v1/jobs/{jobId}/commit": {"parameters": [JOB_ID], "post": _operation(
            "Commit a finished dry run", {"202": job})},
        "/v1/jobs/{jobId}/retry-failed": {"parameters": [JOB_ID], "post": _operation(
            "A new job over a finished job's failed rows", {"202": job})},
        "/v1/jobs/{jobId}/revert": {"parameters": [JOB_ID], "post": _operation(
            "Revert a finished job: a job that deletes the records it created and restores those it updated "
            "(a record changed since is a conflict, left as it is); dryRun=true counts without writing",
            {"202": job}, parameters=[_query("dryRun", {"type": "string", "enum": ["true", "false"]})])},
        "/v1/controls": {"post": _operation(
            "Store a control document", {"200": _json({"type": "object", "required": ["digest"]}),
                                         "201": _json({"type": "object", "required": ["digest"]})},
            parameters=[_query("comment", {"type": "string"})],
            body={JSON: {"schema": {"type": "object"}}, "multipart/form-data": {"schema": FILE_FORM}})},
        "/v1/exports": {"get": _operation("List exports, newest first", {"200": _json(_page(_ref("ExportView")))},
                                          parameters=[LIMIT, CURSOR]),
                        "post": _operation("Start an export", {"202": _json(_ref("ExportView"))},
                                           body={JSON: {"schema": _ref("ExportRequest")}})},
        "/v1/exports/{exportId}": {"parameters": [_path("exportId", "an export id")],
                                   "get": _operation("Get an export", {"200": _json(_ref("ExportView"))})},
        "/v1/export-links/{token}": {"parameters": [_path("token", "the signed token of a download link")],
                                     "get": _operation("Follow a download link",
                                                       {"302": {"description": "to a presigned S3 URL"}},
                                                       public=True)},
        "/v1/records/{itemType}": {"parameters": [ITEM_TYPE], "get": _operation(
            "List records in key order", {"200": _json(_page(_ref("Record")))}, parameters=[LIMIT, CURSOR])},
        "/v1/records/{itemType}/{key}": {"parameters": [ITEM_TYPE, _path("key", "a record key")],
                                         "get": _operation("Get a record", {"200": _json(_ref("Record"))}),
                                         "delete": _operation("Delete a record",
                                                              {"204": {"description": "deleted"}})},
        "/v1/audit": {"get": _operation(
            "The audit log, newest first: deletes, purges, reverts, item-type deletes and re-keys, key and webhook "
            "changes", {"200": _json(_page(_ref("AuditEntry")))},
            parameters=[_query("since", {"type": "string"}, "ISO-8601 time: entries at or after it"), LIMIT,
                        CURSOR])},
        "/v1/attribute-updates": {"post": _operation(
            "Set attributes of many records at once", {"200": _json({"type": "object"})},
            body={JSON: {"schema": {"type": "array", "items": _ref("UpdateEntry")}}})},
        "/v1/api-keys": {
            "get": _operation("List API keys", {"200": _json(_page(_ref("ApiKey")))}),
            "post": _operation("Create an API key (the key is shown once)", {"201": _json(_ref("ApiKey"))},
                               body={JSON: {"schema": _ref("KeyRequest")}}),
        },
        "/v1/api-keys/{keyId}": {"parameters": [_path("keyId", "a key id")], "delete": _operation(
            "Revoke an API key", {"200": _json({"type": "object", "required": ["keyId", "revoked"]})})},
    }
    paths.update(_webhook_paths())
    paths.update(doors.paths())  # the seed front doors, one tag per seed
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sluice", "version": "1", "description": "Bulk imports, exports and attribute updates."},
        "paths": paths,
        "components": {"schemas": _components(), "securitySchemes": {
            "apiKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
            **doors.SECURITY_SCHEMES}},
        "tags": doors.TAGS,
        "security": [{"apiKey": []}],
    }
