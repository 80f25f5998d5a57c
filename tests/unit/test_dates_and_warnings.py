"""Issue 18's small parts: numeric-date sniffing and ordering, the nearest field, date patterns."""

from __future__ import annotations

import random

import pytest

from sluice.intake import readers
from sluice.intake.dates import date_orders
from sluice.intake.readers import NumericDateSniff
from sluice.models.errors import RejectedInput
from sluice.models.schemas import check_date_format
from sluice.models.warnings import closest_field


@pytest.mark.parametrize(("blocks", "found"), [
    ([b"a,2024-01-05,x\n", b"b,2024-01-05T10:00:00Z\n"], False),  # ISO only: no read-ahead needed
    ([b"v1.2.3,10:00\n"], False),
    ([b"a,03/04/2024\n"], True),
    ([b"a,1.5.24\n"], True),
    ([b"x" * 40 + b"0", b"3/04/2024\n"], True),  # split across blocks
    ([b"x" * 40 + b"2024-", b"01-05\n"], False),  # an ISO date split across blocks is still ISO
])
def test_numeric_dates_are_sniffed_in_raw_bytes(blocks: list[bytes], found: bool) -> None:
    sniff = NumericDateSniff()
    for block in [*blocks, b""]:
        sniff.feed(block)
    assert sniff.found is found


@pytest.mark.parametrize("seed", range(20))
def test_the_sniff_in_blocks_finds_what_the_pattern_finds_in_the_whole(seed: int) -> None:
    """The prefilter and the block boundaries never change the answer (random digits, separators, v1.2.3, ISO)."""
    chooser = random.Random(seed)
    text = bytes(chooser.choice(b"0123456789/.-,x\n") for _ in range(chooser.randint(0, 400)))
    cuts = sorted(chooser.sample(range(len(text) + 1), min(len(text) + 1, chooser.randint(0, 6))))
    blocks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    sniff = NumericDateSniff()
    for block in [*blocks, b""]:
        sniff.feed(block)
    assert sniff.found is (NumericDateSniff._PATTERN.search(text) is not None)


def _orders(rows: list[list[str]]) -> dict[str, str]:
    header = ["id", "on"]
    return date_orders(((header, r) for r in rows), lambda h: "on" if h == "on" else None)


def test_a_columns_order_comes_from_a_value_that_reads_one_way() -> None:
    assert _orders([["1", "03/04/2024"], ["2", "25/04/2024"]]) == {"on": "%d/%m/%Y"}
    assert _orders([["1", "03-04-24"], ["2", "04-25-24"]]) == {"on": "%m-%d-%y"}
    assert _orders([["1", "2024-01-01"], ["2", ""]]) == {}
    with pytest.raises(RejectedInput, match=r"column 'on' holds dates that read both day-first and month-first "
                                            r"\(03/04/2024, 01/02/2024\)"):
        _orders([["1", "03/04/2024"], ["2", "01/02/2024"], ["3", "03/04/2024"]])
    with pytest.raises(RejectedInput, match="mixes day-first"):
        _orders([["1", "25/04/2024"], ["2", "04/25/2024"]])


def test_closest_field_and_date_patterns() -> None:
    fields = ["email", "name", "age", "joined"]
    assert closest_field("nmae", fields) == "name"
    assert closest_field("E Mail", fields) == "email"
    assert closest_field("colour", fields) is None
    assert check_date_format("%d.%m.%Y") == "%d.%m.%Y"
    for bad in ("%d/%m", "%Y", "dd/mm/yyyy"):
        with pytest.raises(ValueError, match="is not a strftime pattern naming day, month and year"):
            check_date_format(bad)


@pytest.mark.parametrize("seed", range(20))
def test_the_line_length_check_names_the_same_line_however_the_bytes_come(seed: int,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The block fast path and the line-by-line walk agree: the first line over the limit, by number, or none."""
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 20)
    chooser = random.Random(seed)
    lines = [b"y" * chooser.choice([0, 3, 19, 20, 20, 21, 40]) for _ in range(chooser.randint(1, 30))]
    text = b"\n".join(lines) + chooser.choice([b"", b"\n"])
    expected = next((n for n, line in enumerate(lines, 1) if len(line) > 20), None)
    cuts = sorted(chooser.sample(range(len(text) + 1), min(len(text) + 1, chooser.randint(0, 8))))
    check = readers.LineLengthCheck()
    try:
        for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True):
            check.feed(text[a:b])
    except RejectedInput as rejected:
        assert rejected.reason.startswith(f"line {expected} is longer than 20 bytes")
    else:
        assert expected is None
