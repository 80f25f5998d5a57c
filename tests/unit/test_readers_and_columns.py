from __future__ import annotations

import io

import pytest

from sluice.intake.columns import HeaderMatcher, map_columns
from sluice.intake.readers import DecodeCheck, TextEncoding, detect_format, read_csv, read_jsonl, text_stream
from sluice.models.errors import RejectedInput
from sluice.models.schemas import ItemTypeDefinition
from sluice.pipeline.chunking import split_to_fit
from sluice.pipeline.dedupe import KeyRegistry


def _text(data: bytes) -> io.TextIOWrapper:
    return text_stream(io.BytesIO(data))


def test_csv_rows_are_numbered_from_one_skipping_blank_lines() -> None:
    source = read_csv(_text(b"\xef\xbb\xbfa,b\r\n1,2\r\n\r\n,\n3,\"x\ny\"\n4\n"))
    assert source.header == ["a", "b"]
    rows = [(r.row, r.values, r.error) for r in source.rows]
    assert rows == [(1, ["1", "2"], None), (2, ["3", "x\ny"], None), (3, ["4"], "expected 2 columns, got 1")]
    assert source.blank_rows == [2]


def test_jsonl_header_grows_with_new_keys() -> None:
    source = read_jsonl(_text(b'{"a": 1}\n{"b": 2, "a": 3}\n"str"\n{bad\n'))
    rows = [(r.row, r.values, r.error) for r in source.rows]
    assert source.header == ["a", "b"]
    assert rows[0] == (1, [1], None)
    assert rows[1] == (2, [3, 2], None)
    assert rows[2] == (3, ['"str"'], "is not a JSON object")
    assert rows[3][0] == 4 and rows[3][2].startswith("is not valid JSON")


@pytest.mark.parametrize(("content_type", "name", "head", "expected"), [
    ("text/csv; charset=utf-8", None, b"", "csv"),
    ("application/x-ndjson", None, b"", "jsonl"),
    (None, "People.JSONL", b"", "jsonl"),
    (None, "book.xlsx", b"", "xlsx"),
    (None, None, b"PK\x03\x04", "xlsx"),
    (None, None, b"\xef\xbb\xbf  {\"a\":1}", "jsonl"),
    (None, None, b"a,b\n", "csv"),
])
def test_format_detection(content_type: str | None, name: str | None, head: bytes, expected: str) -> None:
    assert detect_format(content_type, name, head) == expected


def check_utf8(stream: io.BytesIO, block: int = 4) -> None:
    """Feeds the stream to the decoding check in small blocks, as ingest does in 1 MiB ones."""
    check = DecodeCheck(TextEncoding("utf-8", "UTF-8"), fallback_allowed=False)
    while data := stream.read(block):
        check.feed(data)
    check.feed(b"")
    check.result()


def test_utf8_check_names_the_offset() -> None:
    check_utf8(io.BytesIO("é,ü\n".encode() * 1000))
    with pytest.raises(RejectedInput, match="undecodable byte 0xe9 at byte offset 5"):
        check_utf8(io.BytesIO(b"abc\nd\xe9f"))
    with pytest.raises(RejectedInput, match="at byte offset 3"):
        check_utf8(io.BytesIO(b"abc\xc3"))  # truncated multi-byte sequence at the end


def test_columns_map_by_name_mapping_and_case_and_space() -> None:
    definition = ItemTypeDefinition.model_validate({
        "key": ["email"], "fields": {"email": {"type": "email"}, "firstName": {"type": "string"},
                                     "age": {"type": "integer", "required": True}},
        "columns": {"E-mail Address": "email"}})
    mapping = map_columns(["e-mail address", "First Name", " AGE ", "notes", ""], definition,
                          HeaderMatcher(definition))
    assert mapping.field_index == {"email": 0, "firstName": 1, "age": 2}
    assert mapping.ignored == ["notes"]
    with pytest.raises(RejectedInput, match="missing required columns: email, age"):
        map_columns(["firstName"], definition, HeaderMatcher(definition))


def test_split_to_fit_halves_until_each_part_fits() -> None:
    rows = [(i, 0, ["x" * 10], None) for i in range(1, 9)]
    parts = split_to_fit(rows, lambda part: 30 * len(part), 70)
    assert [[r[0] for r in p] for p in parts] == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert split_to_fit(rows, lambda part: 10, 70) == [rows]


def test_key_registry_reports_the_first_row() -> None:
    with KeyRegistry() as registry:
        assert registry.first_seen("a", 1) == 0
        assert registry.first_seen("b", 2) == 0
        assert registry.first_seen("a", 7) == 1
        assert registry.first_seen("a", 9) == 1
