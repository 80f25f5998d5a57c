"""The OpenAPI document names every field the API returns for a job (issue 14): a job with errors, warnings,
created keys and a retry is read back, and each key of the answer, at every depth, is looked up in the
document's schema for it."""

from __future__ import annotations

from typing import Any

from tests.harness import Harness


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas a value may match (through $ref, anyOf and oneOf)."""
    if "$ref" in schema:
        return _resolve(document, document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    found = [schema]
    for choice in schema.get("anyOf", []) + schema.get("oneOf", []):
        found += _resolve(document, choice)
    return found


def _undocumented(document: dict[str, Any], schema: dict[str, Any], value: Any, path: str) -> list[str]:
    schemas = _resolve(document, schema)
    if isinstance(value, dict):
        objects = [s for s in schemas if "properties" in s or "additionalProperties" in s]
        assert objects, f"{path}: an object where the document says {schemas}"
        missing: list[str] = []
        for name, inner in value.items():
            declared = [s["properties"][name] for s in objects if name in s.get("properties", {})] or [
                s["additionalProperties"] for s in objects if isinstance(s.get("additionalProperties"), dict)]
            if not declared:
                missing.append(f"{path}.{name}")
            else:
                missing += _undocumented(document, declared[0], inner, f"{path}.{name}")
        return missing
    if isinstance(value, list):
        items = [s["items"] for s in schemas if "items" in s]
        return [m for i, v in enumerate(value) for m in _undocumented(document, items[0], v, f"{path}[{i}]")] \
            if items else []
    return []


def test_every_field_of_a_job_is_in_the_openapi_document(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv("email,name,nickname\na@x.org,A,x\nnot-an-email,B,y\n")
    harness.run(job["jobId"])
    answer = harness.call("GET", f"/v1/jobs/{job['jobId']}").json()
    assert answer["counts"]["failed"] == 1 and answer["errors"] and answer["warnings"] and answer["files"]
    document = harness.call("GET", "/v1/openapi.json").json()
    operation = document["paths"]["/v1/jobs/{jobId}"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert _undocumented(document, schema, answer, "job") == []
    assert _undocumented(document, schema, {**answer, "counts": {**answer["counts"], "x": 1}}, "job") == [
        "job.counts.x"]  # the check sees a field the document lacks
    listing = harness.call("GET", "/v1/jobs").json()
    listed = document["paths"]["/v1/jobs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert _undocumented(document, listed, listing, "jobs") == []
