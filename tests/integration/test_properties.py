"""Random jobs against a sequential reference model.

Hypothesis draws a few jobs for a fresh tenant: rows over a small pool of keys (so keys repeat within
and across jobs), invalid values, merge or replace, and for the last job a delivery (in order, every
message twice, shuffled with duplicates), AWS faults, and a cancel after a random number of chunks.
The model applies the rows one by one, in file order, to a dictionary. Records (attributes and
versions), counts, errors and result files must be exactly what the model says.

CI runs SLUICE_PROPERTY_EXAMPLES (default 100) derandomised examples; `make soak` runs more, randomly."""

from __future__ import annotations

import csv
import io
import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice_local.runtime import sqs_event
from tests.faults import FaultPlan, faults_during
from tests.harness import Harness

EXAMPLES = int(os.environ.get("SLUICE_PROPERTY_EXAMPLES", "100"))
RANDOM = os.environ.get("SLUICE_PROPERTY_RANDOM") == "1"
KEYS = [f"k{i}@x.org" for i in range(7)]
NAMES = ["Ann", "Bo", "Cy Dee", "Ümit", "x,y", 'say "hi"']
SCHEMA = {
    "key": ["email"],
    "fields": {"email": {"type": "email", "required": True}, "name": {"type": "string"},
               "age": {"type": "integer", "min": 0, "max": 150}},
}
_tenants = itertools.count()


@dataclass(frozen=True)
class Row:
    key: str
    name: str  # "" is blank
    age: str  # as written in the file: "", a valid integer, "x" or "999"


@dataclass(frozen=True)
class Job:
    rows: list[Row]
    merge: bool


@dataclass(frozen=True)
class LastJob(Job):
    delivery: str = "in-order"
    faults: bool = False
    cancel_after: int | None = None  # chunk deliveries before the cancel
    seed: int = 0


rows = st.lists(st.builds(
    Row,
    key=st.sampled_from(KEYS),
    name=st.sampled_from(["", *NAMES]),
    age=st.one_of(st.just(""), st.integers(0, 150).map(str), st.sampled_from(["x", "999"])),
), min_size=1, max_size=24)
earlier_jobs = st.lists(st.builds(Job, rows=rows, merge=st.booleans()), max_size=2)
last_jobs = st.builds(
    LastJob, rows=rows, merge=st.booleans(),
    delivery=st.sampled_from(["in-order", "twice", "shuffled"]),
    faults=st.booleans(),
    cancel_after=st.one_of(st.none(), st.integers(0, 6)),
    seed=st.integers(0, 2**16),
)


# --- the reference model --------------------------------------------------------------------------


@dataclass
class Model:
    records: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)  # key -> (attributes, version)

    def run(self, job: Job, applied: set[int] | None = None) -> dict[str, Any]:
        """Applies the job's rows in file order (only rows in `applied`, when a cancel skipped some);
        returns the counts and the errors as (row, message)."""
        counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
        errors: list[tuple[int, str]] = []
        first_seen: dict[str, int] = {}
        for number, row in enumerate(job.rows, start=1):
            duplicate_of = first_seen.setdefault(row.key, number)
            if applied is not None and number not in applied:
                continue
            message = _age_error(row.age)
            if message is None and duplicate_of != number:
                message = f"duplicate key, first seen at row {duplicate_of}"
            if message is not None:
                counts["failed"] += 1
                errors.append((number, message))
                continue
            attributes: dict[str, Any] = {"email": row.key}
            if row.name:
                attributes["name"] = row.name
            if row.age:
                attributes["age"] = int(row.age)
            before = self.records.get(row.key)
            if before is None:
                self.records[row.key] = (attributes, 1)
                counts["created"] += 1
                continue
            after = {**before[0], **attributes} if job.merge else attributes
            if after == before[0]:
                counts["unchanged"] += 1
            else:
                self.records[row.key] = (after, before[1] + 1)
                counts["updated"] += 1
        return {"counts": counts, "errors": errors}


def _age_error(age: str) -> str | None:
    if age == "x":
        return "expected an integer"
    if age == "999":
        return "must be at most 150"
    return None


# --- driving Sluice -------------------------------------------------------------------------------


def _csv(job: Job) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "age"])
    for row in job.rows:
        writer.writerow([row.key, row.name, row.age])
    return out.getvalue()


def _deliver(h: Harness, job: LastJob) -> None:
    if job.delivery == "twice":
        h.pump_twice()
    elif job.delivery == "shuffled":
        h.pump_shuffled(seed=job.seed)
    else:
        h.pump()


def _deliver_some_chunks(h: Harness, count: int) -> None:
    h.drain("IngestQueue")
    url = h.queue_url("ChunkQueue")
    for _ in range(count):
        messages = h.receive("ChunkQueue", 1, hide_seconds=600)
        if not messages:
            return
        result = h.invoke("WorkerFunction", sqs_event(messages, h.template.physical["ChunkQueue"]["Arn"])) or {}
        if not result.get("batchItemFailures"):
            h.sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def _result_rows(h: Harness, tenant: str, job_id: str, kind: str) -> set[int]:
    return {int(r[-3]) for r in h.result_rows(job_id, kind, tenant=tenant)[1:]}


def _check_job(h: Harness, tenant: str, model: Model, job: Job, finished: dict[str, Any], canceled: bool) -> None:
    counts = finished["counts"]
    assert counts["processed"] + counts["unprocessed"] == counts["total"], counts
    if canceled:
        assert finished["status"] in ("Canceled", "Completed"), finished
        applied = _result_rows(h, tenant, finished["jobId"], "succeeded") | \
            _result_rows(h, tenant, finished["jobId"], "failed")
        skipped = _result_rows(h, tenant, finished["jobId"], "unprocessed")
        assert not applied & skipped
        assert applied | skipped <= set(range(1, len(job.rows) + 1))
        assert len(skipped) == counts["unprocessed"]
        if counts["total"] == len(job.rows):
            assert applied | skipped == set(range(1, len(job.rows) + 1))
        expected = model.run(job, applied)
    else:
        assert finished["status"] == "Completed", finished
        assert counts["total"] == len(job.rows) and counts["unprocessed"] == 0
        expected = model.run(job)
    assert {k: counts[k] for k in expected["counts"]} == expected["counts"], (counts, expected)
    assert counts["processed"] == sum(expected["counts"].values())
    listed = h.call("GET", f"/v1/jobs/{finished['jobId']}/errors?limit=1000", tenant=tenant).json()["items"]
    errors = [(e["row"], e["message"]) for e in listed]
    assert sorted(errors) == sorted(expected["errors"])
    if not canceled:
        succeeded = _result_rows(h, tenant, finished["jobId"], "succeeded")
        failed = _result_rows(h, tenant, finished["jobId"], "failed")
        assert failed == {row for row, _ in expected["errors"]}
        assert succeeded == set(range(1, len(job.rows) + 1)) - failed


def _check_records(h: Harness, tenant: str, model: Model) -> None:
    reply = h.call("GET", "/v1/records/contact?limit=1000", tenant=tenant)
    stored = {r["key"]: (r["attributes"], r["version"]) for r in reply.json()["items"]}
    assert stored == model.records


@pytest.mark.skipif(EXAMPLES == 0, reason="SLUICE_PROPERTY_EXAMPLES=0")
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(earlier=earlier_jobs, last=last_jobs)
def test_random_jobs_match_the_sequential_model(harness: Harness, earlier: list[Job], last: LastJob) -> None:
    tenant = f"prop{next(_tenants)}"
    harness.retry_at_once()
    harness.define(schema=SCHEMA, tenant=tenant)
    model = Model()
    for job in earlier:
        submitted = harness.submit_csv(_csv(job), tenant=tenant, merge=str(job.merge).lower())
        _check_job(harness, tenant, model, job, harness.run(submitted["jobId"], tenant), canceled=False)
    plan = FaultPlan(throttle=0.1, timeout=0.05, lost_reply=0.05, seed=last.seed) if last.faults else FaultPlan()
    with faults_during(plan):
        submitted = harness.submit_csv(_csv(last), tenant=tenant, merge=str(last.merge).lower())
        canceled = last.cancel_after is not None
        if canceled:
            _deliver_some_chunks(harness, last.cancel_after or 0)
            reply = harness.call("POST", f"/v1/jobs/{submitted['jobId']}/cancel", tenant=tenant)
            assert reply.status_code in (202, 409), reply.content
        _deliver(harness, last)
    finished = harness.job(submitted["jobId"], tenant)
    _check_job(harness, tenant, model, last, finished, canceled)
    _check_records(harness, tenant, model)
