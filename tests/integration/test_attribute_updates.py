"""POST /v1/attribute-updates: partial success, every error class, concurrency, the tenant wall."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sluice.pipeline import attribute_updates
from sluice.pipeline.attribute_updates import UpdateEntry, apply_updates
from tests.harness import Harness


def _seed(h: Harness) -> None:
    h.define()
    job = h.submit_csv("email,name,age,tier\na@x.org,Ann,30,gold\nb@x.org,Bob,40,silver\n")
    assert h.run(job["jobId"])["counts"]["created"] == 2


def _update(h: Harness, body: Any, tenant: str = "acme") -> Any:
    return h.call("POST", "/v1/attribute-updates", json_body=body, tenant=tenant)


def test_values_apply_and_each_error_class_fails_only_what_it_should(harness: Harness) -> None:
    _seed(harness)
    reply = _update(harness, [
        {"itemType": "contact", "key": "a@x.org", "values": [
            {"attribute": "tier", "value": "SILVER"}, {"attribute": "age", "value": "31"},
            {"attribute": "shoe", "value": 42}, {"attribute": "age", "value": "old"},
            {"attribute": "email", "value": "z@x.org"}]},
        {"itemType": "contact", "key": "nobody@x.org", "values": [{"attribute": "name", "value": "X"}]},
        {"itemType": "ghost", "key": "a@x.org", "values": [{"attribute": "name", "value": "X"},
                                                           {"attribute": "age", "value": 1}]},
        {"itemType": "contact", "key": "b@x.org", "values": [{"attribute": "name", "value": ""}]},
    ])
    assert reply.status_code == 200, reply.content
    assert reply.json() == {
        "successCount": 3,
        "errorCount": 6,
        "errors": [
            {"itemType": "contact", "key": "a@x.org", "error": "3 of 5 values not applied", "values": [
                {"attribute": "shoe", "value": 42, "error": "unknown attribute 'shoe' for item type contact"},
                {"attribute": "age", "value": "old", "error": "expected an integer"},
                {"attribute": "email", "value": "z@x.org",
                 "error": "is part of the record key and cannot be changed"}]},
            {"itemType": "contact", "key": "nobody@x.org", "error": "no contact record with key 'nobody@x.org'",
             "values": [{"attribute": "name", "value": "X", "error": "no contact record with key 'nobody@x.org'"}]},
            {"itemType": "ghost", "key": "a@x.org", "error": "unknown item type 'ghost'", "values": [
                {"attribute": "name", "value": "X", "error": "unknown item type 'ghost'"},
                {"attribute": "age", "value": 1, "error": "unknown item type 'ghost'"}]},
        ],
    }
    ann = harness.call("GET", "/v1/records/contact/a@x.org").json()
    assert ann["attributes"] == {"email": "a@x.org", "name": "Ann", "age": 31, "tier": "silver"}
    assert ann["version"] == 2 and ann["lastUpdateSource"].startswith("attribute-updates:")
    bob = harness.call("GET", "/v1/records/contact/b@x.org").json()
    assert bob["attributes"] == {"email": "b@x.org", "age": 40, "tier": "silver"}  # blank value removes


def test_limits_and_shape(harness: Harness) -> None:
    _seed(harness)
    values = [{"attribute": "age", "value": i % 100} for i in range(1001)]
    too_many = _update(harness, [{"itemType": "contact", "key": "a@x.org", "values": values}])
    assert too_many.status_code == 413 and "at most 1000" in too_many.json()["error"]["message"]
    assert _update(harness, {"itemType": "contact"}).status_code == 400
    assert _update(harness, [{"itemType": "contact", "key": "a@x.org"}]).status_code == 400
    reader = harness.key(permissions=("records:read",))
    assert harness.call("POST", "/v1/attribute-updates", key=reader, json_body=[]).status_code == 403
    assert _update(harness, []).json() == {"successCount": 0, "errorCount": 0, "errors": []}


def test_another_tenants_item_type_is_unknown(harness: Harness) -> None:
    _seed(harness)
    reply = _update(harness, [{"itemType": "contact", "key": "a@x.org", "values": [{"attribute": "age", "value": 1}]}],
                    tenant="globex")
    assert reply.json()["errors"][0]["error"] == "unknown item type 'contact'"
    assert harness.call("GET", "/v1/records/contact/a@x.org").json()["attributes"]["age"] == 30


def test_concurrent_updates_to_one_record_lose_no_value(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests race on one record: the second writes between the first's read and its write."""
    _seed(harness)
    db = harness.clients.dynamodb
    original = db.put_item
    raced = threading.Event()

    def racing_put(**kwargs: Any) -> Any:
        if not raced.is_set() and kwargs.get("ConditionExpression") == "m = :seen":
            raced.set()
            apply_updates(harness.clients, "acme", "other", [UpdateEntry.model_validate(
                {"itemType": "contact", "key": "a@x.org", "values": [{"attribute": "tier", "value": "silver"}]})])
        return original(**kwargs)

    monkeypatch.setattr(db, "put_item", racing_put)
    monkeypatch.setattr(attribute_updates, "WRITE_THREADS", 1)
    reply = _update(harness, [{"itemType": "contact", "key": "a@x.org", "values": [{"attribute": "age", "value": 55}]}])
    assert reply.json()["successCount"] == 1
    record = harness.call("GET", "/v1/records/contact/a@x.org").json()
    assert record["attributes"]["age"] == 55 and record["attributes"]["tier"] == "silver"
    assert record["version"] == 3


def test_a_thousand_values_over_many_records(harness: Harness) -> None:
    harness.define()
    rows = "".join(f"u{i}@x.org,U{i},{i % 100}\n" for i in range(250))
    harness.run(harness.submit_csv("email,name,age\n" + rows)["jobId"])
    body = [{"itemType": "contact", "key": f"u{i}@x.org", "values": [
        {"attribute": "age", "value": (i + 1) % 100}, {"attribute": "tier", "value": "gold"},
        {"attribute": "name", "value": f"New {i}"}, {"attribute": "active", "value": "yes"}]} for i in range(250)]
    reply = _update(harness, body)
    assert reply.json() == {"successCount": 1000, "errorCount": 0, "errors": []}
    record = harness.call("GET", "/v1/records/contact/u17@x.org").json()
    assert record["attributes"] == {"email": "u17@x.org", "name": "New 17", "age": 18, "tier": "gold",
                                    "active": True}
