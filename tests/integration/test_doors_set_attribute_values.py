"""Seed 002, LearningBuilder's SetAttributeValues, replayed as its clients send it (`Authorization: apikey`, a JSON
array by Python requests' json= and by curl -d): entity types by alias, instance ids as record keys (numbers as
their decimal text), attribute definitions by field id; the answer in the seed's shape with its own messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.doors import SEED_CONTACT, curl, served
from tests.harness import Harness

PATH = "/API/WorkflowInstance/SetAttributeValues"
PLAN = {"key": ["planId"], "aliases": ["LPI"],
        "fields": {"planId": {"type": "integer", "id": 600}, "status": {"type": "string", "id": 601},
                   "credits": {"type": "decimal", "id": 602}}}


@pytest.fixture
def lb(harness: Harness) -> Iterator[tuple[Harness, str]]:
    harness.define(schema=SEED_CONTACT)
    harness.define("learning_plan", PLAN)
    harness.run(harness.submit_csv("email,name,age\nann@x.org,Ann,30\n")["jobId"])
    harness.run(harness.submit_csv("planId,status\n123,Incomplete\n", item_type="learning_plan")["jobId"])
    with served(harness) as url:
        yield harness, url


def _attributes(harness: Harness, item_type: str, key: str) -> dict[str, Any]:
    return dict(harness.call("GET", f"/v1/records/{item_type}/{key}").json()["attributes"])


def test_the_documented_request_and_answer(lb: tuple[Harness, str]) -> None:
    harness, url = lb
    payload: list[dict[str, Any]] = [
        {"entityTypeAbbr": "AI", "wfiId": "ann@x.org", "values": [
            {"attrDefId": 555, "val": "Ann Baker"}, {"attrDefId": 543, "val": "-3"},
            {"attrDefId": 999, "val": "x"}, {"attrDefId": 500, "val": "new@x.org"}]},
        {"entityTypeAbbr": "AI", "wfiId": "zed@x.org", "values": [{"attrDefId": 555, "val": "Zed"}]},
        {"entityTypeAbbr": "LPI", "wfiId": 123, "values": [{"attrDefId": 601, "val": "Complete"},
                                                           {"attrDefId": 602, "val": "2.50"}]},
        {"entityTypeAbbr": "MR", "wfiId": 77, "values": [{"attrDefId": 1, "val": "y"}]},
    ]
    reply = requests.post(f"{url}{PATH}", json=payload, headers={"Authorization": "apikey " + harness.key()},
                          timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"successCount": 3, "errorCount": 5, "errors": [
        {"entityTypeAbbr": "AI", "wfiId": "ann@x.org", "values": [
            {"attrDefId": 555, "val": "Ann Baker"},
            {"attrDefId": 543, "val": "-3", "error": "must be at least 0"},
            {"attrDefId": 999, "val": "x", "error": 'Attribute Definition #999 does not exist for entity "AI"'},
            {"attrDefId": 500, "val": "new@x.org",
             "error": "Attribute Definition #500 is an Intrinsic Attribute and is not supported"}]},
        {"entityTypeAbbr": "AI", "wfiId": "zed@x.org",
         "error": 'Workflow Instance #zed@x.org was not found for entity "AI"',
         "values": [{"attrDefId": 555, "val": "Zed"}]},
        {"entityTypeAbbr": "MR", "wfiId": 77, "error": 'Workflow Instance #77 was not found for entity "MR"',
         "values": [{"attrDefId": 1, "val": "y"}]},
    ]}
    assert _attributes(harness, "contact", "ann@x.org") == {"email": "ann@x.org", "name": "Ann Baker", "age": 30}
    assert _attributes(harness, "learning_plan", "123") == {"planId": 123, "status": "Complete", "credits": "2.5"}
    record = harness.call("GET", "/v1/records/contact/ann@x.org").json()
    assert record["lastUpdateSource"].startswith("attribute-updates:")


def test_curl_with_property_names_in_any_case(lb: tuple[Harness, str]) -> None:
    harness, url = lb
    body = json.dumps([{"EntityTypeAbbr": "7", "WfiId": "ann@x.org", "Values": [{"AttrDefId": "560", "Val": "GOLD"}]}])
    status, answer = curl(f"curl -X POST $SERVER{PATH} -H 'Authorization: apikey '$KEY "
                          f"-H 'Content-Type: application/json' -d '{body}'", SERVER=url, KEY=harness.key())
    assert (status, json.loads(answer)) == (200, {"successCount": 1, "errorCount": 0, "errors": []})
    assert _attributes(harness, "contact", "ann@x.org")["tier"] == "gold"


def test_another_tenant_finds_no_instance(lb: tuple[Harness, str]) -> None:
    harness, _ = lb
    harness.define(schema=SEED_CONTACT, tenant="globex")
    reply = harness.call("POST", PATH, tenant="globex", json_body=[
        {"entityTypeAbbr": "AI", "wfiId": "ann@x.org", "values": [{"attrDefId": 555, "val": "Hijack"}]}])
    assert reply.json()["errors"][0]["error"] == 'Workflow Instance #ann@x.org was not found for entity "AI"'
    assert _attributes(harness, "contact", "ann@x.org")["name"] == "Ann"


@pytest.mark.parametrize(("body", "status", "message"), [
    (b'{"entityTypeAbbr": "AI"}', 400, 'The request body must be a JSON array such as [{"entityTypeAbbr": "AI", '
     '"wfiId": 123, "values": [{"attrDefId": 555, "val": "some new value"}]}]'),
    (b"[1]", 400, 'Element 1 of the array must be an object such as {"entityTypeAbbr": "AI", "wfiId": 123, '
     '"values": [{"attrDefId": 555, "val": "some new value"}]}'),
    (b'[{"wfiId": 1, "values": []}]', 400, 'Element 1: entityTypeAbbr is required (the entity type, such as "AI")'),
    (b'[{"entityTypeAbbr": "AI", "values": []}]', 400,
     "Element 1: wfiId is required (the ID of the Workflow Instance)"),
    (b'[{"entityTypeAbbr": "AI", "wfiId": 1}]', 400, 'Element 1: values must be an array of {"attrDefId", "val"}'),
    (b'[{"entityTypeAbbr": "AI", "wfiId": 1, "values": [{"val": 2}]}]', 400,
     "Element 1, value 1: attrDefId is required"),
    (json.dumps([{"entityTypeAbbr": "AI", "wfiId": 1, "values": [{"attrDefId": 1, "val": 1}] * 1001}]).encode(), 413,
     "The request holds 1001 attribute values; at most 1000 a request"),
])
def test_bad_requests_in_the_seeds_shape(lb: tuple[Harness, str], body: bytes, status: int, message: str) -> None:
    harness, _ = lb
    reply = harness.call("POST", PATH, body=body, content_type="application/json")
    assert (reply.status_code, reply.json()) == (status, {"Message": message})


def test_not_json_and_auth_errors(lb: tuple[Harness, str]) -> None:
    harness, url = lb
    broken = harness.call("POST", PATH, body=b"[{", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["Message"].startswith("the body is not valid JSON")
    assert requests.post(f"{url}{PATH}", json=[], timeout=30).json() == {
        "Message": "a valid API key is required: send 'Authorization: Bearer <key>'"}
    importer = harness.key(permissions=("BeginWorkflowImportProcess",))
    refused = requests.post(f"{url}{PATH}", json=[], headers={"Authorization": "apikey " + importer}, timeout=30)
    assert (refused.status_code, refused.json()) == (403, {
        "Message": "this key lacks the permission SetAttributeValues or records:write"})
