"""Fixtures of the integration tests beside the shared ones (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.harness import Harness
from tests.integration.first_pass_support import SLICE


@pytest.fixture
def passing(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """8 KiB slices, and a first pass of 8 KiB an invocation too (it normally reads 8 times a slice): ~45 KB take
    6 slices of it."""
    with mock_aws():
        harness = Harness(monkeypatch, rows_per_chunk=100, ingest_slice_bytes=SLICE)
        # imported once the harness set the functions' environment (a Powertools child logger made before it
        # would log under another service's name: lines lost to other tests' log assertions)
        monkeypatch.setattr("sluice.pipeline.ingest.FIRST_PASS_SLICE_FACTOR", 1)
        yield harness
