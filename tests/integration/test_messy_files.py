"""Issue 9's corpus: every awkward file through the whole pipeline, outcomes asserted exactly."""

from __future__ import annotations

import io

import pytest

from tests.fixtures.corpus import PERSON, Case, cases
from tests.harness import Harness

CASES = cases()


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_file(harness: Harness, case: Case) -> None:
    harness.define("person", PERSON)
    reply = harness.call("POST", "/v1/jobs", files={"file": (case.file_name, io.BytesIO(case.data))},
                         data={"itemType": "person", **case.options})
    assert reply.status_code == 202, reply.content
    job = harness.run(reply.json()["jobId"])
    assert job["status"] == case.status, job
    if case.reason is not None:
        assert job["reason"] == case.reason
    if case.counts is not None:
        counts = job["counts"]
        assert {k: counts[k] for k in case.counts} == case.counts, counts
        assert counts["processed"] == counts["total"]
    for name, expected in case.facts.items():
        assert job[name] == expected, (name, job[name])
    if case.errors is not None:
        assert [(e["row"], e.get("line"), e["field"], e["message"]) for e in job["errors"]] == case.errors
    for key, attributes in case.records.items():
        record = harness.call("GET", f"/v1/records/person/{key}")
        assert record.status_code == 200, (key, record.content)
        assert record.json()["attributes"] == attributes
    if job["status"] == "Rejected":
        assert harness.dynamodb.scan(TableName=harness.clients.settings.records_table, Select="COUNT")["Count"] == 0
