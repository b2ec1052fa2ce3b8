"""The SQL of each field step on SQLite (the vocabulary in :mod:`harmonix.field.steps`; the tables in
:mod:`harmonix.field.sqlite.schema`): what :class:`StepExecutor` executes on one connection for one field.

Which thread runs it is :mod:`harmonix.field.sqlite.connection`'s job; everything here runs on the connection it is
given, in the calling thread. A failure rolls the open transaction back and becomes a Harmonix error: SQLite's
"database is locked" past ``busy_timeout`` :class:`~harmonix.errors.FieldBusy`, a full disk or an I/O error
:class:`~harmonix.errors.FieldWriteFailed`, a broken constraint :class:`~harmonix.errors.FieldError`.

With ``transactions=False`` (for experiments that show why the discipline exists, never for real use) ``Begin``,
``Commit`` and ``Rollback`` do nothing and every statement commits on its own.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Sequence

from harmonix.errors import (
    FieldBusy,
    FieldError,
    FieldWriteFailed,
    OperationAbandoned,
)
from harmonix.field.model import (
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
    FORGOTTEN_IDS,
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
    RemoveRows,
    Rollback,
    Step,
)


def _upsert_trigram(column: str) -> str:
    return (f"INSERT INTO trigrams (w1, w2, w3, {column}) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (w1, w2, w3) DO UPDATE SET {column} = {column} + excluded.{column}")


def _upsert_word(column: str) -> str:
    return (f"INSERT INTO words (word, {column}) VALUES (?, ?) "
            f"ON CONFLICT (word) DO UPDATE SET {column} = {column} + excluded.{column}")


_UPSERTS = {column: (_upsert_trigram(column), _upsert_word(column)) for column in ("own", "heard")}
_TEXT_COLUMNS = "id, source, body, created, meta"


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
    return _uncount(conn, table, column, link, "id <= ?", (boundary,))


def _uncount(conn: sqlite3.Connection, table: str, column: str, link: str, where: str,
             parameters: Sequence[object]) -> int:
    """Remove the rows of ``texts`` or ``disturbances`` that ``where`` selects, their ``column`` counts and the
    turns' links to them. Returns how many rows went."""
    bodies = [body for (body,) in conn.execute(f"SELECT body FROM {table} WHERE {where}", parameters)]
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
    conn.execute(f"UPDATE turns SET {link} = NULL WHERE {link} IN (SELECT id FROM {table} WHERE {where})",
                 parameters)
    conn.execute(f"DELETE FROM {table} WHERE {where}", parameters)
    return len(bodies)


def forget(conn: sqlite3.Connection, step: Forget) -> Forgotten:
    """Retention (:class:`Forget`), inside the open write transaction."""
    texts = _forget_counted(conn, "texts", "own", "text_id", step.texts)
    disturbances = _forget_counted(conn, "disturbances", "heard", "disturbance_id", step.disturbances)
    boundary = _forget_oldest(conn, "turns", step.turns)
    turns = 0 if boundary is None else conn.execute("DELETE FROM turns WHERE id <= ?", (boundary,)).rowcount
    return Forgotten(texts=texts, disturbances=disturbances, turns=turns)


def remove_rows(conn: sqlite3.Connection, step: RemoveRows) -> Forgotten:
    """:class:`RemoveRows`, inside the open write transaction: turns first (they link to the others), then texts and
    disturbances with their counts; then the highest ids removed join :data:`FORGOTTEN_IDS`."""
    chosen = "id IN (SELECT value FROM json_each(?))"
    ids = {"texts": step.texts, "disturbances": step.disturbances, "turns": step.turns}
    held = {table: [row[0] for row in conn.execute(f"SELECT id FROM {table} WHERE {chosen}", (json.dumps(wanted),))]
            for table, wanted in ids.items()}
    turns = conn.execute(f"DELETE FROM turns WHERE {chosen}", (json.dumps(step.turns),)).rowcount
    texts = _uncount(conn, "texts", "own", "text_id", chosen, (json.dumps(step.texts),))
    disturbances = _uncount(conn, "disturbances", "heard", "disturbance_id", chosen, (json.dumps(step.disturbances),))
    floors = _forgotten_ids(conn)
    raised = {table: max(floors.get(table, 0), *removed) for table, removed in held.items() if removed}
    if raised:
        conn.execute("INSERT INTO state (key, value) VALUES (?, ?)"
                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     (FORGOTTEN_IDS, json.dumps({**floors, **raised}, sort_keys=True)))
    return Forgotten(texts=texts, disturbances=disturbances, turns=turns)


def _forgotten_ids(conn: sqlite3.Connection) -> dict[str, int]:
    row = conn.execute("SELECT value FROM state WHERE key = ?", (FORGOTTEN_IDS,)).fetchone()
    return {} if row is None else {str(table): int(top) for table, top in json.loads(row[0]).items()}


def _next_id(table: str) -> str:
    """SQL for a new row's id in ``table``: one above the highest it holds or ever held (:data:`FORGOTTEN_IDS`)."""
    return (f"(SELECT max(coalesce(max(id), 0), coalesce((SELECT json_extract(value, '$.{table}') FROM state"
            f" WHERE key = '{FORGOTTEN_IDS}'), 0)) + 1 FROM {table})")


def check_integrity(conn: sqlite3.Connection) -> list[str]:
    """SQLite's own checks: ``PRAGMA integrity_check`` is "ok" and ``PRAGMA foreign_key_check`` finds nothing."""
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    problems = [f"integrity_check: {line}" for line in integrity if integrity != ["ok"]]
    return problems + [f"foreign_key_check: {row}" for row in conn.execute("PRAGMA foreign_key_check")]


def is_busy(error: sqlite3.OperationalError) -> bool:
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
        self.steps_started = 0

    def execute(self, steps: Sequence[Step], abandoned: threading.Event) -> list[object]:
        results: list[object] = []
        try:
            for step in steps:
                if abandoned.is_set():
                    raise OperationAbandoned(f"field {self.name}: cancelled before {type(step).__name__}")
                self.steps_started += 1
                results.append(self._apply(step))
        except BaseException as error:
            if self.conn.in_transaction:
                self.conn.rollback()
            if isinstance(error, sqlite3.OperationalError) and is_busy(error):
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
                    f"INSERT INTO texts (id, source, body, created, tokens, meta) VALUES ({_next_id('texts')},"
                    " ?, ?, ?, ?, ?)",
                    (step.source, step.body, step.created, step.tokens, step.meta_json),
                ).lastrowid
                self._count(step, "own")
                return text_id
            case AddDisturbance():
                disturbance_id = conn.execute(
                    f"INSERT INTO disturbances (id, source, body, created, tokens) VALUES"
                    f" ({_next_id('disturbances')}, ?, ?, ?, ?)",
                    (step.source, step.body, step.created, step.tokens),
                ).lastrowid
                self._count(step, "heard")
                return disturbance_id
            case AddTurn():
                return conn.execute(
                    "INSERT INTO turns (id, created, disturbance_id, text_id, seen_turns, dissonance, temperature,"
                    f" duration_ms, metrics) VALUES ({_next_id('turns')}, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            case RemoveRows():
                return remove_rows(conn, step)
            case CheckIntegrity():
                return check_integrity(conn)
        raise TypeError(f"unknown field step {step!r}")

    def _count(self, step: AddText | AddDisturbance, column: str) -> None:
        """Add a text's or disturbance's trigram and word counts to the ``own`` or ``heard`` column."""
        upsert_trigram, upsert_word = _UPSERTS[column]
        self.conn.executemany(upsert_trigram, [(*words, n) for words, n in step.trigrams])
        self.conn.executemany(upsert_word, step.words)


