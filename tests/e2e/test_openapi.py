"""schemathesis against the OpenAPI document the API serves, over HTTP on the local stack: generated
requests for every operation, with a valid key; no 5xx, and every response conforms to the document
(status documented, body matching its schema, content type as declared)."""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import Stack

EXAMPLES_PER_OPERATION = int(os.environ.get("SLUICE_SCHEMATHESIS_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_served_document_is_valid_and_covers_the_api(stack: Stack) -> None:
    document = requests.get(f"{stack.api}/v1/openapi.json", timeout=10).json()
    assert document["openapi"] == "3.1.0"
    assert len([m for item in document["paths"].values() for m in item if m != "parameters"]) == 56
    schema = schemathesis.openapi.from_url(f"{stack.api}/v1/openapi.json")
    labels = {_operation(result).label for result in schema.get_all_operations()}
    assert len(labels) == 55 and "GET /v1/openapi.json" not in labels  # schemathesis leaves out the document itself


def test_generated_requests_get_no_5xx_and_match_the_document(stack: Stack) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.api}/v1/openapi.json")
    session = requests.Session()
    session.headers.update(stack.headers())
    calls = 0
    statuses: set[int] = set()
    for result in schema.get_all_operations():
        operation = _operation(result)

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case) -> None:
            response = case.call_and_validate(base_url=stack.api, session=session, checks=CHECKS)
            nonlocal calls
            calls += 1
            statuses.add(response.status_code)

        exercise()
    assert calls >= 25 * 3
    assert not {s for s in statuses if s >= 500}


def _operation(result: object) -> Any:
    assert isinstance(result, Ok), result
    return result.ok()
