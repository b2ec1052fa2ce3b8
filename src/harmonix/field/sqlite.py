"""SQLite backend of a field: one file, one connection, one database thread.

Design (ARCHITECTURE.md §3, Datasette's ``execute_write_fn``): the connection lives on a dedicated thread, and every
:meth:`SqliteStore.run` ships a whole list of steps there as one function call. An operation therefore costs one
thread hop however many statements it runs (aiosqlite costs one hop *per statement*; ``harmonix bench field``
measures both). The thread is also the only place the connection is touched, so SQLite never sees two threads on it.

Connection settings and why:

- ``journal_mode=WAL``: readers never block the writer and the writer never blocks readers, across processes.
- ``synchronous=NORMAL``: in WAL mode a commit is durable against a crash of the *process* (tested with SIGKILL)
  but the last commits before a power loss or OS crash may be lost; the database itself stays consistent. This is
  the durability Harmonix trades for commits without an fsync each.
- ``busy_timeout``: a writer waits for another process's write transaction instead of failing with "database is
  locked"; write transactions begin ``IMMEDIATE`` so they queue for the lock up front instead of failing on upgrade.
- ``foreign_keys=ON``: a turn row cannot point at a text or disturbance that does not exist.
- ``PRAGMA user_version``: the schema version; :data:`MIGRATIONS` brings older files forward, newer files are refused.

With ``transactions=False`` (for experiments that show why the discipline exists, never for real use) ``Begin``,
``Commit`` and ``Rollback`` do nothing and every statement commits on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harmonix.errors import FieldMismatch, FieldVersionError, OperationAbandoned
from harmonix.field.model import (
    Disturbance,
    FieldCounts,
    FieldSnapshot,
    SnapshotSpec,
    TextRow,
    TrigramCount,
    WordCount,
    frozen_mapping,
)
from harmonix.field.steps import (
    AddDisturbance,
    AddText,
    AddTurn,
    Begin,
    Commit,
    PutState,
    ReadCounts,
    ReadSnapshot,
    Rollback,
    Step,
)

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



def _upsert_trigram(column: str) -> str:
    return (f"INSERT INTO trigrams (w1, w2, w3, {column}) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (w1, w2, w3) DO UPDATE SET {column} = {column} + excluded.{column}")


def _upsert_word(column: str) -> str:
    return (f"INSERT INTO words (word, {column}) VALUES (?, ?) "
            f"ON CONFLICT (word) DO UPDATE SET {column} = {column} + excluded.{column}")


_UPSERTS = {column: (_upsert_trigram(column), _upsert_word(column)) for column in ("own", "heard")}
_TEXT_COLUMNS = "id, source, body, created, meta"


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
            raise FieldVersionError(f"field file has schema version {version}; this Harmonix knows up to {SCHEMA_VERSION}")
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


def _text_row(row: tuple) -> TextRow:
    return TextRow(id=row[0], source=row[1], body=row[2], created=row[3], meta=frozen_mapping(json.loads(row[4])))


def _limit(value: int | None) -> int:
    """SQLite's LIMIT takes -1 for "no limit"."""
    return -1 if value is None else value


def read_counts(conn: sqlite3.Connection) -> FieldCounts:
    """Sizes of the field (call inside a transaction for a consistent reading)."""
    texts, disturbances, turns = conn.execute(
        "SELECT (SELECT count(*) FROM texts), (SELECT count(*) FROM disturbances), (SELECT count(*) FROM turns)"
    ).fetchone()
    trigram_types, own_trigrams, heard_trigrams = conn.execute(
        "SELECT count(*), coalesce(sum(own), 0), coalesce(sum(heard), 0) FROM trigrams"
    ).fetchone()
    word_types, own_words, heard_words = conn.execute(
        "SELECT count(*), coalesce(sum(own), 0), coalesce(sum(heard), 0) FROM words"
    ).fetchone()
    return FieldCounts(
        texts=texts,
        disturbances=disturbances,
        turns=turns,
        trigram_types=trigram_types,
        own_trigrams=own_trigrams,
        heard_trigrams=heard_trigrams,
        word_types=word_types,
        own_words=own_words,
        heard_words=heard_words,
    )


def read_snapshot(conn: sqlite3.Connection, name: str, step: ReadSnapshot) -> FieldSnapshot:
    """Everything in :class:`FieldSnapshot` (call inside a read transaction)."""
    spec: SnapshotSpec = step.spec
    counts = read_counts(conn)
    recent = tuple(
        _text_row(row)
        for row in conn.execute(f"SELECT {_TEXT_COLUMNS} FROM texts ORDER BY id DESC LIMIT ?", (spec.recent,))
    )
    offsets = sorted(random.Random(step.random_seed).sample(range(counts.texts), min(spec.random, counts.texts)))
    random_texts = tuple(
        _text_row(conn.execute(f"SELECT {_TEXT_COLUMNS} FROM texts ORDER BY id LIMIT 1 OFFSET ?", (offset,)).fetchone())
        for offset in offsets
    )
    trigrams = tuple(
        TrigramCount(words=(w1, w2, w3), own=own, heard=heard)
        for w1, w2, w3, own, heard in conn.execute(
            "SELECT w1, w2, w3, own, heard FROM trigrams ORDER BY own + heard DESC, w1, w2, w3 LIMIT ?",
            (_limit(spec.trigrams),),
        )
    )
    words = tuple(
        WordCount(word=word, own=own, heard=heard)
        for word, own, heard in conn.execute(
            "SELECT word, own, heard FROM words WHERE own + heard >= ? ORDER BY own + heard DESC, word LIMIT ?",
            (spec.word_floor, _limit(spec.words)),
        )
    )
    lookup = {word: WordCount(word=word, own=0, heard=0) for word in spec.lookup}
    for word, own, heard in conn.execute(
        f"SELECT word, own, heard FROM words WHERE word IN ({', '.join('?' * len(lookup))})", tuple(lookup)
    ):
        lookup[word] = WordCount(word=word, own=own, heard=heard)
    disturbances = tuple(
        Disturbance(id=row[0], source=row[1], body=row[2], created=row[3])
        for row in conn.execute(
            "SELECT id, source, body, created FROM disturbances ORDER BY id DESC LIMIT ?", (spec.disturbances,)
        )
    )
    spoken = conn.execute(
        f"SELECT {_TEXT_COLUMNS} FROM texts WHERE source = ? ORDER BY id DESC LIMIT 1", (step.spoken_source,)
    ).fetchone()
    state = {key: json.loads(value) for key, value in conn.execute("SELECT key, value FROM state")}
    return FieldSnapshot(
        name=name,
        recent=recent,
        random=random_texts,
        trigrams=trigrams,
        words=words,
        disturbances=disturbances,
        last_spoken=None if spoken is None else _text_row(spoken),
        counts=counts,
        state=frozen_mapping(state),
        lookup=frozen_mapping(lookup),
    )


class StepExecutor:
    """Executes steps on one connection (the contract in :mod:`harmonix.field.steps`). Whoever owns it decides on
    which thread it runs: :class:`SqliteStore` on its database thread, :class:`SyncSqliteStore` on the caller's."""

    def __init__(self, conn: sqlite3.Connection, name: str, *, transactions: bool) -> None:
        self.conn, self.name, self.transactions = conn, name, transactions

    def execute(self, steps: Sequence[Step], abandoned: threading.Event) -> list[object]:
        results: list[object] = []
        try:
            for step in steps:
                if abandoned.is_set():
                    raise OperationAbandoned(f"field {self.name}: cancelled before {type(step).__name__}")
                results.append(self._apply(step))
        except BaseException:
            if self.conn.in_transaction:
                self.conn.rollback()
            raise
        return results

    def _apply(self, step: Step) -> object:
        conn = self.conn
        match step:
            case Begin(write=write):
                if self.transactions:
                    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
                return None
            case Commit():
                if self.transactions:
                    conn.execute("COMMIT")
                return None
            case Rollback():
                if conn.in_transaction:
                    conn.rollback()
                return None
            case AddText():
                text_id = conn.execute(
                    "INSERT INTO texts (source, body, created, tokens, meta) VALUES (?, ?, ?, ?, ?)",
                    (step.source, step.body, step.created, step.tokens, step.meta_json),
                ).lastrowid
                self._count(step, "own")
                return text_id
            case AddDisturbance():
                disturbance_id = conn.execute(
                    "INSERT INTO disturbances (source, body, created, tokens) VALUES (?, ?, ?, ?)",
                    (step.source, step.body, step.created, step.tokens),
                ).lastrowid
                self._count(step, "heard")
                return disturbance_id
            case AddTurn():
                return conn.execute(
                    "INSERT INTO turns (created, disturbance_id, text_id, seen_turns, dissonance, temperature,"
                    " duration_ms, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (step.created, step.disturbance_id, step.text_id, step.seen_turns, step.dissonance,
                     step.temperature, step.duration_ms, step.metrics_json),
                ).lastrowid
            case PutState(key=key, value_json=value_json):
                conn.execute(
                    "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value_json),
                )
                return None
            case ReadSnapshot():
                return read_snapshot(conn, self.name, step)
            case ReadCounts():
                return read_counts(conn)
        raise TypeError(f"unknown field step {step!r}")

    def _count(self, step: AddText | AddDisturbance, column: str) -> None:
        """Add a text's or disturbance's trigram and word counts to the ``own`` or ``heard`` column."""
        upsert_trigram, upsert_word = _UPSERTS[column]
        self.conn.executemany(upsert_trigram, [(*words, n) for words, n in step.trigrams])
        self.conn.executemany(upsert_word, step.words)


def _open_connection(path: Path, name: str, busy_timeout_s: float, shared: bool) -> tuple[sqlite3.Connection, int]:
    """Connect and migrate; ``shared=True`` lets several threads use the connection (SyncSqliteStore)."""
    conn = connect(path, busy_timeout_s=busy_timeout_s, check_same_thread=not shared)
    try:
        return conn, migrate(conn, name)
    except BaseException:
        conn.close()
        raise


class SqliteStore:
    """A field in one SQLite file, driven from one dedicated thread. Create with :meth:`open`."""

    def __init__(self, path: Path, executor: ThreadPoolExecutor, steps: StepExecutor, *, schema_version: int) -> None:
        self._path = path
        self._executor = executor
        self._steps = steps
        self._schema_version = schema_version

    @classmethod
    async def open(cls, path: Path, name: str, *, busy_timeout_s: float = 30.0, transactions: bool = True) -> SqliteStore:
        """Open (creating and migrating if needed) the field file ``path`` for field ``name``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"harmonix-field-{name}")
        loop = asyncio.get_running_loop()
        try:
            conn, version = await loop.run_in_executor(executor, _open_connection, path, name, busy_timeout_s, False)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, executor, StepExecutor(conn, name, transactions=transactions), schema_version=version)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def schema_version(self) -> int:
        return self._schema_version

    async def run(self, steps: Sequence[Step]) -> list[object]:
        """Execute ``steps`` on the database thread in one hop (contract: :mod:`harmonix.field.steps`)."""
        abandoned = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._steps.execute, steps, abandoned)
        try:
            return await future
        except asyncio.CancelledError:
            abandoned.set()
            raise

    async def close(self) -> None:
        """Roll back anything left open, close the connection and stop the thread (after queued work finishes)."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, _close, self._steps.conn)
        finally:
            self._executor.shutdown(wait=False)


class SyncSqliteStore:
    """The same field file driven synchronously, from whatever thread calls :meth:`run` (one shared connection).

    Nothing here serialises callers: that is the guard's job (:class:`harmonix.field.sync.SyncField`)."""

    def __init__(self, path: Path, steps: StepExecutor) -> None:
        self.path = path
        self._steps = steps

    @classmethod
    def open(cls, path: Path, name: str, *, busy_timeout_s: float = 30.0, transactions: bool = True) -> SyncSqliteStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn, _ = _open_connection(path, name, busy_timeout_s, True)
        return cls(path, StepExecutor(conn, name, transactions=transactions))

    def run(self, steps: Sequence[Step]) -> list[object]:
        return self._steps.execute(steps, threading.Event())

    def close(self) -> None:
        _close(self._steps.conn)


def _close(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.rollback()
    finally:
        conn.close()
