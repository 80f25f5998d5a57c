"""The first pass over a text file's bytes, before any row of its job is sent: does it decode, is every line within
the limit, may it hold numeric dates (03/04/2024) — and its sha256. A bad byte anywhere rejects the job with
nothing applied. A file larger than one invocation reads is passed over in slices: the checks' state and the hash's
travel in a `ByteScan` (models/slices.py); `intake/sources.py` drives the reading."""

from __future__ import annotations

from sluice.intake.readers import DecodeCheck, LineLengthCheck, NumericDateSniff, TextEncoding
from sluice.models.slices import ByteScan, ScannedText

# The first pass reads about ten times faster than the parse (~40-100 MB/s against ~4 MB/s here): one invocation
# passes over up to this many times IngestSliceBytes (besides its IngestSliceBytes of rows), so that it takes
# about as long as a slice of rows.
FIRST_PASS_SLICE_FACTOR = 8


class TextChecks:
    """The checks of the first pass, fed a text file's (decompressed) bytes in order."""

    def __init__(self, encoding: TextEncoding, fallback_allowed: bool) -> None:
        self.decoding = DecodeCheck(encoding, fallback_allowed)
        self.line_lengths = LineLengthCheck()
        self.dates = NumericDateSniff()
        # in UTF-16 and UTF-32 a 0x0A byte may be part of another character (U+010A): their lines are measured in
        # the decoded text (as UTF-8: never fewer bytes than characters, the parse's own measure)
        self._wide = encoding.codec.startswith(("utf-16", "utf-32"))

    @classmethod
    def for_file(cls, encoding: TextEncoding, declared: str | None) -> TextChecks:
        """The checks for a file sniffed as `encoding`; a legacy fallback only when UTF-8 was not declared."""
        return cls(encoding, fallback_allowed=declared is None and encoding.codec == "utf-8")

    def feed(self, data: bytes) -> None:
        """b"" ends the text (a character cut short at the end is then an error)."""
        text = self.decoding.feed(data)
        self.line_lengths.feed(text.encode() if self._wide else data)
        self.dates.feed(data)

    def carry_to(self, scan: ByteScan) -> None:
        for check in (self.decoding, self.line_lengths, self.dates):
            check.carry_to(scan)

    def carry_from(self, scan: ByteScan) -> None:
        for check in (self.decoding, self.line_lengths, self.dates):
            check.carry_from(scan)

    def finish(self, digest: str) -> ScannedText:
        """What the pass found, once fed the whole text and b"": the encoding it is read with (RejectedInput if it
        does not decode), and whether it may hold numeric dates (the sniff reads ASCII digits: UTF-16 and UTF-32
        text is always read ahead)."""
        encoding = self.decoding.result()
        return ScannedText(digest=digest, codec=encoding.codec, encoding=encoding.name, note=encoding.note,
                           numericDates=self.dates.found or self._wide)
