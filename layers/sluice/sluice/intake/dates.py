"""Reading numeric dates (03/04/2024) without guessing: a date column is read day-first or month-first only when
its own values say which (one of them has a day over 12), or when a `dateFormat` says so. A column whose every
numeric date reads both ways rejects the job, naming the column and some of its values."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sluice.models.errors import RejectedInput
from sluice.models.schemas import NUMERIC_DATE

SAMPLES = 3


@dataclass
class DateColumn:
    """What one date column's numeric values say about their order."""

    header: str
    target: str  # the field the column feeds
    day_first: str | None = None  # a value that only reads day-first (25/04/2024)
    month_first: str | None = None  # a value that only reads month-first (04/25/2024)
    separator: str = "/"
    long_year: bool = True
    ambiguous: list[str] = field(default_factory=list)

    def see(self, raw: Any) -> None:
        if not isinstance(raw, str):
            return
        text = raw.strip()
        match = NUMERIC_DATE.match(text)
        if match is None:
            return
        first, second = int(match[1]), int(match[3])
        if not self.day_first and not self.month_first and not self.ambiguous:
            self.separator, self.long_year = match[2], len(match[4]) == 4
        if first > 12 >= second:
            self.day_first = self.day_first or text
        elif second > 12 >= first:
            self.month_first = self.month_first or text
        elif first <= 12 and second <= 12 and len(self.ambiguous) < SAMPLES and text not in self.ambiguous:
            self.ambiguous.append(text)

    def pattern(self) -> str | None:
        """The strftime pattern the column's values are read with; None: it holds no numeric dates."""
        where = f"column '{self.header}'" + (f" (field '{self.target}')" if self.header != self.target else "")
        if self.day_first and self.month_first:
            raise RejectedInput(f"{where} mixes day-first ({self.day_first}) and month-first ({self.month_first}) "
                                "dates; fix the file or give dateFormat")
        year = "%Y" if self.long_year else "%y"
        if self.day_first:
            return self.separator.join(("%d", "%m", year))
        if self.month_first:
            return self.separator.join(("%m", "%d", year))
        if self.ambiguous:
            raise RejectedInput(f"{where} holds dates that read both day-first and month-first "
                                f"({', '.join(self.ambiguous)}); give dateFormat (e.g. %d/%m/%Y or %m/%d/%Y) on "
                                "the request or on the field")
        return None


class DateOrders:
    """The date columns' orders, learnt from (header, values) rows fed in file order (a JSON Lines header grows as
    its rows are read); `columns` carries what earlier rows showed, when the reading goes on in another slice.
    date_field: the date field a header feeds that needs an order from the file, if any."""

    def __init__(self, date_field: Callable[[str], str | None], columns: list[dict[str, Any]] | None = None) -> None:
        self._date_field = date_field
        self.columns = [DateColumn(**column) for column in columns or []]  # one per header column seen so far
        self._watched = [(position, column) for position, column in enumerate(self.columns) if column.target]

    def see(self, header: list[str], values: list[Any]) -> None:
        for position in range(len(self.columns), len(header)):
            name = self._date_field(header[position])
            self.columns.append(DateColumn(header[position], name or ""))
            if name:
                self._watched.append((position, self.columns[-1]))
        for position, column in self._watched:
            if position < len(values):
                column.see(values[position])

    def state(self) -> list[dict[str, Any]]:
        return [asdict(column) for column in self.columns]

    def patterns(self) -> dict[str, str]:
        """field -> the pattern its numeric dates are read with; RejectedInput for a column that cannot tell."""
        found: dict[str, str] = {}
        for _, column in self._watched:
            if pattern := column.pattern():
                found[column.target] = pattern
        return found


def date_orders(rows: Iterable[tuple[list[str], list[Any]]], date_field: Callable[[str], str | None]
                ) -> dict[str, str]:
    """The pattern of each date column whose values are numeric dates, from every (header, values) row."""
    orders = DateOrders(date_field)
    for header, values in rows:
        orders.see(header, values)
    return orders.patterns()
