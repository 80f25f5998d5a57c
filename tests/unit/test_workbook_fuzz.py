"""Damaged workbooks are read or refused with a reason; nothing in a file escapes as another error."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

from sluice.intake.workbooks import read_workbook
from sluice.models.errors import RejectedInput
from tests.fixtures.corpus import _xls, _xlsx


def _mutations(seed: int = 11, per_format: int = 40) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    base = _xlsx({"S": [["id", "name"], *[[i, f"n{i}"] for i in range(30)]]})
    parts = {i.filename: zipfile.ZipFile(io.BytesIO(base)).read(i.filename)
             for i in zipfile.ZipFile(io.BytesIO(base)).infolist()}
    samples = []
    for _ in range(per_format):
        target = rng.choice(sorted(parts))
        damaged = bytearray(parts[target])
        for _ in range(rng.randint(1, 20)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in parts.items():
                archive.writestr(name, bytes(damaged) if name == target else content)
        samples.append(("xlsx", out.getvalue()))
    legacy = _xls()
    for _ in range(per_format):
        damaged = bytearray(legacy)
        for _ in range(rng.randint(1, 30)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        samples.append(("xls", bytes(damaged)))
    return samples


def test_damaged_workbooks_are_read_or_rejected(tmp_path: Path) -> None:
    outcomes = {"read": 0, "rejected": 0}
    for index, (file_format, data) in enumerate(_mutations()):
        path = tmp_path / f"{index}.{file_format}"
        path.write_bytes(data)
        try:
            source = read_workbook(path, file_format, None, 1)
            for row in source.rows:
                assert row.row >= 1 and row.line >= 2
            outcomes["read"] += 1
        except RejectedInput as rejected:
            assert rejected.reason.startswith(("corrupt or truncated workbook", "the sheet", "missing", "sheet")), \
                rejected.reason
            outcomes["rejected"] += 1
    assert outcomes["read"] > 0 and outcomes["rejected"] > 0
