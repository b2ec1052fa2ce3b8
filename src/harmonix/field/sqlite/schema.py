"""The SQLite layout of a field: one file, its tables, its forward migrations, and how a file is opened.

A field is one SQLite file (where the file lives is :mod:`harmonix.field.sqlite.store`'s business). Its schema version
is ``PRAGMA user_version``; :data:`MIGRATIONS` brings older files forward, newer files are refused, and a file
records the field it belongs to (``field_info``), so one field's file is never opened as another's.

Connection settings and why:

- ``journal_mode=WAL``: readers never block the writer and the writer never blocks readers, across processes.
- ``synchronous=NORMAL``: in WAL mode a commit is durable against a crash of the *process* (tested with SIGKILL)
  but the last commits before a power loss or OS crash may be lost; the database itself stays consistent. This is
  the durability Harmonix trades for commits without an fsync each.
- ``busy_timeout`` (the store's lock timeout): a writer waits for another process's write transaction instead of
  failing at once; write transactions begin ``IMMEDIATE`` so they queue for the lock up front instead of failing on
  upgrade. Past the timeout SQLite's "database is locked" becomes :class:`~harmonix.errors.FieldBusy`.
- ``foreign_keys=ON``: a turn row cannot point at a text or disturbance that does not exist.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from harmonix.errors import FieldMismatch, FieldVersionError

log = logging.getLogger(__name__)

# Each entry brings a file from version i to i + 1; a file at version 0 is new.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE field_info (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE texts (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            body TEXT NOT NULL,
            created REAL NOT NULL,
            tokens INTEGER NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(meta))
        )""",
        "CREATE INDEX texts_by_source ON texts (source, id)",
        """CREATE TABLE disturbances (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            body TEXT NOT NULL,
            created REAL NOT NULL,
            tokens INTEGER NOT NULL
        )""",
        """CREATE TABLE trigrams (
            w1 TEXT NOT NULL, w2 TEXT NOT NULL, w3 TEXT NOT NULL,
            own INTEGER NOT NULL DEFAULT 0,
            heard INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (w1, w2, w3)
        ) WITHOUT ROWID""",
        """CREATE TABLE words (
            word TEXT PRIMARY KEY,
            own INTEGER NOT NULL DEFAULT 0,
            heard INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID""",
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            created REAL NOT NULL,
            disturbance_id INTEGER REFERENCES disturbances (id),
            text_id INTEGER REFERENCES texts (id),
            seen_turns INTEGER,
            dissonance REAL,
            temperature REAL,
            duration_ms REAL,
            metrics TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metrics))
        )""",
        "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL CHECK (json_valid(value))) WITHOUT ROWID",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, busy_timeout_s: float, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open ``path`` with the settings in the module docstring. Autocommit mode: transactions are explicit."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_s, check_same_thread=check_same_thread)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, name: str) -> int:
    """Bring the file to :data:`SCHEMA_VERSION` in one write transaction and check it belongs to field ``name``.

    Returns the schema version. Raises :class:`FieldVersionError` for a file from a newer Harmonix and
    :class:`FieldMismatch` for another field's file.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise FieldVersionError(f"field file has schema version {version}; "
                                    f"this Harmonix knows up to {SCHEMA_VERSION}")
        for target in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target + 1}")
            log.info("field %s: migrated schema to version %d", name, target + 1)
        conn.execute("INSERT OR IGNORE INTO field_info (key, value) VALUES ('name', ?)", (name,))
        stored = conn.execute("SELECT value FROM field_info WHERE key = 'name'").fetchone()[0]
        if stored != name:
            raise FieldMismatch(f"this file holds field {stored!r}, not {name!r}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION

