"""Gzip-compressed text (`.csv.gz`, `.jsonl.gz`, or any upload starting with the gzip magic bytes), streamed: the
file is never unpacked whole, on disk or in memory. The decompressed size is capped (a small file can expand
without bound), and a later slice of a compressed file decompresses from the start and skips to its offset
(a gzip stream cannot be entered in the middle)."""

from __future__ import annotations

import io
import zlib
from typing import Any

from sluice.models.errors import RejectedInput
from sluice.models.limits import MAX_DECOMPRESSED_BYTES

GZIP_MAGIC = b"\x1f\x8b"
GZIP_CONTENT_TYPES = ("application/gzip", "application/x-gzip", "application/x-gunzip")
_SKIP_BLOCK = 1 << 20


def is_gzip(head: bytes, name: str | None, content_type: str | None) -> bool:
    if head.startswith(GZIP_MAGIC):
        return True
    base = (content_type or "").split(";")[0].strip().lower()
    return base in GZIP_CONTENT_TYPES or bool(name and name.lower().endswith(".gz") and not head)


def inner_name(name: str | None) -> str | None:
    """data.csv.gz -> data.csv (the format is the inner file's)."""
    return name[:-3] if name and name.lower().endswith(".gz") else name


def inner_content_type(content_type: str | None) -> str | None:
    base = (content_type or "").split(";")[0].strip().lower()
    return None if base in GZIP_CONTENT_TYPES else content_type


class Gunzip:
    """Decompresses a gzip stream fed in blocks (several members in a row, as `cat a.gz b.gz` makes, are read
    as one), refusing it once it expands beyond MAX_DECOMPRESSED_BYTES."""

    def __init__(self, limit: int = MAX_DECOMPRESSED_BYTES) -> None:
        self._decompressor = zlib.decompressobj(wbits=31)
        self._limit = limit
        self.expanded = 0
        self._in_member = False

    def feed(self, data: bytes, max_length: int = 0) -> bytes:
        out = []
        try:
            while data:
                self._in_member = True
                chunk = self._decompressor.decompress(data)
                out.append(chunk)
                self.expanded += len(chunk)
                if self.expanded > self._limit:
                    raise RejectedInput(f"the file expands beyond {self._limit} bytes when decompressed; compressed "
                                        f"files of at most {self._limit} bytes uncompressed are imported")
                if self._decompressor.eof:
                    data = self._decompressor.unused_data
                    self._decompressor = zlib.decompressobj(wbits=31)
                    self._in_member = False
                else:
                    data = b""
        except zlib.error as exc:
            raise RejectedInput(f"the file is not valid gzip: {exc}") from None
        return b"".join(out)

    def finish(self) -> None:
        """The input has ended: it must not end inside a member."""
        if self._in_member:
            raise RejectedInput("the gzip file is truncated: it ends inside its compressed data; upload it again")

    def head(self, data: bytes, size: int) -> bytes:
        """The first `size` decompressed bytes of a file's first bytes (for sniffing its format and encoding)."""
        try:
            return zlib.decompressobj(wbits=31).decompress(data, size)
        except zlib.error as exc:
            raise RejectedInput(f"the file is not valid gzip: {exc}") from None


class GunzipIO(io.RawIOBase):
    """A raw stream of the decompressed bytes of a compressed one (botocore's body, or any `read(n)`)."""

    def __init__(self, body: Any, skip: int = 0) -> None:
        self._body = body
        self._gunzip = Gunzip()
        self._pending = b""
        self._done = False
        while skip > 0:  # a later slice: decompress from the start and throw away what earlier slices read
            taken = self._take(min(skip, _SKIP_BLOCK))
            if not taken:
                return
            skip -= len(taken)

    def readable(self) -> bool:
        return True

    def _take(self, size: int) -> bytes:
        while not self._pending and not self._done:
            data = self._body.read(1 << 16)
            if not data:
                self._gunzip.finish()
                self._done = True
                break
            self._pending = self._gunzip.feed(data)
        taken, self._pending = self._pending[:size], self._pending[size:]
        return taken

    def readinto(self, buffer: Any) -> int:
        data = self._take(len(buffer))
        buffer[: len(data)] = data
        return len(data)
