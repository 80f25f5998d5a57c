"""Keys, permissions, tenant walls, and every kind of bad input answered with a clear 4xx or Rejected job."""

from __future__ import annotations

import io

import pytest

from tests.harness import Harness


def _error(reply) -> tuple[int, str]:
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return reply.status_code, body["error"]["code"]


def test_health_needs_no_key(harness: Harness) -> None:
    reply = harness.call("GET", "/v1/health", key="")
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_missing_or_unknown_key_is_401(harness: Harness, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    reply = harness.call("GET", "/v1/jobs", key="", headers=headers)
    assert _error(reply) == (401, "unauthorized")


def test_apikey_scheme_is_accepted(harness: Harness) -> None:
    key = harness.key()
    reply = harness.call("GET", "/v1/jobs", key="", headers={"Authorization": f"apikey {key}"})
    assert reply.status_code == 200


def test_key_without_permission_is_403(harness: Harness) -> None:
    reader = harness.key(permissions=("imports:read",))
    assert harness.call("GET", "/v1/jobs", key=reader).status_code == 200
    reply = harness.call("POST", "/v1/jobs", key=reader, json_body={"itemType": "contact"})
    assert _error(reply) == (403, "forbidden")
    assert _error(harness.call("GET", "/v1/api-keys", key=reader)) == (403, "forbidden")
    assert _error(harness.call("PUT", "/v1/item-types/x", key=reader, json_body={})) == (403, "forbidden")


def test_keys_are_created_listed_and_revoked_at_once(harness: Harness) -> None:
    created = harness.call("POST", "/v1/api-keys", json_body={"name": "ci", "permissions": ["imports:read"]})
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("sk_") and body["permissions"] == ["imports:read"]
    assert harness.call("GET", "/v1/jobs", key=body["key"]).status_code == 200
    listed = harness.call("GET", "/v1/api-keys").json()["items"]
    assert body["keyId"] in [k["keyId"] for k in listed]
    assert all("key" not in k and "keySha256" not in k for k in listed)
    assert harness.call("GET", "/v1/api-keys", tenant="globex").json()["items"][0]["keyId"] != body["keyId"]
    assert harness.call("DELETE", f"/v1/api-keys/{body['keyId']}", tenant="globex").status_code == 404
    assert harness.call("DELETE", f"/v1/api-keys/{body['keyId']}").status_code == 200
    assert _error(harness.call("GET", "/v1/jobs", key=body["key"])) == (401, "unauthorized")
    bad = harness.call("POST", "/v1/api-keys", json_body={"name": "x", "permissions": ["root"]})
    assert _error(bad) == (400, "bad_request") and "root" in bad.json()["error"]["message"]


def test_request_bodies_are_checked_and_the_400_names_the_field(harness: Harness) -> None:
    long_name = harness.call("POST", "/v1/api-keys", json_body={"name": "n" * 300, "permissions": ["imports:read"]})
    assert _error(long_name) == (400, "invalid_request")
    assert long_name.json()["error"]["message"].startswith("name: String should have at most 100 characters")
    no_permissions = harness.call("POST", "/v1/api-keys", json_body={"name": "x", "permissions": []})
    assert _error(no_permissions) == (400, "invalid_request") and "permissions" in no_permissions.json()["error"][
        "message"]
    not_an_object = harness.call("POST", "/v1/api-keys", json_body=["x"])
    assert _error(not_an_object) == (400, "bad_request")
    bad_control = harness.call("POST", "/v1/jobs", json_body={"control": "not-a-digest"})
    assert _error(bad_control) == (400, "invalid_request") and bad_control.json()["error"]["message"].startswith(
        "control:")
    harness.define()
    job = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "a.csv"}).json()
    bad_mode = harness.call("POST", f"/v1/jobs/{job['jobId']}/schedule", json_body={"mode": 5})
    assert _error(bad_mode) == (400, "invalid_request") and bad_mode.json()["error"]["message"].startswith("mode:")


def test_whoami_tells_a_key_its_tenant_and_permissions(harness: Harness) -> None:
    reader = harness.key(permissions=("imports:read", "records:read"))
    me = harness.call("GET", "/v1/whoami", key=reader)
    assert me.status_code == 200
    assert me.json() == {"tenant": "acme", "keyId": me.json()["keyId"], "name": "acme:imports:read,records:read",
                         "permissions": ["imports:read", "records:read"]}
    assert _error(harness.call("GET", "/v1/whoami", key="sk_nope")) == (401, "unauthorized")


def test_keys_are_stored_only_as_digests(harness: Harness) -> None:
    key = harness.call("POST", "/v1/api-keys", json_body={"name": "x", "permissions": ["*"]}).json()["key"]
    scanned = harness.dynamodb.scan(TableName=harness.clients.settings.jobs_table)["Items"]
    assert key not in str(scanned)


def test_tenants_see_only_their_own_things(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv("email\na@x.org\n")
    harness.run(job["jobId"])
    other = "globex"
    for path in (f"/v1/jobs/{job['jobId']}", f"/v1/jobs/{job['jobId']}/errors",
                 f"/v1/jobs/{job['jobId']}/results/succeeded", "/v1/item-types/contact",
                 "/v1/records/contact", "/v1/records/contact/a@x.org"):
        assert _error(harness.call("GET", path, tenant=other)) == (404, "not_found"), path
    assert _error(harness.call("POST", f"/v1/jobs/{job['jobId']}/cancel", tenant=other)) == (404, "not_found")
    assert harness.call("GET", "/v1/jobs", tenant=other).json()["items"] == []
    acme_cursor_reply = harness.call("GET", "/v1/jobs?limit=1")
    assert acme_cursor_reply.status_code == 200
    forged = harness.call("GET", "/v1/jobs?cursor=eyJwayI6eyJTIjoiVEVOQU5UI2FjbWUifSwic2siOnsiUyI6IkpPQiN4In19",
                          tenant=other)
    assert _error(forged) == (400, "bad_request")
    harness.define(tenant=other)
    reply = harness.call("POST", "/v1/jobs", tenant=other, files={"file": ("a.csv", io.BytesIO(b"email\nz@x.org\n"))},
                         data={"itemType": "contact"})
    harness.run(reply.json()["jobId"], tenant=other)
    assert [r["key"] for r in harness.call("GET", "/v1/records/contact", tenant=other).json()["items"]] == ["z@x.org"]
    assert [r["key"] for r in harness.call("GET", "/v1/records/contact").json()["items"]] == ["a@x.org"]


def test_unknown_routes_and_ids_are_404(harness: Harness) -> None:
    assert _error(harness.call("GET", "/v1/nothing")) == (404, "not_found")
    assert _error(harness.call("GET", "/v1/jobs/not-a-job")) == (404, "not_found")
    assert _error(harness.call("GET", "/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV")) == (404, "not_found")
    # a base URL given with /v1 twice: the route is unknown, whatever its query says (a newcomer saw a 400 here)
    doubled = harness.call("GET", "/v1/v1/jobs?limit=1")
    assert _error(doubled) == (404, "not_found") and doubled.json()["error"]["message"] == "no route GET /v1/v1/jobs"


def test_item_type_validation(harness: Harness) -> None:
    cases = [
        ({"fields": {}}, "fields"),
        ({"fields": {"1bad": {"type": "string"}}}, "field names"),
        ({"fields": {"a": {"type": "uuid"}}}, "fields.a.type"),
        ({"key": ["b"], "fields": {"a": {"type": "string"}}}, "key field 'b'"),
        ({"fields": {"a": {"type": "enum"}}}, "enum field needs 'values'"),
        ({"fields": {"a": {"type": "string"}}, "columns": {"A col": "zz"}}, "unknown field 'zz'"),
        ({"fields": {"a": {"type": "integer", "min": 5, "max": 1}}}, "'min' is greater"),
        ({"fields": {"a": {"type": "string", "colour": 1}}}, "colour"),
    ]
    for body, expected in cases:
        reply = harness.call("PUT", "/v1/item-types/thing", json_body=body)
        assert _error(reply) == (400, "invalid_request"), body
        assert expected in reply.json()["error"]["message"], (body, reply.json())
    assert _error(harness.call("PUT", "/v1/item-types/thing", body=b"{nope", content_type="application/json")) == (
        400, "bad_request")
    assert _error(harness.call("PUT", "/v1/item-types/9x", json_body={"fields": {"a": {"type": "string"}}})) == (
        400, "bad_request")
    first = harness.call("PUT", "/v1/item-types/thing", json_body={"fields": {"a": {"type": "string"}}})
    assert first.status_code == 201 and first.json()["version"] == 1
    again = harness.call("PUT", "/v1/item-types/thing", json_body={"fields": {"a": {"type": "integer"}}})
    assert again.status_code == 200 and again.json()["version"] == 2
    assert [t["itemType"] for t in harness.call("GET", "/v1/item-types").json()["items"]] == ["thing"]
    assert harness.call("GET", "/v1/item-types/thing").json()["fields"] == {"a": {"type": "integer", "required": False}}


def test_submit_errors(harness: Harness) -> None:
    harness.define()
    unknown = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", io.BytesIO(b"x\n1\n"))},
                           data={"itemType": "ghost"})
    assert _error(unknown) == (400, "unknown_item_type")
    assert "PUT /v1/item-types/ghost" in unknown.json()["error"]["message"]
    no_file = harness.call("POST", "/v1/jobs", files={"other": ("a.csv", io.BytesIO(b"x"))},
                           data={"itemType": "contact"})
    assert _error(no_file) == (400, "bad_request")
    wrong_type = harness.call("POST", "/v1/jobs?itemType=contact", body=b"<xml/>", content_type="application/xml")
    assert _error(wrong_type) == (415, "unsupported_media_type")
    assert "JSON Lines" in wrong_type.json()["error"]["message"]
    bad_merge = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", io.BytesIO(b"email\n"))},
                             data={"itemType": "contact", "merge": "maybe"})
    assert _error(bad_merge) == (400, "bad_request")
    bad_mode = harness.call("POST", "/v1/jobs?itemType=contact&mode=yolo", body=b"{}\n",
                            content_type="application/x-ndjson")
    assert _error(bad_mode) == (400, "invalid_request") and "mode" in bad_mode.json()["error"]["message"]
    missing_item_type = harness.call("POST", "/v1/jobs", json_body={"fileName": "x.csv"})
    assert _error(missing_item_type) == (400, "invalid_request")
    assert _error(harness.call("POST", "/v1/jobs", json_body=[1])) == (400, "bad_request")


def test_too_large_inline_body_points_to_the_upload_form(harness: Harness) -> None:
    harness.define()
    big = b"email\n" + b"a@x.org\n" * 700_000
    reply = harness.call("POST", "/v1/jobs?itemType=contact", body=big, content_type="application/x-ndjson")
    assert reply.status_code == 413
    assert "uploadUrl" in reply.content.decode()


def _rejected(harness: Harness, data: bytes, name: str = "a.csv", **options: str) -> str:
    reply = harness.call("POST", "/v1/jobs", files={"file": (name, io.BytesIO(data))},
                         data={"itemType": "contact", **options})
    assert reply.status_code == 202, reply.content
    done = harness.run(reply.json()["jobId"])
    assert done["status"] == "Rejected", done
    assert done["counts"]["processed"] == 0 and done["finished"] is True
    return done["reason"]


def test_unusable_files_are_rejected_with_a_reason(harness: Harness) -> None:
    harness.define()
    assert _rejected(harness, b"name,age\nAnn,3\n") == (
        "missing required columns: email; expected email, name, age, joined, tier, score, active; found name, age")
    assert _rejected(harness, b"") == "the file is empty: expected a header row"
    assert _rejected(harness, b"email,name\x81\na@x.org,x\n") == (
        "the file is not utf-8 text: undecodable byte 0x81 at byte offset 10 for utf-8; save it as UTF-8 or pass "
        "`encoding`")
    assert _rejected(harness, b"email,Email\na,b\n").startswith("duplicate column header 'Email'")
    assert _rejected(harness, b"email,E-mail\na,b\n") == "columns 'email' and 'E-mail' both map to field 'email'"
    assert _rejected(harness, b"PK\x03\x04rest", name="a.xlsx") == (
        "corrupt or truncated workbook: the file is not a readable .xlsx (zip) archive")
    assert "unsupported contentType" in _rejected(harness, b"email\n", contentType="image/png")
    assert _records_count(harness) == 0


def _records_count(harness: Harness) -> int:
    return harness.dynamodb.scan(TableName=harness.clients.settings.records_table, Select="COUNT")["Count"]


def test_ragged_rows_are_row_errors(harness: Harness) -> None:
    harness.define()
    done = harness.run(harness.submit_csv("email,name\na@x.org,A,extra\nb@x.org\n\nc@x.org,C\n")["jobId"])
    assert done["counts"] == {"total": 3, "processed": 3, "created": 1, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 2, "unprocessed": 0}
    assert [(e["row"], e["message"]) for e in done["errors"]] == [
        (1, "expected 2 columns, got 3"), (2, "expected 2 columns, got 1")]
