"""The resumable sha256 (intake/sha256.py) gives hashlib's digest however the bytes are split and its state
carried, including into another process."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys

import pytest

from sluice.intake.sha256 import RESUMABLE, ResumableSha256


def test_it_is_available_here_as_on_lambda() -> None:
    assert RESUMABLE  # CPython's hashlib is built on OpenSSL here and on Lambda's python3.12 runtime


@pytest.mark.parametrize("seed", range(5))
def test_any_split_with_the_state_carried_gives_hashlibs_digest(seed: int) -> None:
    chooser = random.Random(seed)
    data = chooser.randbytes(chooser.randint(0, 300_000))
    state = ResumableSha256().state()
    start = 0
    while start < len(data):
        end = start + chooser.choice([1, 63, 64, 65, 4096, 100_000])
        carried = ResumableSha256(state)
        carried.update(data[start:end])
        state = carried.state()
        start = end
    assert ResumableSha256(state).hexdigest() == hashlib.sha256(data).hexdigest()


def test_the_digest_leaves_the_running_state_as_it_was() -> None:
    running = ResumableSha256()
    running.update(b"abc")
    assert running.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    running.update(b"def")
    assert running.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_the_state_carries_into_another_process() -> None:
    first = ResumableSha256()
    first.update(b"x" * 100_001)
    script = ("import sys; from sluice.intake.sha256 import ResumableSha256 as H; "
              "h = H(sys.argv[1]); h.update(b'tail'); print(h.hexdigest())")
    out = subprocess.run([sys.executable, "-c", script, first.state()], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(b"x" * 100_001 + b"tail").hexdigest()


def test_a_state_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a stored sha256 state"):
        ResumableSha256("c2hvcnQ=")
