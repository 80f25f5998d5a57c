"""The first pass at the unit level (issue 22, a red-team review): the numeric-date sniff across block
boundaries, and the stored sha256 state."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys

from sluice.intake.readers import NumericDateSniff
from sluice.intake.sha256 import ResumableSha256


def test_the_sniff_does_not_see_a_date_that_a_block_boundary_cuts_short() -> None:
    """1/2/20245 holds no date (a 4-digit year followed by a digit); cut after 1/2/20 the window's end satisfies the
    look-ahead (?![0-9]) and the sniff finds '1/2/20'. The branch's own property test says blocks never change
    the answer; slice boundaries now add more such cuts."""
    text = b"id,version\n1,1/2/20245\n"
    assert NumericDateSniff._PATTERN.search(text) is None
    cut = text.index(b"245")
    sniff = NumericDateSniff()
    for block in (text[:cut], text[cut:], b""):
        sniff.feed(block)
    assert sniff.found is False


def test_a_stored_sha256_state_is_checked_before_openssl_trusts_it() -> None:
    """The state comes back from S3 (ingest/...-state) as the raw SHA256_CTX: its `num` (bytes buffered, < 64) is
    used by SHA256_Update as an offset into the 64-byte buffer. A state whose num is out of range must be refused,
    not handed to OpenSSL (which copies past the context)."""
    raw = bytearray(base64.b64decode(ResumableSha256().state()))
    raw[104:108] = struct.pack("<I", 0x7FFFFFF0)  # num (after h[8], Nl, Nh, data[16])
    state = base64.b64encode(bytes(raw)).decode()
    script = ("import sys\nfrom sluice.intake.sha256 import ResumableSha256 as H\n"
              "try:\n    h = H(sys.argv[1])\nexcept ValueError:\n    print('refused'); sys.exit(0)\n"
              "h.update(b'x' * 100)\nprint(h.hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", script, state], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout.strip()) == (0, "refused"), (out.returncode, out.stdout, out.stderr[-300:])
