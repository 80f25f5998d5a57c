"""Exports (formats, filters, templates, SQL, parts, links) and notifications (email, EventBridge)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from sluice.exports import links
from sluice.models.export import LINK_MS
from tests.harness import CONTACT_SCHEMA, Harness

PEOPLE = ("email,name,age,joined,tier,score,active\n"
          "a@x.org,=HYPERLINK(\"http://evil\"),30,2024-01-02,gold,1.50,yes\n"
          "b@x.org,+Bob,40,,silver,-2,no\n"
          "c@x.org,@Cy,50,,gold,,\n"
          "d@x.org,Di,20,,,,\n")


@pytest.fixture
def people(harness: Harness) -> Harness:
    harness.define()
    assert harness.run(harness.submit_csv(PEOPLE)["jobId"])["counts"]["created"] == 4
    harness.define(tenant="globex")
    job = harness.call("POST", "/v1/jobs", tenant="globex",
                       files={"file": ("g.csv", io.BytesIO(b"email,name\nsecret@globex.org,Hidden\n"))},
                       data={"itemType": "contact"}).json()
    harness.run(job["jobId"], tenant="globex")
    return harness


def _export(h: Harness, body: dict[str, Any], tenant: str = "acme") -> dict[str, Any]:
    reply = h.call("POST", "/v1/exports", json_body={"itemType": "contact", **body}, tenant=tenant)
    assert reply.status_code == 202, reply.content
    assert reply.headers["location"] == f"/v1/exports/{reply.json()['exportId']}"
    h.pump()
    done = h.call("GET", f"/v1/exports/{reply.json()['exportId']}", tenant=tenant)
    assert done.status_code == 200
    return dict(done.json())


def _download(h: Harness, link: str) -> str:
    assert link.startswith("http://localhost/v1/export-links/")  # absolute: the caller's host and scheme
    reply = h.call("GET", urlsplit(link).path, key="")
    assert reply.status_code == 302, reply.content
    return requests.get(reply.headers["location"], timeout=10).text


def _rows(h: Harness, export: dict[str, Any]) -> list[list[str]]:
    assert export["status"] == "Completed", export
    return [row for link in export["links"]["download"] for row in csv.reader(io.StringIO(_download(h, link)))]


def test_csv_export_in_schema_order_with_formulas_neutralised(people: Harness) -> None:
    export = _export(people, {"contentType": "text/csv"})
    assert export["recordsProcessed"] == 4 and export["parts"] == 1 and export["expiresAt"].endswith("Z")
    assert _rows(people, export) == [
        ["email", "name", "age", "joined", "tier", "score", "active"],
        ["a@x.org", "'=HYPERLINK(\"http://evil\")", "30", "2024-01-02", "gold", "1.5", "true"],
        ["b@x.org", "'+Bob", "40", "", "silver", "-2", "false"],  # a number is never a formula
        ["c@x.org", "'@Cy", "50", "", "gold", "", ""],
        ["d@x.org", "Di", "20", "", "", "", ""],
    ]
    headerless = _export(people, {"rowHeader": False, "filters": {"tier": "silver"}})
    assert _rows(people, headerless) == [["b@x.org", "'+Bob", "40", "", "silver", "-2", "false"]]


def test_filters_templates_and_json_lines(people: Harness) -> None:
    export = _export(people, {"contentType": "application/json", "filters": {"tier": ["gold", "silver"],
                                                                            "active": True}})
    lines = [json.loads(line) for link in export["links"]["download"] for line in _download(people, link).splitlines()]
    assert lines == [{"email": "a@x.org", "name": "=HYPERLINK(\"http://evil\")", "age": 30, "joined": "2024-01-02",
                      "tier": "gold", "score": "1.5", "active": True}]
    shaped = _export(people, {"template": {"key": "Record", "name": "Full name"}, "filters": {"age": 20}})
    assert _rows(people, shaped) == [["Record", "Full name"], ["d@x.org", "Di"]]
    listed = _export(people, {"template": ["age", "email"], "filters": {"key": ["a@x.org", "c@x.org"]}})
    assert _rows(people, listed) == [["age", "email"], ["30", "a@x.org"], ["50", "c@x.org"]]


def test_export_request_errors(people: Harness) -> None:
    cases = [({"itemType": "ghost"}, "unknown item type 'ghost'"),
             ({"itemType": "contact", "contentType": "text/xml"}, "contentType"),
             ({"itemType": "contact", "filters": {"shoe": 1}}, "filters name unknown fields: shoe"),
             ({"itemType": "contact", "template": ["shoe"]}, "template names unknown fields: shoe"),
             ({"itemType": "contact", "colour": "red"}, "colour")]
    for body, message in cases:
        reply = people.call("POST", "/v1/exports", json_body=body)
        assert reply.status_code == 400 and message in reply.json()["error"]["message"], (body, reply.json())
    reader = people.key(permissions=("imports:read",))
    assert people.call("POST", "/v1/exports", key=reader, json_body={"itemType": "contact"}).status_code == 403
    export = _export(people, {})
    assert people.call("GET", f"/v1/exports/{export['exportId']}", tenant="globex").status_code == 404


def test_large_exports_are_split_into_parts(people: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.store.clients import reset_clients

    monkeypatch.setenv("EXPORT_PART_ROWS", "3")
    reset_clients()
    export = _export(people, {})
    assert export["parts"] == 2 and len(export["links"]["download"]) == 2
    first, second = (list(csv.reader(io.StringIO(_download(people, link)))) for link in export["links"]["download"])
    assert [r[0] for r in first] == ["email", "a@x.org", "b@x.org", "c@x.org"]
    assert [r[0] for r in second] == ["email", "d@x.org"]


def test_sql_runs_over_this_tenants_records_only(people: Harness) -> None:
    export = _export(people, {"sqlQuery": "SELECT tier, count(*) AS n, max(age) AS oldest FROM records "
                                          "WHERE tier IS NOT NULL GROUP BY tier ORDER BY tier"})
    assert _rows(people, export) == [["tier", "n", "oldest"], ["gold", "2", "50"], ["silver", "1", "40"]]
    everyone = _export(people, {"sqlQuery": "SELECT key, name FROM records ORDER BY key"})
    assert [r[0] for r in _rows(people, everyone)] == ["key", "a@x.org", "b@x.org", "c@x.org", "d@x.org"]
    dated = _export(people, {"sqlQuery": "SELECT joined, score FROM records WHERE key = 'a@x.org'",
                             "contentType": "application/json"})
    assert _download(people, dated["links"]["download"][0]) == '{"joined":"2024-01-02","score":1.5}\n'


ONE_SELECT = "sqlQuery must be exactly one read-only SELECT statement over the table 'records'"


@pytest.mark.parametrize(("sql", "reason"), [
    ("SELECT 1; SELECT 2", ONE_SELECT),
    ("DELETE FROM records", ONE_SELECT),
    ("CREATE TABLE x (a int)", ONE_SELECT),
    ("INSERT INTO records (key) VALUES ('x')",
     ONE_SELECT),
    ("COPY records TO '/tmp/out.csv'", ONE_SELECT),
    ("ATTACH 'other.db'", ONE_SELECT),
    ("SET enable_external_access = true", ONE_SELECT),
    ("SELECT * FROM read_csv('/etc/passwd')", "sqlQuery failed: Permission Error: "),
    ("SELECT * FROM read_json('https://example.org/x.json')", "sqlQuery failed: Permission Error: "),
    ("SELECT * FROM globex_records", "sqlQuery failed: Catalog Error: Table with name globex_records does not exist!"),
    ("SELEC nothing", "sqlQuery cannot be parsed: "),
])
def test_sql_that_is_not_one_read_only_select_is_rejected(people: Harness, sql: str, reason: str) -> None:
    export = _export(people, {"sqlQuery": sql})
    assert export["status"] == "Rejected"
    assert export["reason"].startswith(reason), export["reason"]
    assert "links" not in export or "download" not in export["links"]


def test_links_redirect_and_refuse_tampering_and_expiry(people: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    export = _export(people, {})
    link = export["links"]["download"][0]
    assert _download(people, link).startswith("email,name")
    payload = link.rsplit("/", 1)[1].split(".")[0]
    forged = link.replace(payload, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"))
    assert people.call("GET", urlsplit(forged).path, key="").status_code == 404
    assert people.call("GET", urlsplit(link).path[:-3], key="").status_code == 404
    later = links.now_ms() + LINK_MS + 1000
    monkeypatch.setattr(links, "now_ms", lambda: later)
    expired = people.call("GET", urlsplit(link).path, key="")
    assert expired.status_code == 404 and "expired 7 days after" in expired.json()["error"]["message"]


def _sent_mail() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def test_completion_emails_for_imports_and_exports(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv("email,age\nm@x.org,3\nn@x.org,-1\n", notificationEmail="ops@x.org")
    harness.run(job["jobId"])
    export = _export(harness, {"notificationEmail": "data@x.org"})
    mails = _sent_mail()
    assert [m.destinations["ToAddresses"] for m in mails] == [["ops@x.org"], ["data@x.org"]]
    assert mails[0].source == harness.clients.settings.sender_email
    assert mails[0].subject == "Sluice import data.csv: Completed"
    assert "Rows: total 2, processed 2, created 1, updated 0, unchanged 0, failed 1" in mails[0].body
    assert "row 2 (age): must be at least 0" in mails[0].body
    token = urlsplit(export["links"]["download"][0]).path  # the email has no request host: a path, or PUBLIC_API_URL
    assert token.startswith("/v1/export-links/") and token in mails[1].body


def test_every_status_change_is_published_to_eventbridge(harness: Harness) -> None:
    events, sqs = harness.session.client("events"), harness.sqs
    queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="sluice-jobs", EventPattern=json.dumps({"source": ["sluice"],
                                                                 "detail-type": ["Job Status Changed"]}))
    events.put_targets(Rule="sluice-jobs", Targets=[{"Id": "q", "Arn": arn}])
    harness.define(schema=CONTACT_SCHEMA)
    job = harness.submit_csv("email\ne@x.org\n")
    harness.run(job["jobId"])
    seen = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        seen += [json.loads(m["Body"]) for m in batch]
    mine = [e["detail"] for e in seen if e["detail"]["jobId"] == job["jobId"]]
    assert [d["status"] for d in mine] == ["Accepted", "Processing", "Completed"]
    assert mine[-1]["counts"]["created"] == 1 and mine[-1]["tenant"] == "acme" and mine[-1]["kind"] == "import"
