"""No input a client can send produces a 5xx: every route against hostile bodies, types and ids."""

from __future__ import annotations

import itertools

from tests.harness import Harness

ROUTES = [
    ("GET", "/v1/health"), ("PUT", "/v1/item-types/contact"), ("GET", "/v1/item-types"),
    ("GET", "/v1/item-types/contact"), ("POST", "/v1/jobs"), ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{job}"),
    ("GET", "/v1/jobs/{job}/errors"), ("GET", "/v1/jobs/{job}/results/failed"), ("POST", "/v1/jobs/{job}/cancel"),
    ("GET", "/v1/records/contact"), ("GET", "/v1/records/contact/a%40x.org"), ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"), ("DELETE", "/v1/api-keys/nope"), ("PATCH", "/v1/jobs"), ("GET", "/v1/%ZZ/..%2F"),
]
BODIES = [b"", b"null", b"[]", b"{}", b"\xff\xfe\x00garbage", b'{"itemType": 5, "fields": "x"}',
          b'{"itemType": "contact", "mode": "dry-run", "merge": "yes", "fileName": "' + b"a" * 300 + b'"}',
          b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\nemail\n\r\n--x--\r\n"]
TYPES = [None, "application/json", "application/x-ndjson", "multipart/form-data", "multipart/form-data; boundary=x",
         "text/csv", "application/json; charset=latin-1"]
QUERIES = ["", "?limit=-1", "?limit=abc", "?cursor=%00", "?cursor=eyJ4IjoxfQ", "?itemType=contact&mode=commit",
           "?status=Completed&creationPath=%FF"]


def test_hostile_requests_never_get_a_5xx(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv("email\na@x.org\n")
    harness.run(job["jobId"])
    checked = 0
    for (method, path), body, content_type, query in itertools.product(ROUTES, BODIES, TYPES, QUERIES[:3]):
        target = path.replace("{job}", job["jobId"]) + query
        reply = harness.call(method, target, body=body, content_type=content_type)
        assert reply.status_code < 500, (method, target, body[:40], content_type, reply.content[:300])
        checked += 1
    for query in QUERIES:
        for method, path in ROUTES:
            reply = harness.call(method, path.replace("{job}", job["jobId"]) + query)
            assert reply.status_code < 500, (method, path, query, reply.content[:300])
    assert checked == len(ROUTES) * len(BODIES) * len(TYPES) * 3
