"""Compressed uploads, streamed, never unpacked whole on disk or in memory: gzip (`.csv.gz`, `.jsonl.gz`, or any
upload starting with the gzip magic bytes) and a zip archive holding one file (`.zip`, read through ranged GETs
because a zip's directory is at its end). The decompressed size is capped (a small file can expand
without bound), and a later slice of a compressed file decompresses from the start and skips to its offset
(a gzip stream cannot be entered in the middle)."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from typing import Any

from sluice.models.errors import RejectedInput
from sluice.models.limits import MAX_DECOMPRESSED_BYTES

GZIP_MAGIC = b"\x1f\x8b"
GZIP_CONTENT_TYPES = ("application/gzip", "application/x-gzip", "application/x-gunzip")
_SKIP_BLOCK = 1 << 20


def _discard(read: Callable[[int], bytes], count: int) -> None:
    """Read and drop `count` bytes (fewer if the stream ends first), a block at a time."""
    while count > 0:
        taken = read(min(count, _SKIP_BLOCK))
        if not taken:
            return
        count -= len(taken)


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
        _discard(self._take, skip)  # a later slice: decompress from the start, drop what earlier slices read

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


ZIP_CONTENT_TYPES = ("application/zip", "application/x-zip-compressed", "application/x-zip")


def is_zip(head: bytes, name: str | None, content_type: str | None) -> bool:
    """A zip archive holding the data file (a workbook is a zip too: it is told apart by its name or type)."""
    base = (content_type or "").split(";")[0].strip().lower()
    named = bool(name and name.lower().endswith(".zip"))
    return head.startswith(b"PK\x03\x04") and (base in ZIP_CONTENT_TYPES or named)


class RangedObject(io.RawIOBase):
    """An S3 object as a seekable file, read by ranged GETs (a zip's directory is at its end)."""

    def __init__(self, s3: Any, bucket: str, key: str, size: int) -> None:
        self._s3, self._bucket, self._key, self._size = s3, bucket, key, size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or not len(buffer):
            return 0
        last = min(self._size, self._position + len(buffer)) - 1
        data = self._s3.get_object(Bucket=self._bucket, Key=self._key,
                                   Range=f"bytes={self._position}-{last}")["Body"].read()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


class ZipMember:
    """The one data file of a zip archive (directories and macOS `__MACOSX/` entries aside), streamed."""

    def __init__(self, s3: Any, bucket: str, key: str, size: int) -> None:
        import zipfile

        self._file = io.BufferedReader(RangedObject(s3, bucket, key, size), 1 << 20)
        try:
            self._archive = zipfile.ZipFile(self._file)
        except (zipfile.BadZipFile, OSError) as exc:
            raise RejectedInput(f"the file is not a readable zip archive: {exc}") from None
        members = [i for i in self._archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
        if len(members) != 1:
            raise RejectedInput(f"a zip archive must hold exactly one file; this one holds {len(members)}")
        self.info = members[0]
        if self.info.file_size > MAX_DECOMPRESSED_BYTES:
            raise RejectedInput(f"the file in the archive is {self.info.file_size} bytes; files of at most "
                                f"{MAX_DECOMPRESSED_BYTES} bytes uncompressed are imported")
        if self.info.flag_bits & 0x1:
            raise RejectedInput("the zip archive is encrypted; upload it without a password")

    @property
    def name(self) -> str:
        return self.info.filename.rsplit("/", 1)[-1]

    def stream(self, skip: int = 0) -> io.RawIOBase:
        """The member's bytes from `skip` on (decompressed from the start: a deflate stream has no way in)."""
        import zipfile

        try:
            member = self._archive.open(self.info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            raise RejectedInput(f"the file in the zip archive cannot be read: {exc}") from None
        return _MemberIO(member, skip)


class _MemberIO(io.RawIOBase):
    def __init__(self, member: Any, skip: int) -> None:
        self._member = member
        _discard(self._read, skip)

    def readable(self) -> bool:
        return True

    def _read(self, size: int) -> bytes:
        import zipfile

        try:
            return bytes(self._member.read(size))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a bad CRC, a cut-off member
            raise RejectedInput(f"the file in the zip archive is damaged: {exc}") from None

    def readinto(self, buffer: Any) -> int:
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
