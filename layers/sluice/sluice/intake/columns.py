"""Matching source headers to schema fields."""

from __future__ import annotations

from dataclasses import dataclass

from sluice.models.errors import RejectedInput
from sluice.models.schemas import ItemTypeDefinition, normalise_header


@dataclass(frozen=True)
class ColumnMap:
    header: list[str]
    field_index: dict[str, int]  # field name -> column position
    ignored: list[str]


class HeaderMatcher:
    """Resolves a source header to a field: the explicit `columns` mapping first, then the field names,
    both compared case- and space-insensitively."""

    def __init__(self, definition: ItemTypeDefinition, extra_columns: dict[str, str] | None = None) -> None:
        self._by_name: dict[str, str] = {normalise_header(f): f for f in definition.fields}
        for source, target in {**definition.columns, **(extra_columns or {})}.items():
            self._by_name[normalise_header(source)] = target

    def field_for(self, header: str) -> str | None:
        return self._by_name.get(normalise_header(header))


def _listed(names: list[str], at_most: int = 20) -> str:
    return ", ".join(names[:at_most]) + (f", … ({len(names) - at_most} more)" if len(names) > at_most else "")


def map_columns(header: list[str], definition: ItemTypeDefinition, matcher: HeaderMatcher) -> ColumnMap:
    seen: dict[str, str] = {}
    for column in header:
        key = normalise_header(column)
        if not key:
            continue
        if key in seen:
            raise RejectedInput(f"duplicate column header '{column}' (also '{seen[key]}'); headers must be unique")
        seen[key] = column
    field_index: dict[str, int] = {}
    ignored: list[str] = []
    for position, column in enumerate(header):
        target = matcher.field_for(column)
        if target is None:
            if column.strip():
                ignored.append(column)
            continue
        if target in field_index:
            first = header[field_index[target]]
            raise RejectedInput(f"columns '{first}' and '{column}' both map to field '{target}'")
        field_index[target] = position
    required = [
        name
        for name, spec in definition.fields.items()
        if (spec.required or name in (definition.key or [])) and name not in field_index
    ]
    if required:
        raise RejectedInput(f"missing required columns: {', '.join(required)}; expected "
                            f"{_listed(list(definition.fields))}; found {_listed([h for h in header if h.strip()])}")
    return ColumnMap(header=header, field_index=field_index, ignored=ignored)
