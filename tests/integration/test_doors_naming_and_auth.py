"""What every seed door stands on: item types named by their aliases and fields by their ids (validated,
unique, editable through /v1/item-types), and each seed's way of presenting a key."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from sluice.store.clients import get_clients
from sluice.store.itemtypes import ItemTypeStore
from tests.doors import SEED_CONTACT
from tests.harness import CONTACT_SCHEMA, Harness


def _schema(**changes: Any) -> dict[str, Any]:
    schema = copy.deepcopy(CONTACT_SCHEMA)
    schema.update(changes)
    return schema


def test_aliases_and_field_ids_are_part_of_the_item_type(harness: Harness) -> None:
    harness.define(schema=SEED_CONTACT)
    shown = harness.call("GET", "/v1/item-types/contact").json()
    assert shown["aliases"] == SEED_CONTACT["aliases"]
    assert shown["fields"]["age"]["id"] == 543 and "id" not in shown["fields"]["joined"]
    plain = harness.call("PUT", "/v1/item-types/plain", json_body=CONTACT_SCHEMA).json()
    assert "aliases" not in plain and all("id" not in f for f in plain["fields"].values())  # as before


@pytest.mark.parametrize(("change", "message"), [
    ({"aliases": ["AI", "AI"]}, "aliases must be unique; alias AI appears more than once"),
    ({"aliases": [""]}, "aliases.0: String should have at least 1 character"),
    ({"aliases": ["bad\nalias"]}, "aliases.0: String should match pattern"),
    ({"aliases": "AI"}, "aliases: Input should be a valid list"),
    ({"aliases": ["x" * 129]}, "aliases.0: String should have at most 128 characters"),
    ({"fields": {"a": {"type": "string", "id": 5}, "b": {"type": "string", "id": 5}}},
     "field ids must be unique; id 5 appears more than once"),
    ({"fields": {"a": {"type": "string", "id": "5"}}}, "fields.a.id: Input should be a valid integer"),
    ({"fields": {"a": {"type": "string", "id": -1}}}, "fields.a.id: Input should be greater than or equal to 0"),
    ({"fields": {"a": {"type": "string", "id": True}}}, "fields.a.id: Input should be a valid integer"),
])
def test_aliases_and_ids_are_validated(harness: Harness, change: dict[str, Any], message: str) -> None:
    schema = _schema(**change)
    if "fields" in change:
        schema = {"fields": change["fields"]}
    reply = harness.call("PUT", "/v1/item-types/contact", json_body=schema)
    assert reply.status_code == 400, reply.content
    assert message in reply.json()["error"]["message"]


def test_aliases_are_unique_within_the_tenant_and_editable(harness: Harness) -> None:
    harness.define(schema=_schema(aliases=["AI", "7"]))
    taken = harness.call("PUT", "/v1/item-types/member", json_body=_schema(aliases=["MR", "AI"]))
    assert taken.status_code == 409
    assert taken.json()["error"]["message"] == ("alias 'AI' belongs to item type 'contact'; aliases are unique "
                                                "within a tenant")
    named = harness.call("PUT", "/v1/item-types/member", json_body=_schema(aliases=["contact"]))
    assert named.json()["error"]["message"] == "alias 'contact' is the name of another item type"
    shadow = harness.call("PUT", "/v1/item-types/AI", json_body=CONTACT_SCHEMA)
    assert shadow.status_code == 409 and "'AI' is an alias of item type 'contact'" in shadow.json()["error"]["message"]
    assert harness.call("PUT", "/v1/item-types/member", json_body=_schema(aliases=["ai"])).status_code == 201  # case
    # editing: contact gives up AI, member takes it; 7 stays with contact
    assert harness.call("PUT", "/v1/item-types/contact", json_body=_schema(aliases=["7"])).status_code == 200
    assert harness.call("PUT", "/v1/item-types/member", json_body=_schema(aliases=["ai", "AI"])).status_code == 200
    store = ItemTypeStore(get_clients())
    assert [store.resolve("acme", ref).name for ref in ("AI", "ai", "7", "contact", "member")] == [
        "member", "member", "contact", "contact", "member"]
    assert store.resolve("acme", "MR") is None and store.resolve("acme", "x" * 300) is None
    harness.define(schema=_schema(aliases=["AI"]), tenant="globex")  # another tenant: its own aliases
    assert store.resolve("globex", "AI").name == "contact"


def test_every_seed_auth_form_is_accepted(harness: Harness) -> None:
    harness.define()
    key = harness.key()
    basic = base64.b64encode(f"haplo:{key}".encode()).decode()
    for header in (f"apikey {key}", f"Bearer {key}", f"Basic {basic}", f"APIKEY {key}", f"bearer  {key}"):
        assert harness.call("GET", "/v1/jobs", key="", headers={"Authorization": header}).status_code == 200, header
    subscription = harness.call("GET", "/v1/jobs", key="", headers={"Ocp-Apim-Subscription-Key": key})
    assert subscription.status_code == 200  # TeamTracks' clients may carry the key there instead
    both = harness.call("GET", "/v1/jobs", key="", headers={"Authorization": "Bearer {token}",
                                                              "Ocp-Apim-Subscription-Key": key})
    assert both.status_code == 200
    for header in (f"Basic {base64.b64encode(key.encode()).decode()}", "Basic !!!", "Basic ",
                   f"Basic {base64.b64encode(b'haplo:').decode()}", f"Digest {key}"):
        reply = harness.call("GET", "/v1/jobs", key="", headers={"Authorization": header})
        assert reply.status_code == 401, header


def test_seed_permissions_open_their_route_and_nothing_else(harness: Harness) -> None:
    harness.define(schema=SEED_CONTACT)
    begin = harness.key(permissions=("BeginWorkflowImportProcess",))
    queued = harness.call("POST", "/API/WorkflowImportQueue/CreateBatch?importProcessId=7", key=begin,
                          body=b'{"email": "q@x.org"}\n', content_type="application/x-ndjson")
    assert queued.status_code == 200, queued.content
    setter = harness.key(permissions=("SetAttributeValues",))
    harness.run(queued.json()["queueBatchId"])
    updated = harness.call("POST", "/API/WorkflowInstance/SetAttributeValues", key=setter,
                           json_body=[{"entityTypeAbbr": "AI", "wfiId": "q@x.org", "values": [
                               {"attrDefId": 543, "val": 30}]}])
    assert updated.json() == {"successCount": 1, "errorCount": 0, "errors": []}
    forbidden = [
        ("GET", "/v1/jobs"), ("GET", f"/v1/jobs/{queued.json()['queueBatchId']}"), ("POST", "/v1/jobs"),
        ("GET", "/v1/whoami"), ("GET", "/v1/item-types"), ("POST", "/v1/attribute-updates"),
        ("POST", "/v1/api-keys"), ("POST", "/ls/api/batch/import"), ("POST", "/ls/api/batch/status"),
        ("POST", "/api/haplo-data-import-batch/control"), ("GET", "/job/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("POST", "/objectimport/contact"), ("POST", "/ls/api/batch/export"),
    ]
    for key, other in ((begin, "/API/WorkflowInstance/SetAttributeValues"),
                       (setter, "/API/WorkflowImportQueue/CreateBatch")):
        for method, path in [*forbidden, ("POST", other)]:
            reply = harness.call(method, path, key=key, json_body=[])
            assert reply.status_code == 403, (method, path, reply.content)
    whoami = harness.call("GET", "/v1/whoami", key=begin)
    assert whoami.json()["error"]["message"] == ("this key holds only BeginWorkflowImportProcess, which opens its "
                                                 "seed route and nothing else")
    # the /v1 permissions that grant the seed routes too, and keys made with the seed names
    writer = harness.key(permissions=("imports:write",))
    assert harness.call("POST", "/API/WorkflowImportQueue/CreateBatch?importProcessId=7", key=writer,
                        body=b'{"email": "w@x.org"}\n', content_type="application/x-ndjson").status_code == 200
    made = harness.call("POST", "/v1/api-keys", json_body={"name": "lb", "permissions": ["SetAttributeValues"]})
    assert made.status_code == 201 and made.json()["permissions"] == ["SetAttributeValues"]
