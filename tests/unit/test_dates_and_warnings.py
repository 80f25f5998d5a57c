"""Issue 18's small parts: numeric-date sniffing and ordering, the nearest field, date patterns."""

from __future__ import annotations

import pytest

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
