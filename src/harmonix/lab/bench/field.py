"""``harmonix bench field``: what the field discipline costs, measured against plain sqlite3 in the same run.

Three questions, each answered with medians of ``repeats`` interleaved repeats (see :mod:`harmonix.lab.bench.timing`):

(a) **Ingesting one turn** (a text of about 300 words) into a fresh field, per ingest, four arms:

    - ``sqlite3``: the same rows (text, trigram upserts, word upserts, computed beforehand) written with plain
      ``sqlite3`` in one ``BEGIN IMMEDIATE`` transaction with ``executemany``, same schema and pragmas. The floor.
    - ``db_thread``: our SQLite backend's transport alone: the same precomputed rows shipped to the field's database
      thread as one list of steps (one thread hop).
    - ``aiosqlite``: the same precomputed rows through aiosqlite, one await per statement (five hops): the design
      the design notes warned about (one hop per statement), measured rather than assumed.
    - ``field``: the product, ``Field.ingest(text)``: validation, tokenization, counting, lock, one transaction.

    ``ingest_ratio_vs_sqlite3 = field / sqlite3`` (target <= 1.5).

(b) **The lock**: ``lock_overhead_ratio = (guard_locked - guard_unlocked) / field``, where ``guard_*`` is the cost
    of entering and leaving the field's operation guard with the lock on and off (uncontended, 20 000 uses each) and
    ``field`` is one ingest from (a): the fraction the lock adds to an operation (target < 0.05).
    ``lock_acquire_release_us`` is a bare uncontended ``asyncio.Lock`` for reference.

(c) **Concurrent turns**: 100 turns started at once on one field (wrinkle of a 20-word prompt, snapshot, a 300-word
    reply ingested, metrics recorded); they serialise on the field lock. ``concurrent_turns_per_s`` = 100 / seconds.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from harmonix.field import Field, Guards, SnapshotSpec, open_store, sqlite_url
from harmonix.field.sqlite.connection import SqliteFieldStore
from harmonix.field.sqlite.schema import MIGRATIONS, connect
from harmonix.field.steps import AddText, Begin, Commit
from harmonix.lab.bench.timing import Stopwatch, interleaved, median
from harmonix.progress import NO_PROGRESS, Progress
from harmonix.text import tokenize, trigrams
from harmonix.text.phonetics import lexicon

TURN_WORDS = 300
PROMPT_WORDS = 20
GUARD_USES = 20_000
CONCURRENT_TURNS = 100


@dataclass(frozen=True, slots=True)
class FieldBench:
    """Medians in milliseconds (``*_ms``) or microseconds (``*_us``), and the ratios the issue's targets are set on."""

    repeats: int
    ingests_per_repeat: int
    sqlite3_ms: float
    db_thread_ms: float
    aiosqlite_ms: float | None
    field_ms: float
    ingest_ratio_vs_sqlite3: float
    db_thread_ratio_vs_sqlite3: float
    aiosqlite_ratio_vs_sqlite3: float | None
    lock_acquire_release_us: float
    guard_locked_us: float
    guard_unlocked_us: float
    lock_overhead_ratio: float
    concurrent_turns_per_s: float


def turn_texts(count: int, words: int, seed: int) -> list[str]:
    """``count`` texts of ``words`` real English words (from CMUdict) with Zipfian frequencies, like real turns."""
    vocabulary = sorted(word for word in lexicon() if word.isalpha())[::50]
    weights = [1.0 / rank for rank in range(1, len(vocabulary) + 1)]
    rng = random.Random(seed)
    rng.shuffle(vocabulary)
    return [" ".join(rng.choices(vocabulary, weights=weights, k=words)) for _ in range(count)]


@dataclass(frozen=True, slots=True)
class _Rows:
    body: str
    tokens: int
    trigrams: list[tuple[tuple[str, str, str], int]]
    words: list[tuple[str, int]]


def _rows(text: str) -> _Rows:
    tokens = tokenize(text)
    return _Rows(text, len(tokens), list(Counter(trigrams(tokens)).items()), list(Counter(tokens).items()))


_INSERT_TEXT = "INSERT INTO texts (source, body, created, tokens, meta) VALUES ('self', ?, 0, ?, '{}')"
_UPSERT_TRIGRAM = ("INSERT INTO trigrams (w1, w2, w3, own) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (w1, w2, w3) DO UPDATE SET own = own + excluded.own")
_UPSERT_WORD = "INSERT INTO words (word, own) VALUES (?, ?) ON CONFLICT (word) DO UPDATE SET own = own + excluded.own"


def _create_schema(path: Path) -> None:
    conn = connect(path, busy_timeout_s=30)
    for statement in (s for migration in MIGRATIONS for s in migration):
        conn.execute(statement)
    conn.close()


def _plain_sqlite3(directory: Path, rows: list[_Rows]) -> float:
    path = directory / "plain.sqlite3"
    _create_schema(path)
    conn = connect(path, busy_timeout_s=30)
    with Stopwatch() as watch:
        for row in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_INSERT_TEXT, (row.body, row.tokens))
            conn.executemany(_UPSERT_TRIGRAM, [(*words, n) for words, n in row.trigrams])
            conn.executemany(_UPSERT_WORD, row.words)
            conn.execute("COMMIT")
    conn.close()
    return watch.seconds / len(rows)


async def _db_thread(directory: Path, rows: list[_Rows]) -> float:
    store = await SqliteFieldStore.open(directory / "thread.sqlite3", "bench")
    try:
        with Stopwatch() as watch:
            for row in rows:
                step = AddText(source="self", body=row.body, created=0.0, tokens=row.tokens, meta_json="{}",
                               trigrams=row.trigrams, words=row.words)
                await store.run([Begin(write=True), step, Commit()])
    finally:
        await store.close()
    return watch.seconds / len(rows)


async def _aiosqlite(directory: Path, rows: list[_Rows]) -> float:
    import aiosqlite

    path = directory / "aiosqlite.sqlite3"
    _create_schema(path)
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA synchronous=NORMAL")
        with Stopwatch() as watch:
            for row in rows:
                await db.execute("BEGIN IMMEDIATE")
                await db.execute(_INSERT_TEXT, (row.body, row.tokens))
                await db.executemany(_UPSERT_TRIGRAM, [(*words, n) for words, n in row.trigrams])
                await db.executemany(_UPSERT_WORD, row.words)
                await db.execute("COMMIT")
    return watch.seconds / len(rows)


async def _field(directory: Path, texts: list[str]) -> float:
    async with open_store(sqlite_url(directory)) as store, Field.open(store, "bench") as field:
        with Stopwatch() as watch:
            for text in texts:
                await field.ingest(text)
    return watch.seconds / len(texts)


async def _guard_cost(directory: Path, guards: Guards) -> float:
    """Seconds per use of the field's operation guard (the one place its lock is taken)."""
    async with open_store(sqlite_url(directory)) as store, Field.open(store, "bench", guards=guards) as field:
        with Stopwatch() as watch:
            for _ in range(GUARD_USES):
                async with field._exclusive():  # measured on purpose: it is exactly what every operation pays
                    pass
    return watch.seconds / GUARD_USES


async def _bare_lock_cost() -> float:
    lock = asyncio.Lock()
    with Stopwatch() as watch:
        for _ in range(GUARD_USES):
            async with lock:
                pass
    return watch.seconds / GUARD_USES


async def _concurrent_turns(directory: Path, prompts: list[str], replies: list[str]) -> float:
    spec = SnapshotSpec(recent=4, random=2, trigrams=64, words=0, disturbances=2)

    async def one_turn(field: Field, i: int) -> None:
        async with field.turn() as turn:
            await turn.wrinkle(prompts[i])
            await turn.snapshot(random.Random(i), spec)
            await turn.ingest(replies[i])
            await turn.record(dissonance=0.5, temperature=0.8)

    async with open_store(sqlite_url(directory)) as store, Field.open(store, "bench") as field:
        with Stopwatch() as watch:
            await asyncio.gather(*(one_turn(field, i) for i in range(CONCURRENT_TURNS)))
    return watch.seconds / CONCURRENT_TURNS


def _have_aiosqlite() -> bool:
    try:
        import aiosqlite  # noqa: F401
    except ImportError:
        return False
    return True


async def run_field_bench(repeats: int = 7, ingests: int = 40, seed: int = 0,
                          progress: Progress = NO_PROGRESS) -> FieldBench:
    """Measure everything in the module docstring; every arm runs ``repeats`` times, interleaved."""
    texts = turn_texts(ingests, TURN_WORDS, seed)
    rows = [_rows(text) for text in texts]
    prompts = turn_texts(CONCURRENT_TURNS, PROMPT_WORDS, seed + 1)
    replies = turn_texts(CONCURRENT_TURNS, TURN_WORDS, seed + 2)
    counter = iter(range(1_000_000))

    def in_fresh_directory(measure: Callable[[Path], Awaitable[float]]) -> Callable[[], Awaitable[float]]:
        async def arm() -> float:
            with tempfile.TemporaryDirectory(prefix=f"harmonix-bench-{next(counter)}-") as directory:
                return await measure(Path(directory))
        return arm

    async def plain(directory: Path) -> float:
        return _plain_sqlite3(directory, rows)

    arms: dict[str, Callable[[], Awaitable[float]]] = {
        "sqlite3": in_fresh_directory(plain),
        "db_thread": in_fresh_directory(lambda d: _db_thread(d, rows)),
        "field": in_fresh_directory(lambda d: _field(d, texts)),
        "guard_locked": in_fresh_directory(lambda d: _guard_cost(d, Guards())),
        "guard_unlocked": in_fresh_directory(lambda d: _guard_cost(d, Guards(lock=False))),
        "bare_lock": _bare_lock_cost,
        "turns": in_fresh_directory(lambda d: _concurrent_turns(d, prompts, replies)),
    }
    if _have_aiosqlite():
        arms["aiosqlite"] = in_fresh_directory(lambda d: _aiosqlite(d, rows))
    samples = await interleaved(arms, repeats, progress=progress, description="bench field")
    m = {name: median(values) for name, values in samples.items()}
    aiosqlite_s = m.get("aiosqlite")
    return FieldBench(
        repeats=repeats,
        ingests_per_repeat=ingests,
        sqlite3_ms=m["sqlite3"] * 1e3,
        db_thread_ms=m["db_thread"] * 1e3,
        aiosqlite_ms=None if aiosqlite_s is None else aiosqlite_s * 1e3,
        field_ms=m["field"] * 1e3,
        ingest_ratio_vs_sqlite3=m["field"] / m["sqlite3"],
        db_thread_ratio_vs_sqlite3=m["db_thread"] / m["sqlite3"],
        aiosqlite_ratio_vs_sqlite3=None if aiosqlite_s is None else aiosqlite_s / m["sqlite3"],
        lock_acquire_release_us=m["bare_lock"] * 1e6,
        guard_locked_us=m["guard_locked"] * 1e6,
        guard_unlocked_us=m["guard_unlocked"] * 1e6,
        lock_overhead_ratio=(m["guard_locked"] - m["guard_unlocked"]) / m["field"],
        concurrent_turns_per_s=1.0 / m["turns"],
    )
