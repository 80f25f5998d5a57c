"""Cutting a file's rows into chunk messages that fit the queue."""

from __future__ import annotations

from collections.abc import Callable

from sluice.models.chunk import ChunkRow


class ChunkBuilder:
    """Groups rows into chunks closed at a row count or an approximate payload size."""

    def __init__(self, max_rows: int, max_bytes: int) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.rows: list[ChunkRow] = []
        self.size = 0

    def add(self, row: ChunkRow) -> bool:
        """Adds a row; True when the chunk is full."""
        self.rows.append(row)
        self.size += 24 + sum(len(v) + 3 if isinstance(v, str) else 12 for v in row[2])
        return len(self.rows) >= self.max_rows or self.size >= self.max_bytes

    def take(self) -> list[ChunkRow]:
        rows, self.rows, self.size = self.rows, [], 0
        return rows


def split_to_fit(rows: list[ChunkRow], size_of: Callable[[list[ChunkRow]], int], limit: int) -> list[list[ChunkRow]]:
    """Halves a group of rows until each part's message fits under the limit.

    The size estimate that closes a chunk cannot foresee JSON escapes or multi-byte text; splitting
    on the real size keeps every message sendable, and the same input always splits the same way."""
    if len(rows) == 1 or size_of(rows) <= limit:
        return [rows]
    middle = len(rows) // 2
    return split_to_fit(rows[:middle], size_of, limit) + split_to_fit(rows[middle:], size_of, limit)
