"""Deny by default: every route the API registers is called with a key holding each single permission.
A route missing from ALLOWED fails the test, so a new route cannot ship without a declared permission."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sluice.models.principal import GENERAL_PERMISSIONS, PERMISSIONS
from tests.harness import Harness
from tests.receiver import acme_webhook_ids

PUBLIC = {"GET /v1/health", "GET /v1/openapi.json", "GET /v1/export-links/<token>", "GET /v1/docs", "GET /console",
          "GET /console/", "GET /console/.+"}
READ_SCHEMAS = {"schemas:write", "imports:read", "imports:write"}
ALLOWED = {
    "GET /v1/item-types": READ_SCHEMAS,
    "GET /v1/item-types/<item_type>": READ_SCHEMAS,
    "PUT /v1/item-types/<item_type>": {"schemas:write"},
    "DELETE /v1/item-types/<item_type>": {"schemas:write"},
    "GET /v1/item-types/<item_type>/mappings": READ_SCHEMAS,
    "GET /v1/item-types/<item_type>/mappings/<name>": READ_SCHEMAS,
    "PUT /v1/item-types/<item_type>/mappings/<name>": {"schemas:write"},
    "DELETE /v1/item-types/<item_type>/mappings/<name>": {"schemas:write"},
    "POST /v1/jobs": {"imports:write"},
    "GET /v1/jobs": {"imports:read"},
    "GET /v1/jobs/<job_id>": {"imports:read"},
    "GET /v1/jobs/<job_id>/errors": {"imports:read"},
    "GET /v1/jobs/<job_id>/results/<kind>": {"imports:read"},
    "POST /v1/jobs/<job_id>/cancel": {"imports:write"},
    "POST /v1/jobs/<job_id>/files": {"imports:write"},
    "POST /v1/jobs/<job_id>/schedule": {"imports:write"},
    "POST /v1/jobs/<job_id>/upload/complete": {"imports:write"},
    "POST /v1/jobs/<job_id>/commit": {"imports:write"},
    "POST /v1/jobs/<job_id>/retry-failed": {"imports:write"},
    "POST /v1/jobs/<job_id>/revert": {"imports:write"},
    "POST /v1/controls": {"imports:write"},
    "POST /v1/exports": {"exports:write"},
    "GET /v1/exports": {"exports:read"},
    "GET /v1/exports/<export_id>": {"exports:read"},
    "POST /v1/attribute-updates": {"records:write"},
    "GET /v1/records/<item_type>": {"records:read"},
    "GET /v1/records/<item_type>/<key>": {"records:read"},
    "DELETE /v1/records/<item_type>/<key>": {"records:write"},
    "GET /v1/audit": {"keys:admin"},
    "POST /v1/api-keys": {"keys:admin"},
    "GET /v1/api-keys": {"keys:admin"},
    "DELETE /v1/api-keys/<key_id>": {"keys:admin"},
    "POST /v1/webhooks": {"webhooks:admin"},
    "GET /v1/webhooks": {"webhooks:admin"},
    "GET /v1/webhooks/<webhook_id>": {"webhooks:admin"},
    "PATCH /v1/webhooks/<webhook_id>": {"webhooks:admin"},
    "DELETE /v1/webhooks/<webhook_id>": {"webhooks:admin"},
    "POST /v1/webhooks/<webhook_id>/rotate-secret": {"webhooks:admin"},
    "GET /v1/webhooks/<webhook_id>/deliveries": {"webhooks:admin"},
    "POST /v1/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver": {"webhooks:admin"},
    "GET /v1/whoami": set(GENERAL_PERMISSIONS),  # a key of seed permissions only opens its seed route, nothing else
    # the seed front doors (API.md, "Seed-compatible endpoints")
    "POST /API/WorkflowImportQueue/CreateBatch": {"BeginWorkflowImportProcess", "imports:write"},
    "POST /api/haplo-data-import-batch/control": {"imports:write"},
    "POST /api/haplo-data-import-batch/batch": {"imports:write"},
    "POST /api/haplo-data-import-batch/file": {"imports:write"},
    "POST /api/haplo-data-import-batch/schedule": {"imports:write"},
    "POST /API/WorkflowInstance/SetAttributeValues": {"SetAttributeValues", "records:write"},
    "POST /ls/api/batch/import": {"imports:write"},
    "POST /ls/api/batch/status": {"imports:read", "exports:read"},
    "POST /ls/api/batch/export": {"exports:write"},
    "POST /objectimport/<track_id>": {"imports:write"},
    "GET /job/<job_id>": {"imports:read"},
}
SOME_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
SAMPLE = {"<item_type>": "contact", "<job_id>": SOME_ID, "<export_id>": SOME_ID, "<kind>": "failed",
          "<key>": "a%40x.org", "<key_id>": "0123456789abcdef", "<token>": "x.y", "<track_id>": "contact"}

SAMPLE.update({"<webhook_id>": f"wh_{SOME_ID}", "<delivery_id>": "dlv_" + "A" * 24})


def _routes() -> list[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("api_routes", Path(__file__).parents[2] / "functions/api/app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app
    return [(route.method, route.path) for route in app._static_routes + app._dynamic_routes]


def _path(path: str) -> str:
    for placeholder, value in SAMPLE.items():
        path = path.replace(placeholder, value)
    return path


def test_every_route_declares_its_permissions_and_refuses_the_rest(harness: Harness) -> None:
    harness.define()
    routes = _routes()
    assert {f"{m} {p}" for m, p in routes} == set(ALLOWED) | PUBLIC, "a route was added or removed: declare it"
    checked = 0
    for method, path in routes:
        route = f"{method} {path}"
        target = _path(path)
        if route in PUBLIC:
            continue
        anonymous = harness.call(method, target, key="", json_body={})
        assert anonymous.status_code == 401, route
        for permission in sorted(PERMISSIONS - {"*"}):
            reply = harness.call(method, target, key=harness.key(permissions=(permission,)), json_body={})
            refused = reply.status_code in (401, 403)
            assert refused == (permission not in ALLOWED[route]), (route, permission, reply.status_code, reply.content)
            checked += 1
    assert checked == len(ALLOWED) * (len(PERMISSIONS) - 1)


def test_every_route_answers_404_for_another_tenants_ids(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    job = harness.run(harness.submit_csv("email,age\na@x.org,1\nb@x.org,-1\n")["jobId"])
    assert job["counts"]["created"] == 1 and job["counts"]["failed"] == 1
    export = harness.call("POST", "/v1/exports", json_body={"itemType": "contact"}).json()
    harness.pump()
    acme_key = harness.call("POST", "/v1/api-keys", json_body={"name": "k", "permissions": ["imports:read"]}).json()
    harness.define(tenant="globex")
    ids = {"<item_type>": "contact", "<job_id>": job["jobId"], "<export_id>": export["exportId"],
           "<kind>": "failed", "<key>": "a%40x.org", "<key_id>": acme_key["keyId"],
           **acme_webhook_ids(harness, monkeypatch, job["jobId"])}
    bodies = {"POST /v1/jobs/<job_id>/files": {"name": "people.csv"}, "POST /v1/jobs/<job_id>/schedule": {},
              "POST /v1/jobs/<job_id>/upload/complete": {"parts": [{"partNumber": 1, "etag": "x"}]}}
    checked = []
    for method, path in _routes():
        route = f"{method} {path}"
        if route in PUBLIC or "<" not in path or "/item-types/" in path or "/objectimport/" in path:
            # item types (and 004's tracks, which are item types): each tenant its own names
            continue
        target = path
        for placeholder, value in ids.items():
            target = target.replace(placeholder, value)
        reply = harness.call(method, target, tenant="globex", json_body=bodies.get(route, {}))
        if route == "GET /v1/records/<item_type>":  # globex's own (empty) contact records, none of acme's
            assert reply.status_code == 200 and reply.json()["items"] == [], reply.content
        else:
            assert reply.status_code == 404, (route, reply.status_code, reply.content)
        checked.append(route)
    assert len(checked) == 22
    assert harness.job(job["jobId"])["status"] == "Completed"  # and acme's things are untouched
    assert not next(k for k in harness.call("GET", "/v1/api-keys").json()["items"]
                    if k["keyId"] == acme_key["keyId"])["revoked"]
