"""Workbooks (XLSX, XLS, XLSB) through python-calamine: the chosen sheet's rows, typed cells made plain.

Calamine reads a sheet into memory, so the file is checked first: encrypted (password-protected)
workbooks, corrupt or truncated zips, and archives that would expand past a fixed bound (zip bombs)
are refused before any decompression of sheet data happens."""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import python_calamine as calamine
from aws_lambda_powertools import Logger

from sluice.intake.readers import RowSource, SourceRow
from sluice.models.errors import RejectedInput
from sluice.models.limits import MAX_SHEET_CELLS, MAX_SHEET_COLUMNS, MAX_SHEET_ROWS

logger = Logger(child=True)
MAX_EXPANDED_BYTES = 512 * 1024 * 1024  # all parts of an XLSX/XLSB, decompressed
MAX_RATIO = 200  # decompressed / compressed, per part (text XML compresses ~10-30x)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def _check_container(path: Path, file_format: str) -> None:
    with path.open("rb") as handle:
        head = handle.read(8)
        if head == _OLE_MAGIC:
            body = head + handle.read(8 * 1024 * 1024)
            if _ENCRYPTED_STREAM in body:
                raise RejectedInput("password-protected workbook: remove the password in Excel and upload again")
            if file_format != "xls":
                raise RejectedInput("the file is an old-style (OLE) Office file, not an .xlsx; upload it as .xls")
            return
    if file_format == "xls":
        raise RejectedInput("corrupt or truncated workbook: not an Excel 97-2003 (.xls) file")
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = 0
            for info in archive.infolist():
                expanded += info.file_size
                if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                    raise RejectedInput(f"workbook part {info.filename} expands {info.file_size // info.compress_size}"
                                        f"-fold; refused as a possible zip bomb (limit {MAX_RATIO}-fold)")
            if expanded > MAX_EXPANDED_BYTES:
                raise RejectedInput(f"workbook expands to {expanded // (1024 * 1024)} MiB; at most "
                                    f"{MAX_EXPANDED_BYTES // (1024 * 1024)} MiB are read (split it, or export CSV)")
    except zipfile.BadZipFile:
        raise RejectedInput("corrupt or truncated workbook: the file is not a readable .xlsx (zip) archive") from None


_CELL_REF = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_SHEET = re.compile(rb'<(?:\w+:)?sheet\b[^>]*>')
_ATTRIBUTE = re.compile(rb'([\w:]+)="([^"]*)"')
_CELL_STYLE = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})[0-9]{1,7}"[^>]*?\bs="([0-9]+)"')
_ZERO_PADDED = re.compile(r"^0{2,15}$")  # a number format such as 00000 (zip codes, ids): its digits are the text
_RELATIONSHIP = re.compile(rb'<(?:\w+:)?Relationship\b[^>]*>')


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _sheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, worksheet part) in workbook order."""
    try:
        workbook = archive.read("xl/workbook.xml")
        rels = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return []
    targets = {}
    for tag in _RELATIONSHIP.findall(rels):
        attributes = dict(_ATTRIBUTE.findall(tag))
        target = attributes.get(b"Target", b"").decode(errors="replace")
        part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        targets[attributes.get(b"Id", b"").decode(errors="replace")] = part
    parts = []
    for tag in _SHEET.findall(workbook):
        attributes = {k.split(b":")[-1]: v for k, v in _ATTRIBUTE.findall(tag)}
        parts.append((attributes.get(b"name", b"").decode(errors="replace"),
                      targets.get(attributes.get(b"id", b"").decode(errors="replace"), "")))
    return parts


def _padded_styles(archive: zipfile.ZipFile) -> dict[bytes, int]:
    """Cell style index -> digits, for the styles whose number format pads a number with zeros (00123)."""
    try:
        styles = archive.read("xl/styles.xml")
    except KeyError:
        return {}
    formats: dict[bytes, int] = {}
    for tag in re.findall(rb"<(?:\w+:)?numFmt\b[^>]*>", styles):
        attributes = dict(_ATTRIBUTE.findall(tag))
        code = html.unescape(attributes.get(b"formatCode", b"").decode(errors="replace")).replace('"', "")
        if _ZERO_PADDED.match(code):
            formats[attributes.get(b"numFmtId", b"")] = len(code)
    cell_formats = re.search(rb"<(?:\w+:)?cellXfs\b.*?</(?:\w+:)?cellXfs>", styles, re.S) if formats else None
    if cell_formats is None:
        return {}
    padded: dict[bytes, int] = {}
    for index, tag in enumerate(re.findall(rb"<(?:\w+:)?xf\b[^>]*>", cell_formats[0])):
        width = formats.get(dict(_ATTRIBUTE.findall(tag)).get(b"numFmtId", b""))
        if width:
            padded[str(index).encode()] = width
    return padded


def _check_sheet_extent(path: Path, sheet: str | None) -> dict[int, int]:
    """Reads the chosen worksheet's cell references (streamed, before calamine builds the sheet in memory, which
    takes rows x columns cells however sparse the sheet is) and refuses sheets past the documented limits.
    Returns the columns (0-based) with a zero-padding number format, and its digits: their numbers are text
    such as 00123, whose leading zeros calamine's plain values would lose."""
    padded_columns: dict[int, int] = {}
    with zipfile.ZipFile(path) as archive:
        parts = _sheet_parts(archive)
        if not parts:
            return padded_columns
        padded = _padded_styles(archive)
        if sheet is None or sheet == "":
            chosen = parts[0]
        elif sheet.isdigit() and int(sheet) < len(parts):
            chosen = parts[int(sheet)]
        else:
            chosen = next((p for p in parts if p[0] == sheet), ("", ""))
        if chosen[1] not in archive.namelist():
            return padded_columns  # calamine answers for a sheet that is not there
        rows = columns = 0
        tail = b""
        with archive.open(chosen[1]) as stream:
            while block := stream.read(1 << 20):
                data = tail + block
                for letters, digits in _CELL_REF.findall(data):
                    rows = max(rows, int(digits))
                    columns = max(columns, _column_number(letters))
                if padded:
                    for letters, style in _CELL_STYLE.findall(data):
                        if style in padded:
                            padded_columns[_column_number(letters) - 1] = padded[style]
                tail = data[-256:]
    where = f"sheet '{chosen[0]}'"
    if columns > MAX_SHEET_COLUMNS:
        raise RejectedInput(f"{where} has a cell in column {columns}; sheets of at most {MAX_SHEET_COLUMNS} columns "
                            "are read")
    if rows > MAX_SHEET_ROWS:
        raise RejectedInput(f"{where} has a cell in row {rows}; sheets of at most {MAX_SHEET_ROWS} rows are read")
    if rows * columns > MAX_SHEET_CELLS:
        raise RejectedInput(f"{where} spans {rows} rows x {columns} columns = {rows * columns} cells; sheets of at "
                            f"most {MAX_SHEET_CELLS} cells (rows x columns, empty ones included) are read")
    return padded_columns


def plain(value: Any) -> Any:
    """A cell as a JSON-ready value: integral floats as ints, dates and times as ISO text."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return value


def _select_sheet(book: Any, sheet: str | None) -> Any:
    names = list(book.sheet_names)
    if not names:
        raise RejectedInput("the workbook has no sheets")
    try:
        if sheet is None or sheet == "":
            return book.get_sheet_by_index(0)
        if sheet.isdigit():
            index = int(sheet)
            if index >= len(names):
                raise RejectedInput(f"sheet index {index} does not exist; the workbook has {len(names)} sheet(s): "
                                    + ", ".join(names))
            return book.get_sheet_by_index(index)
        return book.get_sheet_by_name(sheet)
    except calamine.WorksheetNotFound:
        raise RejectedInput(f"sheet '{sheet}' not found; the workbook has: {', '.join(names)}") from None


def read_workbook(path: Path, file_format: str, sheet: str | None, header_row: int) -> RowSource:
    _check_container(path, file_format)
    padded: dict[int, int] = {}
    if file_format == "xlsx":
        try:
            padded = _check_sheet_extent(path, sheet)
        except RejectedInput:
            raise
        except Exception:  # a damaged part: calamine reads it or says what is wrong
            logger.info("sheet extent not measured", exc_info=True)
    elif file_format == "xlsb":
        # a binary workbook's cells cannot be bounded before calamine allocates the whole sheet
        raise RejectedInput("binary workbooks (.xlsb) are not read; save the sheet as .xlsx or CSV")
    try:
        book = calamine.CalamineWorkbook.from_path(str(path))
        chosen = _select_sheet(book, sheet)
    except calamine.PasswordError:
        raise RejectedInput("password-protected workbook: remove the password in Excel and upload again") from None
    except (calamine.CalamineError, calamine.ZipError, calamine.XmlError) as exc:
        raise RejectedInput(f"corrupt or truncated workbook: {exc}") from None
    except BaseException as exc:  # a Rust panic reaches Python as pyo3's PanicException, a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise RejectedInput("corrupt or truncated workbook: the reader could not parse it") from None
    first_row = chosen.start[0] if chosen.start else 0
    rows_iter = chosen.iter_rows()
    header: list[str] | None = None
    line = first_row
    for values in rows_iter:
        line += 1
        if line - first_row == header_row:
            header = [str(plain(v)).strip() if v not in (None, "") else "" for v in values]
            break
    if header is None or not any(header):
        raise RejectedInput(f"the sheet '{chosen.name}' is empty: expected a header row"
                            + (f" at row {header_row}" if header_row > 1 else ""))
    while header and header[-1] == "":
        header.pop()
    width = len(header)
    blank = [0]
    first_column = chosen.start[1] if chosen.start else 0
    zero_padded = [(c - first_column, digits) for c, digits in padded.items() if 0 <= c - first_column < width]

    def rows() -> Iterator[SourceRow]:
        number = 0
        current = line
        for values in rows_iter:
            current += 1
            cells = [plain(v) for v in values]
            for position, digits in zero_padded:
                if position < len(cells) and isinstance(cells[position], int) and cells[position] >= 0:
                    cells[position] = str(cells[position]).zfill(digits)
            if not any(c not in (None, "") and not (isinstance(c, str) and not c.strip()) for c in cells):
                blank[0] += 1
                continue
            number += 1
            extra = cells[width:]
            if any(c not in (None, "") for c in extra):
                yield SourceRow(number, cells, f"expected {width} columns, got {len(cells)}", current)
                continue
            yield SourceRow(number, cells[:width] + [""] * (width - len(cells)), None, current)

    return RowSource(header=header, rows=rows(), blank_rows=blank,
                     facts={"sheet": chosen.name, "sheetNames": list(book.sheet_names)})
