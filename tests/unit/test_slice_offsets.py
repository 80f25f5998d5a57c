"""A slice ends after a record and the next starts at that record's byte offset: cutting a file after any record
and reading on from there gives exactly the rows (values, row and line numbers) of one reading, in every
encoding the readers accept, with quoted line breaks, CRLF, blank lines, NULs and JSON Lines keys that grow."""

from __future__ import annotations

import codecs
import io
from typing import Any

import pytest

from sluice.intake.readers import LineCounter, read_csv, read_jsonl, resume_codec, sniff_encoding, text_stream
from sluice.intake.sources import OpenedSource
from sluice.models.slices import TextPosition

CSV_TEXT = ('email,name,note\r\n"a@x.org",Ann,"two\r\nlines"\r\nb@x.org,Bjørn,plain\r\n\r\nc@x.org,"Zoë, Ltd",'
            '"x""y"\r\nd@x.org,D\x00an,end\r\ne@x.org,日本,"three\nline\nfield"\r\nf@x.org,F,last\r\n')
JSONL_TEXT = ('{"email": "a@x.org"}\n\n{"email": "b@x.org", "name": "Bjørn"}\n{"age": 3, "email": "c@x.org"}\n'
              '{"email": "d@x.org", "name": "日本", "new": true}\n')
ENCODINGS = [("utf-8", False), ("utf-8", True), ("utf-16-le", True), ("utf-16-be", True), ("utf-16-le", False),
             ("cp1252", False), ("shift_jis", False), ("gb18030", False), ("utf-32", False)]


def _encode(text: str, encoding: str, bom: bool) -> bytes:
    marks = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
    if encoding == "cp1252":
        text = text.replace("日本", "Nihon")
    if encoding == "shift_jis":
        text = text.replace("ø", "o").replace("ë", "e")
    return (marks[encoding] if bom else b"") + text.encode(encoding)


def _open(data: bytes, declared: str | None, fmt: str, position: TextPosition | None = None) -> OpenedSource:
    encoding = sniff_encoding(data[:65536], declared)
    codec, start = resume_codec(encoding.codec, data[:65536])
    if position is None:
        lines = LineCounter(text_stream(io.BytesIO(data), encoding.codec), codec)
        source = read_csv(lines) if fmt == "csv" else read_jsonl(lines)
        return OpenedSource(source, fmt, "", len(data), {"format": fmt, "delimiter": ","}, [], lines, codec, start)
    lines = LineCounter(text_stream(io.BytesIO(data[position.offset:]), position.codec),
                        position.codec, position.line, position.nuls)
    kwargs: dict[str, Any] = {"header": position.header, "rows_before": position.row, "lines_before": position.line,
                              "blank_before": position.blankRows}
    source = read_csv(lines, ",", **kwargs) if fmt == "csv" else read_jsonl(lines, **kwargs)
    return OpenedSource(source, fmt, "", len(data), {"format": fmt, "delimiter": ","}, [], lines, position.codec,
                        position.offset)


@pytest.mark.parametrize(("encoding", "bom"), ENCODINGS)
@pytest.mark.parametrize(("fmt", "text"), [("csv", CSV_TEXT), ("jsonl", JSONL_TEXT)])
def test_reading_on_from_any_record_boundary_gives_the_same_rows(encoding: str, bom: bool, fmt: str,
                                                                  text: str) -> None:
    data = _encode(text, encoding, bom)
    declared = None if bom or encoding == "utf-8" else encoding
    whole = _open(data, declared, fmt)
    rows = []
    positions = []
    for row in whole.source.rows:
        rows.append((row.row, row.line, list(row.values), row.error))
        positions.append(whole.position(row.row))
    assert len(rows) >= 4
    for cut, position in enumerate(positions):
        resumed = _open(data, declared, fmt, position)
        rest = [(r.row, r.line, list(r.values), r.error) for r in resumed.source.rows]
        assert rest == rows[cut + 1:], (cut, position)
        assert resumed.position(rows[-1][0]).offset == len(data)
        assert resumed.source.blank_rows[0] == whole.source.blank_rows[0]
        assert resumed.lines is not None and whole.lines is not None and resumed.lines.nuls == whole.lines.nuls
