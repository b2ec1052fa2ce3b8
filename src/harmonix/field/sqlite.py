"""SQLite backend: a home directory of colonies, each field one file, driven by one connection on one thread.

**Layout.** ``HOME/colonies/NAME/`` holds colony ``NAME``: a ``colony.json`` (name, created, owner, forked_from)
and one ``FIELD.sqlite3`` per field. A colony directory appears by an atomic ``mkdir`` (create) or ``rename``
(fork: the copy is built in a hidden directory first), and disappears by a ``rename`` out of the way before its
files are deleted, so no other process ever lists half a colony. A home from before colonies (``HOME/fields/``)
becomes colony ``default`` the first time it is opened.

**One field** (docs/architecture.md, "The field discipline"; Datasette's ``execute_write_fn``): the connection lives
on a dedicated thread, and every :meth:`SqliteFieldStore.run` ships a whole list of steps there as one function
call. An operation therefore costs one
thread hop however many statements it runs (aiosqlite costs one hop *per statement*; ``harmonix bench field``
measures both). The thread is also the only place the connection is touched, so SQLite never sees two threads on it.

Connection settings and why:

- ``journal_mode=WAL``: readers never block the writer and the writer never blocks readers, across processes.
- ``synchronous=NORMAL``: in WAL mode a commit is durable against a crash of the *process* (tested with SIGKILL)
  but the last commits before a power loss or OS crash may be lost; the database itself stays consistent. This is
  the durability Harmonix trades for commits without an fsync each.
- ``busy_timeout`` (the store's lock timeout): a writer waits for another process's write transaction instead of
  failing at once; write transactions begin ``IMMEDIATE`` so they queue for the lock up front instead of failing on
  upgrade. Past the timeout SQLite's "database is locked" becomes :class:`~harmonix.errors.FieldBusy`.
- ``foreign_keys=ON``: a turn row cannot point at a text or disturbance that does not exist.
- ``PRAGMA user_version``: the schema version; :data:`MIGRATIONS` brings older files forward, newer files are refused.

With ``transactions=False`` (for experiments that show why the discipline exists, never for real use) ``Begin``,
``Commit`` and ``Rollback`` do nothing and every statement commits on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harmonix.errors import (
    ColonyExists,
    ColonyNotFound,
    FieldBusy,
    FieldError,
    FieldMismatch,
    FieldNotFound,
    FieldVersionError,
    FieldWriteFailed,
    OperationAbandoned,
    StoreUnavailable,
)
from harmonix.field.model import (
    ColonyInfo,
    Disturbance,
    FieldCounts,
    FieldDump,
    FieldSnapshot,
    Forgotten,
    SnapshotSpec,
    TextRow,
    TrigramCount,
    TurnView,
    WordCount,
    frozen_mapping,
)
from harmonix.field.retention import counts_of
from harmonix.field.steps import (
    AddDisturbance,
    AddText,
    AddTurn,
    Begin,
    CheckIntegrity,
    Commit,
    Forget,
    LoadDump,
    PutState,
    ReadCounts,
    ReadDump,
    ReadSnapshot,
    ReadTurns,
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


def _text_row(row: tuple) -> TextRow:
    return TextRow(id=row[0], source=row[1], body=row[2], created=row[3], meta=frozen_mapping(json.loads(row[4])))


def _limit(value: int | None) -> int:
    """SQLite's LIMIT takes -1 for "no limit"."""
    return -1 if value is None else value


def read_counts(conn: sqlite3.Connection) -> FieldCounts:
    """Sizes of the field (call inside a transaction for a consistent reading)."""
    texts, disturbances, turns, last_turn = conn.execute(
        "SELECT (SELECT count(*) FROM texts), (SELECT count(*) FROM disturbances), (SELECT count(*) FROM turns),"
        " (SELECT coalesce(max(id), 0) FROM turns)"
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
        last_turn=last_turn,
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


def read_turns(conn: sqlite3.Connection, step: ReadTurns) -> tuple[TurnView, ...]:
    """The turns :class:`ReadTurns` asks for, newest first, with the rows they link to (inside a transaction)."""
    rows = conn.execute(
        "SELECT id, created, seen_turns, dissonance, temperature, duration_ms, metrics, disturbance_id, text_id"
        " FROM turns WHERE id < ? ORDER BY id DESC LIMIT ?",
        (step.before if step.before is not None else 1 << 62, step.limit)).fetchall()
    metrics = [json.loads(row[6]) for row in rows]
    named = [m.get("texts") if isinstance(m.get("texts"), dict) else {} for m in metrics]
    text_ids = {row[8] for row in rows if row[8] is not None}
    text_ids |= {i for texts in named for i in texts.values() if isinstance(i, int)}
    bodies = _bodies(conn, "texts", text_ids)
    prompts = _bodies(conn, "disturbances", {row[7] for row in rows if row[7] is not None})
    return tuple(
        TurnView(id=row[0], created=row[1], seen_turns=row[2], dissonance=row[3], temperature=row[4],
                 duration_ms=row[5], metrics=frozen_mapping(m), disturbance=prompts.get(row[7]),
                 text=bodies.get(row[8]),
                 texts=frozen_mapping({name: bodies[i] for name, i in texts.items() if i in bodies}))
        for row, m, texts in zip(rows, metrics, named, strict=True))


def _bodies(conn: sqlite3.Connection, table: str, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    return dict(conn.execute(f"SELECT id, body FROM {table} WHERE id IN ({marks})", sorted(ids)).fetchall())


def read_dump(conn: sqlite3.Connection, name: str) -> FieldDump:
    """Every row of the field, in the order :class:`FieldDump` documents (call inside a read transaction)."""
    return FieldDump(
        name=name,
        texts=tuple(conn.execute("SELECT id, source, body, created, tokens, meta FROM texts ORDER BY id")),
        disturbances=tuple(conn.execute("SELECT id, source, body, created, tokens FROM disturbances ORDER BY id")),
        turns=tuple(conn.execute("SELECT id, created, disturbance_id, text_id, seen_turns, dissonance, temperature,"
                                 " duration_ms, metrics FROM turns ORDER BY id")),
        trigrams=tuple(conn.execute("SELECT w1, w2, w3, own, heard FROM trigrams ORDER BY w1, w2, w3")),
        words=tuple(conn.execute("SELECT word, own, heard FROM words ORDER BY word")),
        state=tuple(conn.execute("SELECT key, value FROM state ORDER BY key")),
    )


def load_dump(conn: sqlite3.Connection, dump: FieldDump) -> None:
    """Write every row of ``dump`` into an empty field, ids kept (call inside a write transaction)."""
    held = conn.execute("SELECT (SELECT count(*) FROM texts) + (SELECT count(*) FROM disturbances)"
                        " + (SELECT count(*) FROM turns)").fetchone()[0]
    if held:
        raise FieldError(f"field {dump.name} is not empty ({held} rows): a dump loads only into an empty field")
    conn.executemany("INSERT INTO texts (id, source, body, created, tokens, meta) VALUES (?, ?, ?, ?, ?, ?)",
                     dump.texts)
    conn.executemany("INSERT INTO disturbances (id, source, body, created, tokens) VALUES (?, ?, ?, ?, ?)",
                     dump.disturbances)
    conn.executemany("INSERT INTO turns (id, created, disturbance_id, text_id, seen_turns, dissonance, temperature,"
                     " duration_ms, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", dump.turns)
    conn.execute("DELETE FROM trigrams")
    conn.execute("DELETE FROM words")
    conn.execute("DELETE FROM state")
    conn.executemany("INSERT INTO trigrams (w1, w2, w3, own, heard) VALUES (?, ?, ?, ?, ?)", dump.trigrams)
    conn.executemany("INSERT INTO words (word, own, heard) VALUES (?, ?, ?)", dump.words)
    conn.executemany("INSERT INTO state (key, value) VALUES (?, ?)", dump.state)


def _forget_oldest(conn: sqlite3.Connection, table: str, keep: int) -> int | None:
    """The highest id of ``table`` that retention forgets (``max(id) - keep``), or ``None`` when nothing goes."""
    (top,) = conn.execute(f"SELECT max(id) FROM {table}").fetchone()
    return None if top is None or top <= keep else top - keep


def _forget_counted(conn: sqlite3.Connection, table: str, column: str, link: str, keep: int) -> int:
    """Forget the oldest rows of ``texts`` or ``disturbances`` beyond ``keep``, their ``column`` counts and the
    turns' links to them (contract: :mod:`harmonix.field.retention`). Returns how many rows went."""
    boundary = _forget_oldest(conn, table, keep)
    if boundary is None:
        return 0
    bodies = [body for (body,) in conn.execute(f"SELECT body FROM {table} WHERE id <= ?", (boundary,))]
    if not bodies:
        return 0
    counts = counts_of(bodies)
    conn.executemany(f"UPDATE trigrams SET {column} = {column} - ? WHERE w1 = ? AND w2 = ? AND w3 = ?",
                     [(n, *words) for words, n in counts.trigrams.items()])
    conn.executemany("DELETE FROM trigrams WHERE w1 = ? AND w2 = ? AND w3 = ? AND own = 0 AND heard = 0",
                     list(counts.trigrams))
    conn.executemany(f"UPDATE words SET {column} = {column} - ? WHERE word = ?",
                     [(n, word) for word, n in counts.words.items()])
    conn.executemany("DELETE FROM words WHERE word = ? AND own = 0 AND heard = 0", [(word,) for word in counts.words])
    conn.execute(f"UPDATE turns SET {link} = NULL WHERE {link} <= ?", (boundary,))
    conn.execute(f"DELETE FROM {table} WHERE id <= ?", (boundary,))
    return len(bodies)


def forget(conn: sqlite3.Connection, step: Forget) -> Forgotten:
    """Retention (:class:`Forget`), inside the open write transaction."""
    texts = _forget_counted(conn, "texts", "own", "text_id", step.texts)
    disturbances = _forget_counted(conn, "disturbances", "heard", "disturbance_id", step.disturbances)
    boundary = _forget_oldest(conn, "turns", step.turns)
    turns = 0 if boundary is None else conn.execute("DELETE FROM turns WHERE id <= ?", (boundary,)).rowcount
    return Forgotten(texts=texts, disturbances=disturbances, turns=turns)


def check_integrity(conn: sqlite3.Connection) -> list[str]:
    """SQLite's own checks: ``PRAGMA integrity_check`` is "ok" and ``PRAGMA foreign_key_check`` finds nothing."""
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    problems = [f"integrity_check: {line}" for line in integrity if integrity != ["ok"]]
    return problems + [f"foreign_key_check: {row}" for row in conn.execute("PRAGMA foreign_key_check")]


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """SQLite's "database is locked" / "database is busy": another connection held the write lock past
    ``busy_timeout``."""
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "locked" in str(error) or "busy" in str(error))


def _is_write_failure(error: sqlite3.OperationalError) -> bool:
    """SQLite's "database or disk is full" (``SQLITE_FULL``: no space left) or an I/O error (``SQLITE_IOERR`` and
    its extended codes, the low byte being the primary code: a write over the file-size limit, a failing device)."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)


class StepExecutor:
    """Executes steps on one connection (the contract in :mod:`harmonix.field.steps`). Whoever owns it decides on
    which thread it runs: :class:`SqliteFieldStore` on its database thread, :class:`SyncSqliteStore` on the
    caller's."""

    def __init__(self, conn: sqlite3.Connection, name: str, *, transactions: bool) -> None:
        self.conn, self.name, self.transactions = conn, name, transactions

    def execute(self, steps: Sequence[Step], abandoned: threading.Event) -> list[object]:
        results: list[object] = []
        try:
            for step in steps:
                if abandoned.is_set():
                    raise OperationAbandoned(f"field {self.name}: cancelled before {type(step).__name__}")
                results.append(self._apply(step))
        except BaseException as error:
            if self.conn.in_transaction:
                self.conn.rollback()
            if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
                raise FieldBusy(f"field {self.name}: another process held it past the lock timeout "
                                f"({error})") from error
            if isinstance(error, sqlite3.OperationalError) and _is_write_failure(error):
                raise FieldWriteFailed(f"field {self.name}: the disk refused the write ({error}); the field is "
                                       f"unchanged") from error
            if isinstance(error, sqlite3.IntegrityError):
                raise FieldError(f"field {self.name}: {error}") from error
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
                    "INSERT INTO state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value_json),
                )
                return None
            case ReadSnapshot():
                return read_snapshot(conn, self.name, step)
            case ReadCounts():
                return read_counts(conn)
            case ReadTurns():
                return read_turns(conn, step)
            case ReadDump():
                return read_dump(conn, self.name)
            case LoadDump(dump=dump):
                load_dump(conn, dump)
                return None
            case Forget():
                return forget(conn, step)
            case CheckIntegrity():
                return check_integrity(conn)
        raise TypeError(f"unknown field step {step!r}")

    def _count(self, step: AddText | AddDisturbance, column: str) -> None:
        """Add a text's or disturbance's trigram and word counts to the ``own`` or ``heard`` column."""
        upsert_trigram, upsert_word = _UPSERTS[column]
        self.conn.executemany(upsert_trigram, [(*words, n) for words, n in step.trigrams])
        self.conn.executemany(upsert_word, step.words)


def _open_connection(path: Path, name: str, busy_timeout_s: float, shared: bool) -> tuple[sqlite3.Connection, int]:
    """Connect and migrate; ``shared=True`` lets several threads use the connection (SyncSqliteStore)."""
    try:
        conn = connect(path, busy_timeout_s=busy_timeout_s, check_same_thread=not shared)
    except sqlite3.OperationalError as error:
        raise StoreUnavailable(f"cannot open field file {path}: {error}") from error
    try:
        return conn, migrate(conn, name)
    except sqlite3.OperationalError as error:
        conn.close()
        if _is_busy(error):
            raise FieldBusy(f"field {name}: another process held it past the lock timeout ({error})") from error
        raise StoreUnavailable(f"cannot use field file {path}: {error}") from error
    except BaseException:
        conn.close()
        raise


class SqliteFieldStore:
    """A field in one SQLite file, driven from one dedicated thread. Opened by :meth:`SqliteStore.open_field`."""

    def __init__(self, path: Path, executor: ThreadPoolExecutor, steps: StepExecutor, *, schema_version: int) -> None:
        self._path = path
        self._executor = executor
        self._steps = steps
        self._schema_version = schema_version

    @classmethod
    async def open(cls, path: Path, name: str, *, busy_timeout_s: float = 30.0,
                   transactions: bool = True) -> SqliteFieldStore:
        """Open (creating and migrating if needed) the field file ``path`` for field ``name``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"harmonix-field-{name}")
        loop = asyncio.get_running_loop()
        try:
            conn, version = await loop.run_in_executor(executor, _open_connection, path, name, busy_timeout_s, False)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, executor, StepExecutor(conn, name, transactions=transactions), schema_version=version)

    @property
    def location(self) -> str:
        return str(self._path)

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

    async def size_bytes(self) -> int:
        return await asyncio.to_thread(_file_bytes, self._path)

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


def _file_bytes(path: Path) -> int:
    """A field file's size with its write-ahead log."""
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


# --- the home: colonies of field files -----------------------------------------------------------------------------

COLONIES = "colonies"
COLONY_FILE = "colony.json"
FIELD_SUFFIX = ".sqlite3"
LEGACY_FIELDS = "fields"
DEFAULT_COLONY = "default"


class SqliteStore:
    """A home directory of colonies (module docstring). Open with ``async with SqliteStore.open(home) as store``."""

    kind = "sqlite"

    def __init__(self, home: Path, lock_timeout_s: float) -> None:
        self.home = home
        self._colonies = home / COLONIES
        self._lock_timeout_s = lock_timeout_s

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, home: Path, *, lock_timeout_s: float = 30.0,
                   ensure_default: bool = True) -> AsyncIterator[SqliteStore]:
        store = cls(home, lock_timeout_s)
        await asyncio.to_thread(store._prepare, ensure_default)
        yield store

    def _prepare(self, ensure_default: bool) -> None:
        """Create the colonies directory (refusing a home that cannot be written), adopt a pre-colony home, and
        (unless ``ensure_default`` is false: a listing) make sure colony ``default`` exists, so that a home nobody
        has used yet lists no colonies while a pre-colony home lists the one it holds (adopted with its
        ``colony.json``, whoever opens it first)."""
        try:
            self._colonies.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(f"cannot create {self._colonies}: {error.strerror or error}") from error
        if not os.access(self._colonies, os.W_OK | os.X_OK):
            raise StoreUnavailable(f"the home {self.home} is not writable")
        legacy = self.home / LEGACY_FIELDS
        target = self._colonies / DEFAULT_COLONY
        adopted = False
        if legacy.is_dir() and not target.exists():
            with contextlib.suppress(FileNotFoundError):  # another process adopted it first
                legacy.rename(target)
                adopted = True
                log.info("adopted %s as colony %s", legacy, DEFAULT_COLONY)
        if not (ensure_default or adopted):
            return
        target.mkdir(exist_ok=True)
        if not (target / COLONY_FILE).exists():
            _write_info(target, ColonyInfo(name=DEFAULT_COLONY, created=time.time()))

    @property
    def location(self) -> str:
        return f"sqlite:{self.home}"

    def colony_dir(self, colony: str) -> Path:
        return self._colonies / colony

    def field_path(self, colony: str, name: str) -> Path:
        """The file of field ``name`` in ``colony``."""
        return self._colonies / colony / f"{name}{FIELD_SUFFIX}"

    async def open_field(self, colony: str, name: str, *, create: bool = True,
                         transactions: bool = True) -> SqliteFieldStore:
        path = self.field_path(colony, name)
        if not (self.colony_dir(colony) / COLONY_FILE).is_file():
            raise ColonyNotFound(f"no colony {colony!r} in {self.home}")
        if not create and not path.is_file():
            raise FieldNotFound(f"no field {name!r} in colony {colony!r}")
        return await SqliteFieldStore.open(path, name, busy_timeout_s=self._lock_timeout_s, transactions=transactions)

    async def create_colony(self, name: str, *, owner: str | None = None, created: float | None = None,
                            forked_from: str | None = None) -> ColonyInfo:
        info = ColonyInfo(name=name, created=time.time() if created is None else created, owner=owner,
                          forked_from=forked_from)
        await asyncio.to_thread(self._create, info)
        return info

    def _create(self, info: ColonyInfo) -> None:
        directory = self.colony_dir(info.name)
        try:
            directory.mkdir()
        except FileExistsError:
            raise ColonyExists(f"colony {info.name!r} already exists") from None
        _write_info(directory, info)

    async def colony(self, name: str) -> ColonyInfo:
        return await asyncio.to_thread(self._read_info, name)

    def _read_info(self, name: str) -> ColonyInfo:
        try:
            document = json.loads((self.colony_dir(name) / COLONY_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ColonyNotFound(f"no colony {name!r} in {self.home}") from None
        return ColonyInfo(name=document["name"], created=document["created"], owner=document.get("owner"),
                          forked_from=document.get("forked_from"))

    async def colonies(self) -> list[ColonyInfo]:
        def names() -> list[str]:
            if not self._colonies.is_dir():
                return []
            return sorted(path.name for path in self._colonies.iterdir()
                          if not path.name.startswith(".") and (path / COLONY_FILE).is_file())

        infos = []
        for name in await asyncio.to_thread(names):
            with contextlib.suppress(ColonyNotFound):  # removed since it was listed
                infos.append(await self.colony(name))
        return infos

    async def fork_colony(self, name: str, new: str, *, owner: str | None = None) -> ColonyInfo:
        info = ColonyInfo(name=new, created=time.time(), owner=owner, forked_from=name)
        await asyncio.to_thread(self._fork, name, info)
        return info

    def _fork(self, name: str, info: ColonyInfo) -> None:
        """Copy each field with SQLite's backup API (one read transaction per field: a consistent copy) into a
        hidden directory, then rename it into place: the fork appears whole or not at all."""
        self._read_info(name)
        if self.colony_dir(info.name).exists():
            raise ColonyExists(f"colony {info.name!r} already exists")
        building = self._colonies / f".fork-{info.name}-{secrets.token_hex(4)}"
        building.mkdir()
        try:
            for path in sorted(self.colony_dir(name).glob(f"*{FIELD_SUFFIX}")):
                source = connect(path, busy_timeout_s=self._lock_timeout_s)
                target = sqlite3.connect(building / path.name)
                try:
                    source.backup(target)
                finally:
                    target.close()
                    source.close()
            _write_info(building, info)
            try:
                building.rename(self.colony_dir(info.name))
            except OSError:
                raise ColonyExists(f"colony {info.name!r} already exists") from None
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise

    async def remove_colony(self, name: str) -> None:
        await asyncio.to_thread(self._remove, name)

    def _remove(self, name: str) -> None:
        self._read_info(name)
        doomed = self._colonies / f".removed-{name}-{secrets.token_hex(4)}"
        try:
            self.colony_dir(name).rename(doomed)
        except FileNotFoundError:
            raise ColonyNotFound(f"no colony {name!r} in {self.home}") from None
        shutil.rmtree(doomed)

    async def field_names(self, colony: str) -> list[str]:
        await self.colony(colony)

        def names() -> list[str]:
            return sorted(path.name[: -len(FIELD_SUFFIX)] for path in self.colony_dir(colony).glob(f"*{FIELD_SUFFIX}"))

        return await asyncio.to_thread(names)

    async def remove_field(self, colony: str, name: str) -> bool:
        await self.colony(colony)
        base = self.field_path(colony, name)

        def remove() -> bool:
            existed = base.exists()
            for path in (base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")):
                path.unlink(missing_ok=True)
            return existed

        return await asyncio.to_thread(remove)


def _write_info(directory: Path, info: ColonyInfo) -> None:
    """Write ``colony.json`` atomically (a temporary file renamed over it)."""
    document = {"name": info.name, "created": info.created, "owner": info.owner, "forked_from": info.forked_from}
    temporary = directory / f".{COLONY_FILE}.{secrets.token_hex(4)}"
    temporary.write_text(json.dumps(document, sort_keys=True) + "\n", encoding="utf-8")
    temporary.rename(directory / COLONY_FILE)
