"""The benchmark's item type and its generated 8-column CSV."""

from __future__ import annotations

import csv
import random
from pathlib import Path

SCHEMA = {
    "key": ["email"],
    "fields": {
        "email": {"type": "email", "required": True}, "name": {"type": "string"},
        "age": {"type": "integer", "min": 0, "max": 150}, "joined": {"type": "date"},
        "tier": {"type": "enum", "values": ["gold", "silver", "bronze"]}, "score": {"type": "decimal"},
        "active": {"type": "boolean"}, "city": {"type": "string"},
    },
}
HEADER = ["email", "name", "age", "joined", "tier", "score", "active", "city"]


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    cities = ["Lisbon", "Oslo", "Lyon", "Austin", "Pune", "Osaka", "Lagos", "Quito"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow([f"user{i}@example.org", f"User Number {i}", rng.randint(0, 150),
                             f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                             rng.choice(["gold", "silver", "bronze"]), f"{rng.random() * 1000:.2f}",
                             rng.choice(["true", "false"]), rng.choice(cities)])


def write_xlsx(path: Path, rows: int, seed: int = 7) -> None:
    """The same rows as write_csv, as a workbook (openpyxl write-only mode, typed cells)."""
    import openpyxl

    rng = random.Random(seed)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Data")
    sheet.append(HEADER)
    cities = ["Lisbon", "Oslo", "Lyon", "Austin", "Pune", "Osaka", "Lagos", "Quito"]
    from datetime import date

    for i in range(rows):
        sheet.append([f"user{i}@example.org", f"User Number {i}", rng.randint(0, 150),
                      date(2000 + rng.randint(10, 25), rng.randint(1, 12), rng.randint(1, 28)),
                      rng.choice(["gold", "silver", "bronze"]), round(rng.random() * 1000, 2),
                      rng.choice([True, False]), rng.choice(cities)])
    book.save(path)
