"""Item-type schemas: the definition clients PUT, and the compiled row validator the worker runs.

Row validation is the hot path (one call per row per field), so each field compiles to one plain
function that coerces a raw value or raises FieldError with a message a user can act on."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from sluice.models.fields import EMAIL
from sluice.models.ids import NAME_PATTERN
from sluice.models.limits import INTEGER_MAX, INTEGER_MIN, MAX_DECIMAL_DIGITS, MAX_KEY_BYTES

MAX_ALIASES = 50
# An item type's other name, as a seed client sends it (an importProcessId, entityTypeAbbr or trackId)
Alias = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$"),
                  AfterValidator(lambda alias: _plain_alias(alias))]


def _plain_alias(alias: str) -> str:
    """Aliases must be unique and are typed by seed clients: printable ASCII only, so that no look-alike letter of
    another script (a Cyrillic A for a Latin A) makes a second alias that reads the same."""
    alias = unicodedata.normalize("NFC", alias)
    if not alias.isascii() or not alias.isprintable():
        raise ValueError(f"alias {alias!r} must be printable ASCII (look-alike letters of other scripts are refused)")
    return alias
FieldType = Literal["string", "integer", "decimal", "boolean", "date", "datetime", "email", "enum"]
MAX_FIELDS = 200
DEFAULT_MAX_STRING = 10_000
MAX_VALUE_IN_ERROR = 200
KEY_SEPARATOR = "|"

DATE_FORMAT_MAX = 64


def check_date_format(pattern: str) -> str:
    """A strftime pattern that writes and reads back a whole date (day, month and year), else ValueError."""
    sample = date(2024, 3, 4)
    try:
        parsed = datetime.strptime(sample.strftime(pattern), pattern).date()
    except ValueError:
        parsed = None
    if parsed != sample:
        raise ValueError(f"dateFormat '{pattern}' is not a strftime pattern naming day, month and year, "
                         "such as %d/%m/%Y or %m/%d/%Y")
    return pattern


# A request's or a field's `dateFormat`: bounded, and checked to name day, month and year
DateFormat = Annotated[str, Field(max_length=DATE_FORMAT_MAX), AfterValidator(check_date_format)]
# a date written day and month first in either order: 03/04/2024, 3.4.24, 03-04-2024
NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})$")

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FieldType
    required: bool = False
    maxLength: int | None = Field(default=None, ge=1, le=100_000)
    minLength: int | None = Field(default=None, ge=0, le=100_000)
    min: Decimal | None = Field(default=None, description="integer and decimal fields: the smallest value allowed")
    max: Decimal | None = Field(default=None, description="integer and decimal fields: the largest value allowed")
    values: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    id: int | None = Field(default=None, ge=0, le=2**53 - 1, strict=True,
                           description="the field's id for seed clients (002's attrDefId); unique in its item type")
    dateFormat: DateFormat | None = Field(default=None,
                                          description="date fields: the strftime pattern of their values (e.g. "
                                                      "%d/%m/%Y); ISO dates are read too")

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum field needs 'values'")
        if self.type != "enum" and self.values is not None:
            raise ValueError("'values' only applies to enum fields")
        if self.dateFormat is not None and self.type != "date":
            raise ValueError("'dateFormat' only applies to date fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is greater than 'max'")
        return self

    @field_serializer("min", "max", when_used="json-unless-none")
    def _bound(self, value: Decimal) -> int | float | str:
        return json_number(value)


NUMERIC_TYPES = frozenset({"integer", "decimal"})


def misplaced_bounds(body: Any) -> str | None:
    """Why a PUT item-type body is refused for `min`/`max` on a field that is no number (such bounds were stored
    and never checked before 2026-12: refused for new definitions only, so stored ones still load)."""
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        return None
    misplaced = [name for name, spec in fields.items() if isinstance(spec, dict)
                 and spec.get("type") not in NUMERIC_TYPES
                 and (spec.get("min") is not None or spec.get("max") is not None)]
    if not misplaced:
        return None
    return (f"{', '.join(f'fields.{name}' for name in misplaced)}: 'min' and 'max' apply to integer and decimal "
            "fields only (use minLength/maxLength for text)")


def json_number(value: Decimal) -> int | float | str:
    """A decimal as a JSON number: an integer, or a double when one holds it exactly; else its exact text (a JSON
    reader would round a number written with every digit)."""
    if value == value.to_integral_value() and -(2**63) <= value < 2**63:
        return int(value)
    double = float(value)
    return double if Decimal(repr(double)) == value else format(value, "f")


class ItemTypeDefinition(BaseModel):
    """The body of PUT /v1/item-types/{itemType}."""

    model_config = ConfigDict(extra="forbid")

    key: list[str] | None = Field(default=None, min_length=1, max_length=8)
    fields: dict[str, FieldSpec] = Field(min_length=1, max_length=MAX_FIELDS)
    columns: dict[str, str] = Field(default_factory=dict, max_length=1000)
    aliases: list[Alias] | None = Field(default=None, max_length=MAX_ALIASES,
                                        description="other names seed clients use for this item type "
                                                    "(unique within the tenant, case-sensitive)")

    @field_validator("fields")
    @classmethod
    def _names(cls, fields: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        bad = [name for name in fields if not NAME_PATTERN.fullmatch(name)]
        if bad:
            raise ValueError(f"field names must match {NAME_PATTERN.pattern}: {', '.join(bad)}")
        return fields

    @model_validator(mode="after")
    def _references(self) -> ItemTypeDefinition:
        for name in self.key or []:
            if name not in self.fields:
                raise ValueError(f"key field '{name}' is not among the fields")
        if self.key and len(set(self.key)) != len(self.key):
            raise ValueError("key lists a field twice")
        for column, target in self.columns.items():
            if target not in self.fields:
                raise ValueError(f"column '{column}' maps to unknown field '{target}'")
        _unique("aliases", "alias", self.aliases or [])
        _unique("field ids", "id", [spec.id for spec in self.fields.values() if spec.id is not None])
        return self


def _unique(what: str, each: str, values: list[Any]) -> None:
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique; {each} {', '.join(repeated)} appears more than once")


class FieldError(ValueError):
    pass


Coercer = Callable[[Any], Any]


def _text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, dict | list):
        raise FieldError("expected a single value, got a nested JSON value")
    return str(raw)


def _bounds(spec: FieldSpec, value: Any) -> None:
    if spec.min is not None and value < spec.min:
        raise FieldError(f"must be at least {spec.min}")
    if spec.max is not None and value > spec.max:
        raise FieldError(f"must be at most {spec.max}")


def _string(spec: FieldSpec) -> Coercer:
    limit = spec.maxLength or DEFAULT_MAX_STRING
    minimum = spec.minLength or 0

    def coerce(raw: Any) -> str:
        if isinstance(raw, dict | list):
            raise FieldError("expected text, got a nested JSON value")
        value = raw if isinstance(raw, str) else _text(raw)
        if len(value) > limit:
            if spec.maxLength is None:
                raise FieldError(f"is {len(value)} characters long; text values are at most {DEFAULT_MAX_STRING} "
                                 "characters (the limit for a string field without maxLength)")
            raise FieldError(f"is {len(value)} characters long; at most {limit} allowed")
        if len(value) < minimum:
            raise FieldError(f"is {len(value)} characters long; at least {minimum} required")
        return value

    return coerce


# Decimal's default context rounds to 28 digits; values are kept to MAX_DECIMAL_DIGITS, so normalising uses more.
_EXACT = Context(prec=2 * MAX_DECIMAL_DIGITS)
_INTEGER_RANGE = f"integers are stored from {INTEGER_MIN} to {INTEGER_MAX}"
_LONGEST_INTEGER_TEXT = 40  # beyond this many characters no text can hold an integer in range (exponents aside)


def _integer(spec: FieldSpec) -> Coercer:
    def coerce(raw: Any) -> int:
        value = _whole_number(raw)
        if not INTEGER_MIN <= value <= INTEGER_MAX:
            raise FieldError(f"is out of range: {_INTEGER_RANGE}")
        _bounds(spec, value)
        return value

    return coerce


def _whole_number(raw: Any) -> int:
    """The integer a raw value holds (a float or text with a zero fraction counts), else a FieldError."""
    if isinstance(raw, bool):
        raise FieldError("expected an integer, got a boolean")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float):
        if not raw.is_integer():
            raise FieldError("expected an integer")
        value = int(raw)
    else:
        text = _text(raw).replace("_", "x")
        if len(text) > _LONGEST_INTEGER_TEXT and "e" not in text.lower():
            raise FieldError(f"is {len(text)} characters long, too long for an integer: {_INTEGER_RANGE}")
        try:
            value = int(text)
        except ValueError:
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise FieldError("expected an integer") from None
            if not number.is_finite() or number != number.to_integral_value():
                raise FieldError("expected an integer") from None
            if number.adjusted() > 20:
                raise FieldError(f"is out of range: {_INTEGER_RANGE}") from None
            value = int(number)
    return value


def _decimal(spec: FieldSpec) -> Coercer:
    def coerce(raw: Any) -> Decimal:
        if isinstance(raw, bool):
            raise FieldError("expected a number, got a boolean")
        try:
            value = Decimal(str(raw) if isinstance(raw, float) else _text(raw).replace("_", "x"))
        except InvalidOperation:
            raise FieldError("expected a decimal number") from None
        if not value.is_finite():
            raise FieldError("expected a finite decimal number")
        if value.adjusted() > 100 or value.adjusted() < -100:
            raise FieldError("is out of the supported range (1e-100 to 1e100)")
        if len(value.normalize(_EXACT).as_tuple().digits) > MAX_DECIMAL_DIGITS:
            raise FieldError(f"has more than {MAX_DECIMAL_DIGITS} significant digits, which is what is stored exactly")
        _bounds(spec, value)
        return value.normalize(_EXACT) if value else Decimal(0)

    return coerce


def _boolean(_: FieldSpec) -> Coercer:
    def coerce(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = _text(raw).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise FieldError("expected a boolean (true/false, yes/no, 1/0)")

    return coerce


def _date(spec: FieldSpec, pattern: str | None = None) -> Coercer:
    pattern = pattern or spec.dateFormat
    expected = f"expected a date as {pattern} (or YYYY-MM-DD)" if pattern else "expected a date as YYYY-MM-DD"

    def coerce(raw: Any) -> str:
        text = _text(raw)
        try:
            return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text).isoformat()
        except ValueError:
            pass
        if pattern:
            try:
                return datetime.strptime(text, pattern).date().isoformat()
            except ValueError:
                pass
        elif NUMERIC_DATE.match(text):
            raise FieldError(f"{expected}; give dateFormat (e.g. %d/%m/%Y) to read {text} day- or month-first")
        raise FieldError(expected)

    return coerce


def _datetime(_: FieldSpec) -> Coercer:
    def coerce(raw: Any) -> str:
        text = _text(raw)
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise FieldError("expected an ISO-8601 date-time such as 2024-05-01T13:45:00Z") from None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat().replace("+00:00", "Z")

    return coerce


def _email(spec: FieldSpec) -> Coercer:
    limit = spec.maxLength or 254

    def coerce(raw: Any) -> str:
        text = _text(raw)
        if len(text) > limit or not EMAIL.fullmatch(text):
            raise FieldError("is not a valid email address")
        return text.lower()

    return coerce


def _enum(spec: FieldSpec) -> Coercer:
    allowed = list(spec.values or [])
    exact = set(allowed)
    folded = {v.casefold(): v for v in allowed}
    shown = ", ".join(allowed[:20]) + (", ..." if len(allowed) > 20 else "")

    def coerce(raw: Any) -> str:
        text = _text(raw)
        if text in exact:
            return text
        match = folded.get(text.casefold())
        if match is None:
            raise FieldError(f"must be one of: {shown}")
        return match

    return coerce


_FACTORIES: dict[str, Callable[[FieldSpec], Coercer]] = {
    "string": _string,
    "integer": _integer,
    "decimal": _decimal,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "email": _email,
    "enum": _enum,
}


def compile_field(spec: FieldSpec, date_format: str | None = None) -> Coercer:
    """date_format: the pattern ingest settled on for a date column (the request's, or the file's own order)."""
    if spec.type == "date":
        return _date(spec, date_format)
    return _FACTORIES[spec.type](spec)


def is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def join_key(parts: list[str]) -> str:
    """A record's key: its key fields' texts joined by `|`, a `\\` escaping `|` and `\\` inside a part, so that
    different parts never make the same key (`a\\|b|c` is `a|b` and `c`)."""
    return KEY_SEPARATOR.join(p.replace("\\", "\\\\").replace(KEY_SEPARATOR, "\\" + KEY_SEPARATOR) for p in parts)


def key_text(value: Any) -> str:
    """The canonical text of one key field's coerced value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(_EXACT), "f")
    return str(value)


def short(raw: Any) -> str:
    text = raw if isinstance(raw, str) else str(raw)
    return text if len(text) <= MAX_VALUE_IN_ERROR else text[:MAX_VALUE_IN_ERROR] + "..."


class RowError(BaseModel):
    row: int
    line: int | None = None
    file: str | None = Field(default=None, exclude_if=lambda v: v is None)  # the file's name, in jobs of several files
    field: str | None = None
    value: str | None = None
    message: str


class RowValidator:
    """Validates one row's raw values (field name -> raw) into typed attributes or row errors."""

    def __init__(self, definition: ItemTypeDefinition, date_formats: dict[str, str] | None = None) -> None:
        self.definition = definition
        self.key_fields = list(definition.key or [])
        key_set = set(self.key_fields)
        formats = date_formats or {}
        self._fields = [
            (name, compile_field(spec, formats.get(name)), spec.required or name in key_set)
            for name, spec in definition.fields.items()
        ]
        self._key_coercers = {name: coerce for name, coerce, _ in self._fields if name in key_set}

    def validate(self, row: int, raw: dict[str, Any]) -> tuple[dict[str, Any], list[RowError]]:
        attributes: dict[str, Any] = {}
        errors: list[RowError] = []
        for name, coerce, required in self._fields:
            value = raw.get(name)
            if is_blank(value):
                if required:
                    errors.append(RowError(row=row, field=name, value="", message="is required"))
                continue
            try:
                attributes[name] = coerce(value)
            except FieldError as exc:
                errors.append(RowError(row=row, field=name, value=short(value), message=str(exc)))
        if self.key_fields and all(name in attributes for name in self.key_fields):
            key = self.key_of(attributes)
            size = len(key.encode())
            if size > MAX_KEY_BYTES:
                errors.append(RowError(row=row, field=KEY_SEPARATOR.join(self.key_fields), value=short(key),
                                       message=f"the record key is {size} bytes; keys of at most {MAX_KEY_BYTES} "
                                               "bytes are stored"))
        return attributes, errors

    def key_of(self, attributes: dict[str, Any]) -> str:
        return join_key([key_text(attributes[name]) for name in self.key_fields])

    def key_of_raw(self, raw: dict[str, Any]) -> str | None:
        """The record key of a raw row, or None where a key field is missing or invalid.

        Ingest uses this for job-wide duplicate detection without validating the whole row."""
        parts = []
        for name in self.key_fields:
            value = raw.get(name)
            if is_blank(value):
                return None
            try:
                parts.append(key_text(self._key_coercers[name](value)))
            except FieldError:
                return None
        return join_key(parts)


def normalise_header(text: str) -> str:
    return "".join(text.split()).casefold()
