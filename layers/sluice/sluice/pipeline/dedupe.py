"""Job-wide duplicate-key detection with bounded memory: a throwaway on-disk SQLite set.

Ingest is the one step that reads a job's rows in file order, so it decides which row first used
a key; memory stays flat however many keys the file holds. A sliced ingest hands the registry file on to
the next slice (`snapshot`, then `KeyRegistry(existing=...)` in the next invocation)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path


class KeyRegistry:
    def __init__(self, directory: str | None = None, existing: Path | None = None) -> None:
        """A new, empty registry; or, with `existing`, the one a previous slice saved (this one owns the file)."""
        if existing is None:
            handle, self._path = tempfile.mkstemp(prefix="sluice-keys-", suffix=".db", dir=directory)
            os.close(handle)
        else:
            self._path = str(existing)
        self._db = sqlite3.connect(self._path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-4000")  # about 4 MB of page cache, whatever the file size
        self._db.execute("CREATE TABLE IF NOT EXISTS keys (k TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def snapshot(self) -> Path:
        """Writes every key out to the file and returns it (to be stored for the next slice)."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")
        return Path(self._path)

    def first_seen(self, key: str, row: int) -> int:
        """0 if this is the key's first row, else the row that used it first."""
        cursor = self._db.execute("INSERT OR IGNORE INTO keys VALUES (?, ?)", (key, row))
        if cursor.rowcount == 1:
            return 0
        found = self._db.execute("SELECT row FROM keys WHERE k = ?", (key,)).fetchone()
        return int(found[0])

    def close(self) -> None:
        self._db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    def __enter__(self) -> KeyRegistry:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
