"""No input reaches a 5xx through a seed door, and every refusal is in that seed's own style: hostile bodies,
content types, queries and ids on every door route."""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.doors import SEED_CONTACT
from tests.harness import Harness

ROUTES = [
    ("POST", "/API/WorkflowImportQueue/CreateBatch", "lb"), ("POST", "/API/WorkflowInstance/SetAttributeValues", "lb"),
    ("POST", "/api/haplo-data-import-batch/control", "haplo"), ("POST", "/api/haplo-data-import-batch/batch", "haplo"),
    ("POST", "/api/haplo-data-import-batch/file", "haplo"), ("POST", "/api/haplo-data-import-batch/schedule", "haplo"),
    ("POST", "/api/haplo-data-import-batch/%00", "haplo"), ("POST", "/ls/api/batch/import", "liquid"),
    ("POST", "/ls/api/batch/status", "liquid"), ("POST", "/ls/api/batch/export", "liquid"),
    ("POST", "/ls/api/batch/..%2F", "liquid"), ("POST", "/objectimport/contact", "tt"),
    ("POST", "/objectimport/%FF%FE", "tt"), ("GET", "/job/{job}", "tt"), ("GET", "/job/%2E%2E", "tt"),
]
BODIES = [b"", b"null", b"[]", b"{}", b"\xff\xfe\x00garbage", b'[{"entityTypeAbbr": {}, "wfiId": [], "values": {}}]',
          b'[{"entityTypeAbbr": "AI", "wfiId": 1e999, "values": [{"attrDefId": 1e400, "val": {"a": [1]}}]}]',
          b"jobId=%ZZ&batch=" + b"9" * 5000 + b"&control=" + b"f" * 64 + b"&filters={'a':" + b"(" * 200,
          b"--x\r\nContent-Disposition: form-data; name=file; filename=a.xlsx\r\n\r\nPK\x03\x04junk\r\n--x--\r\n",
          b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\n[{\"email\":\r\n--x--\r\n"]
TYPES = [None, "application/json", "application/x-ndjson", "multipart/form-data", "multipart/form-data; boundary=x",
         "application/x-www-form-urlencoded", "text/csv; charset=utf-16"]
QUERIES = ["", "?importProcessId=7&creationPath=%FF", "?importProcessId=&fileName=%00&sendSuccessEmailTo=a%0D%0Ab"]


def _styled(style: str, status: int, headers: dict[str, str], body: bytes) -> bool:
    if style == "haplo":
        return headers.get("content-type", "").startswith("text/plain") and bool(body)
    parsed: Any = json.loads(body)
    if style == "lb":
        return set(parsed) == {"Message"} if status >= 400 else True
    if style == "liquid":
        return "reason" in parsed
    return parsed.get("statusCode") == status if status >= 400 else True


def test_hostile_requests_never_get_a_5xx_and_are_refused_in_the_seeds_style(harness: Harness) -> None:
    harness.define(schema=SEED_CONTACT)
    job = harness.submit_csv("email\na@x.org\n")
    harness.run(job["jobId"])
    checked = 0
    for (method, path, style), body, content_type, query in itertools.product(ROUTES, BODIES, TYPES, QUERIES):
        target = path.replace("{job}", job["jobId"]) + query
        reply = harness.call(method, target, body=body, content_type=content_type, headers={"tenant": "acme"})
        assert reply.status_code < 500, (method, target, body[:40], content_type, reply.content[:300])
        assert _styled(style, reply.status_code, reply.headers, reply.content), (target, reply.content[:300])
        checked += 1
    assert checked == len(ROUTES) * len(BODIES) * len(TYPES) * len(QUERIES)
