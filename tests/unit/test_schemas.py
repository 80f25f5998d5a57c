from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from sluice.models.schemas import ItemTypeDefinition, RowValidator


def _validator(**fields: dict) -> RowValidator:
    return RowValidator(ItemTypeDefinition.model_validate({"fields": fields}))


@pytest.mark.parametrize(("spec", "raw", "expected"), [
    ({"type": "integer"}, " 42 ", 42),
    ({"type": "integer"}, "3.0", 3),
    ({"type": "integer"}, 7.0, 7),
    ({"type": "integer"}, "+5", 5),
    ({"type": "decimal"}, "1.50", Decimal("1.5")),
    ({"type": "decimal"}, "0.000", Decimal(0)),
    ({"type": "decimal"}, 2.5, Decimal("2.5")),
    ({"type": "boolean"}, "YES", True),
    ({"type": "boolean"}, "0", False),
    ({"type": "boolean"}, False, False),
    ({"type": "date"}, "2024-02-29", "2024-02-29"),
    ({"type": "date"}, "2024-02-29T10:00:00", "2024-02-29"),
    ({"type": "datetime"}, "2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00Z"),
    ({"type": "datetime"}, "2024-05-01 10:00", "2024-05-01T10:00:00Z"),
    ({"type": "datetime"}, "2024-05-01T10:00:00z", "2024-05-01T10:00:00Z"),
    ({"type": "email"}, " Ann.Lee+x@Example.ORG ", "ann.lee+x@example.org"),
    ({"type": "enum", "values": ["Gold", "silver"]}, "gold", "Gold"),
    ({"type": "string"}, "  keep spaces  ", "  keep spaces  "),
    ({"type": "string"}, 12, "12"),
])
def test_values_coerce(spec: dict, raw: object, expected: object) -> None:
    attributes, errors = _validator(f=spec).validate(1, {"f": raw})
    assert errors == []
    assert attributes == {"f": expected}
    assert type(attributes["f"]) is type(expected)


@pytest.mark.parametrize(("spec", "raw", "message"), [
    ({"type": "integer"}, "1.5", "expected an integer"),
    ({"type": "integer"}, "1_000", "expected an integer"),
    ({"type": "integer"}, True, "expected an integer, got a boolean"),
    ({"type": "integer", "min": 1}, "0", "must be at least 1"),
    ({"type": "decimal"}, "NaN", "expected a finite decimal number"),
    ({"type": "decimal"}, "1e400", "is out of the supported range (1e-100 to 1e100)"),
    ({"type": "decimal", "max": 10}, "10.01", "must be at most 10"),
    ({"type": "boolean"}, "maybe", "expected a boolean (true/false, yes/no, 1/0)"),
    ({"type": "date"}, "2023-02-29", "expected a date as YYYY-MM-DD"),
    ({"type": "date"}, "01/02/2024",
         "expected a date as YYYY-MM-DD; give dateFormat (e.g. %d/%m/%Y) to read 01/02/2024 day- or month-first"),
    ({"type": "datetime"}, "yesterday", "expected an ISO-8601 date-time such as 2024-05-01T13:45:00Z"),
    ({"type": "email"}, "a@b", "is not a valid email address"),
    ({"type": "email"}, "a b@x.org", "is not a valid email address"),
    ({"type": "enum", "values": ["a", "b"]}, "c", "must be one of: a, b"),
    ({"type": "string", "maxLength": 3}, "abcd", "is 4 characters long; at most 3 allowed"),
    ({"type": "string", "minLength": 2}, "a", "is 1 characters long; at least 2 required"),
    ({"type": "string"}, {"a": 1}, "expected text, got a nested JSON value"),
    ({"type": "integer"}, [1], "expected a single value, got a nested JSON value"),
])
def test_invalid_values_give_precise_messages(spec: dict, raw: object, message: str) -> None:
    attributes, errors = _validator(f=spec).validate(9, {"f": raw})
    assert attributes == {}
    assert [(e.row, e.field, e.message) for e in errors] == [(9, "f", message)]


def test_blank_values_are_absent_and_required_fields_say_so() -> None:
    validator = RowValidator(ItemTypeDefinition.model_validate({
        "key": ["id"], "fields": {"id": {"type": "integer"}, "name": {"type": "string", "required": True},
                                  "note": {"type": "string"}}}))
    attributes, errors = validator.validate(3, {"id": " ", "name": None, "note": ""})
    assert attributes == {}
    assert [(e.field, e.message) for e in errors] == [("id", "is required"), ("name", "is required")]


def test_keys_are_canonical_and_joined_in_key_order() -> None:
    validator = RowValidator(ItemTypeDefinition.model_validate({
        "key": ["b", "a"], "fields": {"a": {"type": "decimal"}, "b": {"type": "email"}, "c": {"type": "string"}}}))
    attributes, _ = validator.validate(1, {"a": "1.50", "b": "X@Y.org"})
    assert validator.key_of(attributes) == "x@y.org|1.5"
    assert validator.key_of_raw({"a": "1.500", "b": "x@y.ORG"}) == "x@y.org|1.5"
    assert validator.key_of_raw({"a": "", "b": "x@y.org"}) is None
    assert validator.key_of_raw({"a": "abc", "b": "x@y.org"}) is None


def test_definition_rejects_bad_shapes() -> None:
    with pytest.raises(ValidationError, match="only applies to enum"):
        ItemTypeDefinition.model_validate({"fields": {"a": {"type": "string", "values": ["x"]}}})
    with pytest.raises(ValidationError, match="key lists a field twice"):
        ItemTypeDefinition.model_validate({"key": ["a", "a"], "fields": {"a": {"type": "string"}}})
