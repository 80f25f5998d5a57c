"""The local stack runs several instances of a function as threads of one process: concurrent API calls
must each see their own request (Powertools keeps the current event on a class, shared process-wide)."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest

from sluice.store.blobs import upload_key
from sluice.store.ratelimit import KeyRateLimiter
from sluice_local.gateway import Gateway
from sluice_local.runtime import Functions
from tests.harness import Harness


def test_concurrent_submissions_from_many_tenants_keep_their_own_body(harness: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # a network's worth of latency in the first AWS call of every route, as over HTTP to the emulator
    monkeypatch.setattr(KeyRateLimiter, "admit", lambda self, key_id: time.sleep(0.005))
    harness.functions = Functions(harness.template, {"ApiFunction": 4, "AuthorizerFunction": 4})
    harness.gateway = Gateway(harness.template, harness.functions)
    tenants = [f"t{n}" for n in range(8)]
    for tenant in tenants:
        harness.define(tenant=tenant)
    bodies = {t: "email,name\n" + "".join(f"{t}-{r}@x.org,{t}\n" for r in range(20 + 9 * n))
              for n, t in enumerate(tenants)}
    submitted: dict[str, str] = {}
    start = threading.Barrier(len(tenants))

    def submit(tenant: str) -> None:
        start.wait()
        for _ in range(3):
            reply = harness.call("POST", "/v1/jobs", tenant=tenant, data={"itemType": "contact"},
                                 files={"file": ("a.csv", io.BytesIO(bodies[tenant].encode()), "text/csv")})
            assert reply.status_code == 202, reply.content
            submitted[reply.json()["jobId"]] = tenant

    threads = [threading.Thread(target=submit, args=(t,)) for t in tenants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(submitted) == 3 * len(tenants)
    for job_id, tenant in submitted.items():
        stored = harness.s3.get_object(Bucket=harness.clients.settings.bucket, Key=upload_key(tenant, job_id))
        assert stored["Body"].read().decode() == bodies[tenant], (tenant, job_id)


def test_the_gateway_answers_as_api_gateway_when_the_authorizer_denies_or_a_function_fails(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    assert harness.call("GET", "/v1/item-types/contact").status_code == 200
    authorizer = harness.functions.pools["AuthorizerFunction"]
    authorize = authorizer.invoke
    monkeypatch.setattr(authorizer, "invoke", lambda event: {"isAuthorized": False})
    denied = harness.call("GET", "/v1/item-types/contact")
    assert (denied.status_code, denied.json()) == (403, {"message": "Forbidden"})

    def fail(event: Any) -> Any:
        raise RuntimeError("the function failed")

    monkeypatch.setattr(authorizer, "invoke", fail)
    failed = harness.call("GET", "/v1/item-types/contact")
    assert (failed.status_code, failed.json()) == (500, {"message": "Internal Server Error"})
    monkeypatch.setattr(authorizer, "invoke", authorize)
    monkeypatch.setattr(harness.functions.pools["ApiFunction"], "invoke", fail)
    failed = harness.call("GET", "/v1/item-types/contact")
    assert (failed.status_code, failed.json()) == (500, {"message": "Internal Server Error"})
