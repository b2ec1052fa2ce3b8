"""The SQL of each field step on PostgreSQL (the vocabulary in :mod:`harmonix.field.steps`; the tables in
:mod:`harmonix.field.postgres.schema`): what :class:`StepRunner` executes on one connection for one field.

How the statements are sent (one pipeline per run, transactions, the lock, cancellation) is
:mod:`harmonix.field.postgres.store`'s job; every function here only queues statements on the connection it is given
and reads their results, so it runs the same inside a pipeline and outside one.

Reads follow the snapshot contract exactly: ``recent`` and ``disturbances`` by id descending; ``random`` at the
offsets ``sorted(random.Random(seed).sample(range(n_texts), k))`` of the texts ordered by id, fetched in one
statement (an ``unnest`` of the offsets joined laterally to ``OFFSET n LIMIT 1``); ``trigrams`` by ``own + heard``
descending then ``w1, w2, w3`` and ``words`` by count then word, in the columns' ``COLLATE "C"`` order (code
points, as SQLite's BINARY). Sums are cast back to ``bigint`` (PostgreSQL sums ``bigint`` as ``numeric``).

Writes: a new row takes ``max(id) + 1`` of its field (safe under the field's advisory lock); a text's or
disturbance's counts are added with one ``INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE`` per table, so
a 300-word turn is three statements however many trigrams it has.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import psycopg

from harmonix.errors import FieldError
from harmonix.field.model import (
    Disturbance,
    FieldCounts,
    FieldDump,
    FieldSnapshot,
    Forgotten,
    TextRow,
    TrigramCount,
    TurnView,
    WordCount,
    frozen_mapping,
)
from harmonix.field.postgres.schema import DATA_COLUMNS, SCHEMA
from harmonix.field.retention import counts_of
from harmonix.field.steps import (
    FORGOTTEN_IDS,
    AddDisturbance,
    AddText,
    AddTurn,
    CheckIntegrity,
    Forget,
    LoadDump,
    PutState,
    ReadCounts,
    ReadDump,
    ReadSnapshot,
    ReadTurns,
    RemoveRows,
    Step,
)

Connection = psycopg.AsyncConnection[Any]
S = SCHEMA
_TEXT_COLUMNS = "id, source, body, created, meta::text"


def milliseconds(seconds: float) -> int:
    """A PostgreSQL duration setting's value: whole milliseconds, at least one (0 would mean "no limit")."""
    return max(1, round(seconds * 1000))


# --- reading a field (inside a transaction) ------------------------------------------------------------------------


def _text_row(row: Sequence[Any]) -> TextRow:
    return TextRow(id=row[0], source=row[1], body=row[2], created=row[3], meta=frozen_mapping(json.loads(row[4])))


async def read_counts(conn: Connection, field: int) -> FieldCounts:
    """Sizes of the field in one statement (one consistent reading even outside a transaction)."""
    cursor = await conn.execute(
        f"SELECT (SELECT count(*) FROM {S}.texts WHERE field = %(f)s),"
        f" (SELECT count(*) FROM {S}.disturbances WHERE field = %(f)s),"
        f" (SELECT count(*) FROM {S}.turns WHERE field = %(f)s),"
        f" (SELECT coalesce(max(id), 0) FROM {S}.turns WHERE field = %(f)s),"
        f" t.types, t.own, t.heard, w.types, w.own, w.heard"
        f" FROM (SELECT count(*), coalesce(sum(own), 0)::bigint, coalesce(sum(heard), 0)::bigint"
        f"       FROM {S}.trigrams WHERE field = %(f)s) AS t (types, own, heard),"
        f" (SELECT count(*), coalesce(sum(own), 0)::bigint, coalesce(sum(heard), 0)::bigint"
        f"  FROM {S}.words WHERE field = %(f)s) AS w (types, own, heard)", {"f": field})
    row = await cursor.fetchone()
    assert row is not None
    return FieldCounts(texts=row[0], disturbances=row[1], turns=row[2], last_turn=row[3], trigram_types=row[4],
                       own_trigrams=row[5], heard_trigrams=row[6], word_types=row[7], own_words=row[8],
                       heard_words=row[9])


async def read_snapshot(conn: Connection, field: int, name: str, step: ReadSnapshot) -> FieldSnapshot:
    """Everything in :class:`FieldSnapshot` (the contract in :mod:`harmonix.field.steps`): the counts first (the
    random offsets need the number of texts), then every other query queued at once."""
    spec = step.spec
    counts = await read_counts(conn, field)
    offsets = sorted(random.Random(step.random_seed).sample(range(counts.texts), min(spec.random, counts.texts)))
    recent = await conn.execute(f"SELECT {_TEXT_COLUMNS} FROM {S}.texts WHERE field = %s ORDER BY id DESC LIMIT %s",
                                (field, spec.recent))
    drawn = await conn.execute(
        f"SELECT t.* FROM unnest(%s::bigint[]) WITH ORDINALITY AS o (skip, position) CROSS JOIN LATERAL"
        f" (SELECT {_TEXT_COLUMNS} FROM {S}.texts WHERE field = %s ORDER BY id OFFSET o.skip LIMIT 1) AS t"
        f" ORDER BY o.position", (offsets, field))
    trigrams = await conn.execute(
        f"SELECT w1, w2, w3, own, heard FROM {S}.trigrams WHERE field = %s"
        f" ORDER BY own + heard DESC, w1, w2, w3 LIMIT %s", (field, spec.trigrams))
    words = await conn.execute(
        f"SELECT word, own, heard FROM {S}.words WHERE field = %s AND own + heard >= %s"
        f" ORDER BY own + heard DESC, word LIMIT %s", (field, spec.word_floor, spec.words))
    looked_up = await conn.execute(f"SELECT word, own, heard FROM {S}.words WHERE field = %s AND word = ANY(%s)",
                                   (field, list(spec.lookup)))
    disturbances = await conn.execute(
        f"SELECT id, source, body, created FROM {S}.disturbances WHERE field = %s ORDER BY id DESC LIMIT %s",
        (field, spec.disturbances))
    spoken = await conn.execute(
        f"SELECT {_TEXT_COLUMNS} FROM {S}.texts WHERE field = %s AND source = %s ORDER BY id DESC LIMIT 1",
        (field, step.spoken_source))
    state = await conn.execute(f"SELECT key, value::text FROM {S}.state WHERE field = %s", (field,))
    lookup = {word: WordCount(word=word, own=0, heard=0) for word in spec.lookup}
    for word, own, heard in await looked_up.fetchall():
        lookup[word] = WordCount(word=word, own=own, heard=heard)
    last = await spoken.fetchone()
    return FieldSnapshot(
        name=name,
        recent=tuple(_text_row(row) for row in await recent.fetchall()),
        random=tuple(_text_row(row) for row in await drawn.fetchall()),
        trigrams=tuple(TrigramCount(words=(w1, w2, w3), own=own, heard=heard)
                       for w1, w2, w3, own, heard in await trigrams.fetchall()),
        words=tuple(WordCount(word=word, own=own, heard=heard) for word, own, heard in await words.fetchall()),
        disturbances=tuple(Disturbance(id=row[0], source=row[1], body=row[2], created=row[3])
                           for row in await disturbances.fetchall()),
        last_spoken=None if last is None else _text_row(last),
        counts=counts,
        state=frozen_mapping({key: json.loads(value) for key, value in await state.fetchall()}),
        lookup=frozen_mapping(lookup),
    )


async def read_turns(conn: Connection, field: int, step: ReadTurns) -> tuple[TurnView, ...]:
    """The turns :class:`ReadTurns` asks for, newest first, with the rows they link to."""
    cursor = await conn.execute(
        f"SELECT id, created, seen_turns, dissonance, temperature, duration_ms, metrics::text, disturbance_id,"
        f" text_id FROM {S}.turns WHERE field = %s AND id < %s ORDER BY id DESC LIMIT %s",
        (field, step.before if step.before is not None else 1 << 62, step.limit))
    rows = await cursor.fetchall()
    metrics = [json.loads(row[6]) for row in rows]
    named = [m.get("texts") if isinstance(m.get("texts"), dict) else {} for m in metrics]
    text_ids = {row[8] for row in rows if row[8] is not None}
    text_ids |= {i for texts in named for i in texts.values() if isinstance(i, int)}
    bodies = await _bodies(conn, field, "texts", text_ids)
    prompts = await _bodies(conn, field, "disturbances", {row[7] for row in rows if row[7] is not None})
    return tuple(
        TurnView(id=row[0], created=row[1], seen_turns=row[2], dissonance=row[3], temperature=row[4],
                 duration_ms=row[5], metrics=frozen_mapping(m), disturbance=prompts.get(row[7]),
                 text=bodies.get(row[8]),
                 texts=frozen_mapping({name: bodies[i] for name, i in texts.items() if i in bodies}))
        for row, m, texts in zip(rows, metrics, named, strict=True))


async def _bodies(conn: Connection, field: int, table: str, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    cursor = await conn.execute(f"SELECT id, body FROM {S}.{table} WHERE field = %s AND id = ANY(%s)",
                                (field, sorted(ids)))
    return {row[0]: row[1] for row in await cursor.fetchall()}


_DUMP_QUERIES = {
    "texts": f"SELECT id, source, body, created, tokens, meta::text FROM {S}.texts WHERE field = %s ORDER BY id",
    "disturbances": f"SELECT id, source, body, created, tokens FROM {S}.disturbances WHERE field = %s ORDER BY id",
    "turns": f"SELECT id, created, disturbance_id, text_id, seen_turns, dissonance, temperature, duration_ms,"
             f" metrics::text FROM {S}.turns WHERE field = %s ORDER BY id",
    "trigrams": f"SELECT w1, w2, w3, own, heard FROM {S}.trigrams WHERE field = %s ORDER BY w1, w2, w3",
    "words": f"SELECT word, own, heard FROM {S}.words WHERE field = %s ORDER BY word",
    "state": f"SELECT key, value::text FROM {S}.state WHERE field = %s ORDER BY key",
}


async def read_dump(conn: Connection, field: int, name: str) -> FieldDump:
    """Every row of the field, in the order :class:`FieldDump` documents."""
    cursors = {table: await conn.execute(query, (field,)) for table, query in _DUMP_QUERIES.items()}
    rows = {table: tuple(tuple(row) for row in await cursor.fetchall()) for table, cursor in cursors.items()}
    return FieldDump(name=name, texts=rows["texts"], disturbances=rows["disturbances"],
                     turns=rows["turns"], trigrams=rows["trigrams"], words=rows["words"],
                     state=rows["state"])


async def load_dump(conn: Connection, field: int, dump: FieldDump) -> None:
    """Write every row of ``dump`` into this empty field, ids kept."""
    cursor = await conn.execute(
        f"SELECT (SELECT count(*) FROM {S}.texts WHERE field = %(f)s)"
        f" + (SELECT count(*) FROM {S}.disturbances WHERE field = %(f)s)"
        f" + (SELECT count(*) FROM {S}.turns WHERE field = %(f)s)", {"f": field})
    row = await cursor.fetchone()
    assert row is not None
    if row[0]:
        raise FieldError(f"field {dump.name} is not empty ({row[0]} rows): a dump loads only into an empty field")
    for table in ("trigrams", "words", "state"):
        await conn.execute(f"DELETE FROM {S}.{table} WHERE field = %s", (field,))
    async with conn.cursor() as many:
        for table, rows in dump.rows().items():
            if not rows:
                continue
            columns = DATA_COLUMNS[table]
            marks = ", ".join(["%s"] * (columns.count(",") + 2))
            await many.executemany(f"INSERT INTO {S}.{table} (field, {columns}) VALUES ({marks})",
                                   [(field, *values) for values in rows])


async def check_integrity(conn: Connection, field: int) -> list[str]:
    """What PostgreSQL's constraints already enforce, checked again from the rows: every turn's text and disturbance
    exist, and no count is negative."""
    cursor = await conn.execute(
        f"SELECT 'turn ' || t.id || ': no text ' || t.text_id FROM {S}.turns t WHERE t.field = %(f)s"
        f" AND t.text_id IS NOT NULL AND NOT EXISTS"
        f" (SELECT 1 FROM {S}.texts x WHERE x.field = t.field AND x.id = t.text_id)"
        f" UNION ALL SELECT 'turn ' || t.id || ': no disturbance ' || t.disturbance_id FROM {S}.turns t"
        f" WHERE t.field = %(f)s AND t.disturbance_id IS NOT NULL AND NOT EXISTS"
        f" (SELECT 1 FROM {S}.disturbances x WHERE x.field = t.field AND x.id = t.disturbance_id)"
        f" UNION ALL SELECT 'negative count for trigram ' || w1 || ' ' || w2 || ' ' || w3 FROM {S}.trigrams"
        f" WHERE field = %(f)s AND (own < 0 OR heard < 0)"
        f" UNION ALL SELECT 'negative count for word ' || word FROM {S}.words"
        f" WHERE field = %(f)s AND (own < 0 OR heard < 0)", {"f": field})
    return [f"postgresql: {row[0]}" for row in await cursor.fetchall()]


# --- forgetting (retention) ----------------------------------------------------------------------------------------


def _overflow(table: str, keep: str) -> str:
    """The condition on ``id`` that selects the rows of ``table`` beyond the newest ``%(keep)s`` of the field:
    ``id <= max(id) - keep``. Forgetting never removes the newest row, so ``max(id)`` is the same in every statement
    of one :class:`Forget`, and each selects the same rows."""
    return f"id <= (SELECT max(id) FROM {S}.{table} WHERE field = %(f)s) - %({keep})s"


async def _uncount(conn: Connection, field: int, table: str, column: str, link: str, where: str,
                   parameters: dict[str, Any], bodies: list[str]) -> None:
    """Queue what forgetting the rows of ``table`` that ``where`` selects (whose ``bodies`` were read) takes: their
    counts subtracted from ``column``, rows of trigrams and words left at zero deleted, the turns' links to them set
    to NULL, the rows deleted. Nothing here returns a result, so it all goes out with the commit."""
    counts = counts_of(bodies)
    trigram_keys = [list(column_values) for column_values in zip(*counts.trigrams, strict=True)] or [[], [], []]
    words = list(counts.words)
    await conn.execute(
        f"UPDATE {S}.trigrams AS t SET {column} = t.{column} - d.n"
        f" FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[]) AS d (w1, w2, w3, n)"
        f" WHERE t.field = %s AND t.w1 = d.w1 AND t.w2 = d.w2 AND t.w3 = d.w3",
        (*trigram_keys, list(counts.trigrams.values()), field))
    await conn.execute(
        f"DELETE FROM {S}.trigrams AS t USING unnest(%s::text[], %s::text[], %s::text[]) AS d (w1, w2, w3)"
        f" WHERE t.field = %s AND t.w1 = d.w1 AND t.w2 = d.w2 AND t.w3 = d.w3 AND t.own = 0 AND t.heard = 0",
        (*trigram_keys, field))
    await conn.execute(
        f"UPDATE {S}.words AS t SET {column} = t.{column} - d.n FROM unnest(%s::text[], %s::bigint[]) AS d (word, n)"
        f" WHERE t.field = %s AND t.word = d.word", (words, list(counts.words.values()), field))
    await conn.execute(f"DELETE FROM {S}.words WHERE field = %s AND word = ANY(%s) AND own = 0 AND heard = 0",
                       (field, words))
    await conn.execute(f"UPDATE {S}.turns SET {link} = NULL WHERE field = %(f)s"
                       f" AND {link} IN (SELECT id FROM {S}.{table} WHERE field = %(f)s AND {where})",
                       {"f": field, **parameters})
    await conn.execute(f"DELETE FROM {S}.{table} WHERE field = %(f)s AND {where}", {"f": field, **parameters})


async def forget(conn: Connection, field: int, step: Forget) -> Forgotten:
    """Retention (:class:`Forget`, the contract in :mod:`harmonix.field.retention`), inside the open write
    transaction: one round trip reads the overflowing turns' count (deleting them) and the overflowing texts' and
    disturbances' bodies; what their counts take is queued without waiting. A write that overflows nothing costs
    that one round trip."""
    keeps = {"f": field, "texts": step.texts, "disturbances": step.disturbances, "turns": step.turns}
    turns = await conn.execute(f"WITH gone AS (DELETE FROM {S}.turns WHERE field = %(f)s"
                               f" AND {_overflow('turns', 'turns')} RETURNING 1) SELECT count(*) FROM gone", keeps)
    overflow = await conn.execute(
        f"SELECT 'texts', body FROM {S}.texts WHERE field = %(f)s AND {_overflow('texts', 'texts')}"
        f" UNION ALL SELECT 'disturbances', body FROM {S}.disturbances"
        f" WHERE field = %(f)s AND {_overflow('disturbances', 'disturbances')}", keeps)
    bodies: dict[str, list[str]] = {"texts": [], "disturbances": []}
    for table, body in await overflow.fetchall():
        bodies[table].append(body)
    row = await turns.fetchone()
    assert row is not None
    if bodies["texts"]:
        await _uncount(conn, field, "texts", "own", "text_id", _overflow("texts", "keep"), {"keep": step.texts},
                       bodies["texts"])
    if bodies["disturbances"]:
        await _uncount(conn, field, "disturbances", "heard", "disturbance_id", _overflow("disturbances", "keep"),
                       {"keep": step.disturbances}, bodies["disturbances"])
    return Forgotten(texts=len(bodies["texts"]), disturbances=len(bodies["disturbances"]), turns=int(row[0]))


async def remove_rows(conn: Connection, field: int, step: RemoveRows) -> Forgotten:
    """:class:`RemoveRows`, inside the open write transaction: one round trip deletes the turns and reads the
    chosen texts' and disturbances' ids and bodies; what their counts take is queued; the highest ids removed join
    :data:`FORGOTTEN_IDS`."""
    chosen = {"f": field, "turns": list(step.turns), "texts": list(step.texts),
              "disturbances": list(step.disturbances)}
    turns = await conn.execute(f"WITH gone AS (DELETE FROM {S}.turns WHERE field = %(f)s AND id = ANY(%(turns)s)"
                               f" RETURNING id) SELECT coalesce(max(id), 0), count(*) FROM gone", chosen)
    found = await conn.execute(
        f"SELECT 'texts', id, body FROM {S}.texts WHERE field = %(f)s AND id = ANY(%(texts)s)"
        f" UNION ALL SELECT 'disturbances', id, body FROM {S}.disturbances"
        f" WHERE field = %(f)s AND id = ANY(%(disturbances)s)", chosen)
    rows: dict[str, list[tuple[int, str]]] = {"texts": [], "disturbances": []}
    for table, row_id, body in await found.fetchall():
        rows[table].append((row_id, body))
    turned = await turns.fetchone()
    assert turned is not None
    for table, column, link in (("texts", "own", "text_id"), ("disturbances", "heard", "disturbance_id")):
        if rows[table]:
            await _uncount(conn, field, table, column, link, f"id = ANY(%({table})s)", {table: chosen[table]},
                           [body for _, body in rows[table]])
    removed = {"turns": int(turned[0])} | {table: max(row_id for row_id, _ in held)
                                           for table, held in rows.items() if held}
    removed = {table: top for table, top in removed.items() if top}
    if removed:
        current = await conn.execute(f"SELECT value::text FROM {S}.state WHERE field = %s AND key = %s",
                                     (field, FORGOTTEN_IDS))
        row = await current.fetchone()
        floors = {} if row is None else {str(table): int(top) for table, top in json.loads(row[0]).items()}
        raised = {table: max(floors.get(table, 0), top) for table, top in removed.items()}
        await conn.execute(f"INSERT INTO {S}.state (field, key, value) VALUES (%s, %s, %s::json)"
                           f" ON CONFLICT (field, key) DO UPDATE SET value = excluded.value",
                           (field, FORGOTTEN_IDS, json.dumps({**floors, **raised}, sort_keys=True)))
    return Forgotten(texts=len(rows["texts"]), disturbances=len(rows["disturbances"]), turns=int(turned[1]))


# --- writing a field -----------------------------------------------------------------------------------------------


def _next_id(table: str) -> str:
    """SQL for a new row's id in ``table``: one above the highest it holds or ever held (:data:`FORGOTTEN_IDS`)."""
    return (f"(SELECT greatest(coalesce(max(id), 0), coalesce((SELECT (value->>'{table}')::bigint FROM {S}.state"
            f" WHERE field = %(f)s AND key = '{FORGOTTEN_IDS}'), 0)) + 1 FROM {S}.{table} WHERE field = %(f)s)")


def _upserts(column: str) -> tuple[str, str]:
    trigram = (f"INSERT INTO {S}.trigrams AS t (field, w1, w2, w3, {column})"
               f" SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[])"
               f" ON CONFLICT (field, w1, w2, w3) DO UPDATE SET {column} = t.{column} + excluded.{column}")
    word = (f"INSERT INTO {S}.words AS t (field, word, {column}) SELECT %s, * FROM unnest(%s::text[], %s::bigint[])"
            f" ON CONFLICT (field, word) DO UPDATE SET {column} = t.{column} + excluded.{column}")
    return trigram, word


UPSERTS = {column: _upserts(column) for column in ("own", "heard")}
INSERT_TEXT = (f"INSERT INTO {S}.texts (field, id, source, body, created, tokens, meta)"
                f" VALUES (%(f)s, {_next_id('texts')}, %(source)s, %(body)s, %(created)s, %(tokens)s, %(meta)s::json)"
                f" RETURNING id")
_INSERT_DISTURBANCE = (f"INSERT INTO {S}.disturbances (field, id, source, body, created, tokens)"
                       f" VALUES (%(f)s, {_next_id('disturbances')}, %(source)s, %(body)s, %(created)s, %(tokens)s)"
                       f" RETURNING id")
_INSERT_TURN = (f"INSERT INTO {S}.turns (field, id, created, disturbance_id, text_id, seen_turns, dissonance,"
                f" temperature, duration_ms, metrics) VALUES (%(f)s, {_next_id('turns')}, %(created)s,"
                f" %(disturbance_id)s, %(text_id)s, %(seen_turns)s, %(dissonance)s, %(temperature)s,"
                f" %(duration_ms)s, %(metrics)s::json) RETURNING id")


async def count_rows(conn: Connection, field: int, step: AddText | AddDisturbance, column: str) -> None:
    """Queue the upserts that add a text's or disturbance's trigram and word counts to ``own`` or ``heard``."""
    upsert_trigram, upsert_word = UPSERTS[column]
    if step.trigrams:
        await conn.execute(upsert_trigram, (field, [t[0][0] for t in step.trigrams], [t[0][1] for t in step.trigrams],
                                            [t[0][2] for t in step.trigrams], [t[1] for t in step.trigrams]))
    if step.words:
        await conn.execute(upsert_word, (field, [w[0] for w in step.words], [w[1] for w in step.words]))


async def _returned_id(cursor: psycopg.AsyncCursor[Any]) -> int:
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


_WRITES = (AddText, AddDisturbance, AddTurn, PutState, LoadDump, Forget)


class StepRunner:
    """Executes steps on one connection for one field (the contract in :mod:`harmonix.field.steps`).

    ``begin`` opens the transaction the discipline asks for: a write is ``READ COMMITTED`` with ``lock_timeout``
    set for this transaction only and the field's advisory lock taken as its first statement (released by COMMIT
    or ROLLBACK); a read is ``REPEATABLE READ READ ONLY`` and takes no lock. With ``transactions=False`` there is
    none, and each writing step first waits until no one holds the field's lock (released again as that statement
    ends), as each SQLite statement waits for its write lock."""

    def __init__(self, field: int, name: str, lock_key: int, lock_timeout_s: float, transactions: bool) -> None:
        self.field, self.name, self.lock_key = field, name, lock_key
        self.lock_timeout_ms = milliseconds(lock_timeout_s)
        self.transactions = transactions

    async def begin(self, conn: Connection, write: bool) -> None:
        if not self.transactions:
            return
        if write:
            await conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            await conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{self.lock_timeout_ms}ms",))
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
        else:
            await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    async def apply(self, conn: Connection, step: Step) -> object:
        field = self.field
        if not self.transactions and isinstance(step, _WRITES):
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
        match step:
            case AddText():
                inserted = await conn.execute(INSERT_TEXT, {
                    "f": field, "source": step.source, "body": step.body, "created": step.created,
                    "tokens": step.tokens, "meta": step.meta_json})
                await count_rows(conn, field, step, "own")
                return await _returned_id(inserted)
            case AddDisturbance():
                inserted = await conn.execute(_INSERT_DISTURBANCE, {
                    "f": field, "source": step.source, "body": step.body, "created": step.created,
                    "tokens": step.tokens})
                await count_rows(conn, field, step, "heard")
                return await _returned_id(inserted)
            case AddTurn():
                return await _returned_id(await conn.execute(_INSERT_TURN, {
                    "f": field, "created": step.created, "disturbance_id": step.disturbance_id,
                    "text_id": step.text_id, "seen_turns": step.seen_turns, "dissonance": step.dissonance,
                    "temperature": step.temperature, "duration_ms": step.duration_ms,
                    "metrics": step.metrics_json}))
            case PutState(key=key, value_json=value_json):
                await conn.execute(f"INSERT INTO {S}.state (field, key, value) VALUES (%s, %s, %s::json)"
                                   f" ON CONFLICT (field, key) DO UPDATE SET value = excluded.value",
                                   (field, key, value_json))
                return None
            case ReadSnapshot():
                return await read_snapshot(conn, field, self.name, step)
            case ReadCounts():
                return await read_counts(conn, field)
            case ReadTurns():
                return await read_turns(conn, field, step)
            case ReadDump():
                return await read_dump(conn, field, self.name)
            case LoadDump(dump=dump):
                await load_dump(conn, field, dump)
                return None
            case Forget():
                return await forget(conn, field, step)
            case RemoveRows():
                return await remove_rows(conn, field, step)
            case CheckIntegrity():
                return await check_integrity(conn, field)
        raise TypeError(f"unknown field step {step!r}")
