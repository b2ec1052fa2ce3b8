"""Test-wide settings: one compute thread everywhere (ARCHITECTURE.md §6) and state only in temporary directories."""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
