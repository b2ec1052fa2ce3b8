"""Helpers shared by the tests."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path


def fingerprint(path: Path) -> str:
    """A hash of everything in a database file: equal fingerprints mean an unchanged field."""
    conn = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()
