"""A record's attributes are stored as one JSON text: exact numbers both ways, and records written before as a
map of typed attributes still read the same."""

from __future__ import annotations

from decimal import Decimal

from sluice.store.dynamo import to_av
from sluice.store.records import decode_attributes, encode_attributes

ATTRIBUTES = {"email": "ada@example.org", "age": 36, "score": Decimal("12345678901234567890.123456789012345678"),
              "ratio": Decimal("0.10"), "active": False, "note": None, "big": 9_223_372_036_854_775_807,
              "small": -9_223_372_036_854_775_808, "joined": "2024-03-04", "text": "é \"quoted\" | \\ \n"}


def test_attributes_are_one_json_text_with_exact_numbers() -> None:
    stored = encode_attributes(ATTRIBUTES)
    assert list(stored) == ["S"]
    assert '"score":12345678901234567890.123456789012345678' in stored["S"]
    assert '"ratio":0.10' in stored["S"]
    decoded = decode_attributes(stored)
    assert decoded == ATTRIBUTES
    assert [type(v) for v in decoded.values()] == [type(v) for v in ATTRIBUTES.values()]
    assert str(decoded["ratio"]) == "0.10" and str(decoded["score"]) == "12345678901234567890.123456789012345678"


def test_records_stored_as_a_map_of_typed_attributes_read_the_same() -> None:
    assert decode_attributes(to_av(ATTRIBUTES)) == ATTRIBUTES
