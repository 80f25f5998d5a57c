"""SHA-256 whose running state can be stored and carried on in another invocation.

A file's digest is the sha256 of all its bytes (`sha256sum` gives the same), and the first pass of a file larger
than one invocation reads runs over several invocations: the hash's state must travel between them. hashlib's
objects cannot be exported, so this drives OpenSSL's SHA256_Init/Update/Final — the library hashlib itself uses,
already loaded with it — on a SHA256_CTX whose bytes (a public struct of plain integers, openssl/sha.h) are the
state. A self-check against hashlib at import decides `RESUMABLE`; where it fails (no OpenSSL symbols), the first
pass runs in one invocation as before (`intake/firstpass.py`)."""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import hashlib
import logging
import struct
from typing import Any

CONTEXT_BYTES = 112  # sizeof(SHA256_CTX): h[8], Nl, Nh, data[16], num, md_len — 28 unsigned 32-bit integers


def _library() -> Any:
    try:
        import _hashlib  # the OpenSSL hashlib is built on: its symbols resolve through it

        candidates = [_hashlib.__file__, ctypes.util.find_library("crypto")]
    except ImportError:
        candidates = [ctypes.util.find_library("crypto")]
    for path in candidates:
        if not path:
            continue
        try:
            library = ctypes.CDLL(path)
            for name in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
                getattr(library, name)
        except (OSError, AttributeError):
            continue
        library.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        library.SHA256_Init.argtypes = [ctypes.c_void_p]
        library.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        return library
    return None


_LIBRARY = _library()


class ResumableSha256:
    """sha256 over bytes fed in order, possibly across processes: `state()` here, `ResumableSha256(state)` there."""

    def __init__(self, state: str | None = None) -> None:
        if _LIBRARY is None:
            raise RuntimeError("OpenSSL's SHA256 functions are not available here")
        if state is None:
            self._context = ctypes.create_string_buffer(CONTEXT_BYTES)
            _LIBRARY.SHA256_Init(self._context)
        else:
            raw = base64.b64decode(state)
            # num (bytes buffered) indexes the 64-byte block and md_len is the digest's length: OpenSSL trusts both
            num, md_len = struct.unpack_from("=II", raw, CONTEXT_BYTES - 8) if len(raw) == CONTEXT_BYTES else (0, 0)
            if len(raw) != CONTEXT_BYTES or num >= 64 or md_len != 32:
                raise ValueError("not a stored sha256 state")
            self._context = ctypes.create_string_buffer(raw, CONTEXT_BYTES)

    def update(self, data: bytes) -> None:
        if data:
            _LIBRARY.SHA256_Update(self._context, data, len(data))

    def state(self) -> str:
        return base64.b64encode(self._context.raw).decode()

    def hexdigest(self) -> str:
        """The digest of everything fed so far (the running state is left as it was)."""
        copy = ctypes.create_string_buffer(self._context.raw, CONTEXT_BYTES)
        out = ctypes.create_string_buffer(32)
        _LIBRARY.SHA256_Final(out, copy)
        return out.raw.hex()


def _self_check() -> bool:
    if _LIBRARY is None:
        return False
    try:
        first = ResumableSha256()
        first.update(b"sluice " * 1000)
        carried = ResumableSha256(first.state())
        carried.update(b"end")
        return carried.hexdigest() == hashlib.sha256(b"sluice " * 1000 + b"end").hexdigest()
    except (OSError, ValueError, ctypes.ArgumentError):
        return False


RESUMABLE = _self_check()
if not RESUMABLE:  # said once a process: files then have a first pass in one invocation (16 GiB, docs/limits.md)
    logging.getLogger(__name__).warning("sha256 state cannot be carried between invocations here (no OpenSSL "
                                        "SHA256 functions): text files over 16 GiB are refused")
