"""Throttling, timeouts and lost replies on a share of every AWS call, with messages redelivered out of
order and twice: jobs still end with exact counts, every row applied once, and the API never answers 5xx."""

from __future__ import annotations

import pytest

from tests.faults import FaultPlan, inject
from tests.harness import Harness
from tests.integration.test_exactly_once import DATA, SEED, _assert_exact


def _seeded(h: Harness) -> None:
    h.define()
    h.key()
    assert h.run(h.submit_csv(SEED)["jobId"])["counts"]["created"] == 3


PLANS = [
    pytest.param(FaultPlan(throttle=0.25, seed=1), id="a-quarter-of-calls-throttled"),
    pytest.param(FaultPlan(timeout=0.15, seed=2), id="timeouts-before-the-service"),
    pytest.param(FaultPlan(lost_reply=0.15, seed=3), id="replies-lost-after-the-write"),
    pytest.param(FaultPlan(throttle=0.1, timeout=0.1, lost_reply=0.1, seed=4), id="all-three"),
    # the few S3 and SQS calls of a small job, each hit hard on its own
    pytest.param(FaultPlan(throttle=0.3, timeout=0.2, lost_reply=0.2, seed=5, only=("sqs",)), id="sqs"),
    pytest.param(FaultPlan(throttle=0.3, timeout=0.2, lost_reply=0.2, seed=6, only=("s3",)), id="s3"),
    pytest.param(FaultPlan(throttle=0.3, timeout=0.2, lost_reply=0.2, seed=7, only=("eventbridge",)),
                 id="eventbridge"),
]


@pytest.mark.parametrize("plan", PLANS)
def test_jobs_are_exact_under_faults(harness: Harness, monkeypatch: pytest.MonkeyPatch, plan: FaultPlan) -> None:
    _seeded(harness)
    harness.retry_at_once()
    faults = inject(monkeypatch, plan)
    job = harness.submit_csv(DATA)
    harness.pump_shuffled(seed=plan.seed)
    finished = harness.job(job["jobId"])
    faults.enabled = False
    _assert_exact(harness, finished)
    assert harness.dead_letters("ChunkDeadLetterQueue") == 0
    if plan.only:  # a small job makes few calls to these: at least one was hit, and nothing else was
        assert {name.split(":")[1].split(".")[0] for name in faults.injected if ":" in name} == set(plan.only)
    else:
        for kind in ("throttle", "timeout", "lost_reply"):
            assert (faults.injected[kind] > 0) == (getattr(plan, kind) > 0), faults.injected


def test_the_api_answers_without_5xx_under_faults(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    _seeded(harness)
    faults = inject(monkeypatch, FaultPlan(throttle=0.1, timeout=0.1, lost_reply=0.1, seed=5))
    statuses = []
    for round_ in range(15):
        job = harness.submit_csv(f"email,name\nr{round_}@x.org,R\n")  # asserts 202
        statuses.append((200, harness.call("GET", f"/v1/jobs/{job['jobId']}").status_code))
        statuses.append((200, harness.call("GET", "/v1/jobs?limit=5").status_code))
        statuses.append((201 if round_ == 0 else 200, harness.call(
            "PUT", "/v1/item-types/other", json_body={"fields": {"a": {"type": "string"}}}).status_code))
        statuses.append((200, harness.call("POST", "/v1/attribute-updates", json_body=[
            {"itemType": "contact", "key": "old1@x.org", "values": [{"attribute": "name", "value": f"V{round_}"}]}]
        ).status_code))
        statuses.append((201, harness.call("POST", "/v1/api-keys", json_body={
            "name": f"k{round_}", "permissions": ["imports:read"]}).status_code))
    assert [actual for _, actual in statuses] == [expected for expected, _ in statuses]
    assert faults.injected["lost_reply"] > 0 and faults.injected["throttle"] > 0
    faults.enabled = False
    record = harness.call("GET", "/v1/records/contact/old1@x.org").json()
    assert record["attributes"]["name"] == "V14"
    assert record["version"] == 1 + 15  # each update applied once, even when its reply was lost


def test_aws_unavailable_after_every_retry_is_a_503_with_retry_after(harness: Harness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _seeded(harness)
    key = harness.key()
    faults = inject(monkeypatch, FaultPlan(throttle=1.0, only=("dynamodb",)))
    for method, path in [("GET", "/v1/jobs"), ("GET", "/v1/records/contact/old1@x.org")]:
        reply = harness.call(method, path, key=key)
        assert reply.status_code == 503, reply.content
        assert reply.headers["retry-after"] == "2"
        assert reply.json()["error"]["code"] == "service_unavailable"
    assert faults.injected["throttle"] == 2 * 9  # the authorizer's key lookup: 1 attempt + 8 retries, twice
    faults.plan.only = ("s3",)  # the key lookup and the job now pass; the upload is what fails
    reply = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", b"email\na@x.org\n", "text/csv")},
                         data={"itemType": "contact"})
    assert reply.status_code == 503, reply.content
