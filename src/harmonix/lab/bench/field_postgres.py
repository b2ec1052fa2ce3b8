"""``harmonix bench field --database postgresql://…``: what the field discipline costs on PostgreSQL, against the
plain driver on the same database in the same run.

Ingesting one turn (a text of about 300 words: the text row, its trigram and word upserts, all computed beforehand
except in ``field``) into a fresh field, per ingest, medians of ``repeats`` interleaved repeats
(:mod:`harmonix.lab.bench.timing`):

- ``driver``: the same rows written with plain psycopg on one connection in one transaction per ingest (``BEGIN``,
  the same three statements the store runs, ``COMMIT``), in pipeline mode: one round trip, the least the driver
  can do. No pool, no lock, no Python above the driver. The floor.
- ``driver_unpipelined``: the same with one round trip per statement, psycopg's default.
- ``asyncpg``: the same statements through asyncpg in a transaction (one await per statement), when installed.
- ``store``: our backend's transport alone: the precomputed rows as ``[Begin(write=True), AddText, Commit]`` through
  :class:`~harmonix.field.postgres.store.PostgresFieldStore` (pool, step task, advisory lock, lock timeout, pipeline).
- ``field``: the product, ``Field.ingest(text)``: validation, tokenization, counting, the field's lock, the store.

``ingest_ratio_vs_driver`` is the median over repeats of ``field / driver`` measured back to back in each repeat
(target <= 1.5); its range is reported too. ``concurrent_turns_per_s``: 100 turns started at once on one field
(wrinkle, snapshot, ingest, record, as in the SQLite benchmark). Every arm writes into a colony of its own in the
given database (``bench-…``, removed at the end): point it at a scratch database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from harmonix.field import Field, SnapshotSpec
from harmonix.field.postgres.steps import INSERT_TEXT, UPSERTS
from harmonix.field.postgres.store import PostgresFieldStore, PostgresStore
from harmonix.field.steps import AddText, Begin, Commit, Step
from harmonix.lab.bench.field import CONCURRENT_TURNS, PROMPT_WORDS, TURN_WORDS, _Rows, _rows, turn_texts
from harmonix.lab.bench.timing import Stopwatch, interleaved, median, paired_ratios, span
from harmonix.progress import NO_PROGRESS, Progress

BENCH_COLONY = "bench"


@dataclass(frozen=True, slots=True)
class PostgresFieldBench:
    """Medians in milliseconds per ingest, and the ratio the issue's target is set on."""

    repeats: int
    ingests_per_repeat: int
    driver_ms: float
    driver_unpipelined_ms: float
    asyncpg_ms: float | None
    store_ms: float
    field_ms: float
    ingest_ratio_vs_driver: float
    ingest_ratio_vs_driver_range: tuple[float, float]
    store_ratio_vs_driver: float
    asyncpg_ratio_vs_driver: float | None
    concurrent_turns_per_s: float


def _parameters(row: _Rows) -> tuple[dict[str, Any], tuple[Any, ...], tuple[Any, ...]]:
    """The store's own statement parameters for one ingest of ``row`` (field id filled in by the caller)."""
    text = {"source": "self", "body": row.body, "created": 0.0, "tokens": row.tokens, "meta": "{}"}
    trigrams = ([t[0][0] for t in row.trigrams], [t[0][1] for t in row.trigrams], [t[0][2] for t in row.trigrams],
                [t[1] for t in row.trigrams])
    words = ([w[0] for w in row.words], [w[1] for w in row.words])
    return text, trigrams, words


async def _driver(url: str, field: int, rows: list[_Rows], *, pipeline: bool) -> float:
    upsert_trigram, upsert_word = UPSERTS["own"]
    prepared = [_parameters(row) for row in rows]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=None) as conn:
        with Stopwatch() as watch:
            for text, trigrams, words in prepared:
                async with conn.pipeline() if pipeline else contextlib.nullcontext():
                    await conn.execute("BEGIN")
                    inserted = await conn.execute(INSERT_TEXT, {"f": field, **text})
                    await conn.execute(upsert_trigram, (field, *trigrams))
                    await conn.execute(upsert_word, (field, *words))
                    await conn.execute("COMMIT")
                await inserted.fetchone()
    return watch.seconds / len(rows)


def _numbered(query: str) -> str:
    """psycopg's ``%s`` / ``%(name)s`` placeholders as asyncpg's ``$n`` (named ones in order of appearance)."""
    names: dict[str, int] = {}
    counter = itertools.count(1)
    out, i = [], 0
    while i < len(query):
        if query.startswith("%(", i):
            end = query.index(")s", i)
            name = query[i + 2:end]
            if name not in names:
                names[name] = next(counter)
            out.append(f"${names[name]}")
            i = end + 2
        elif query.startswith("%s", i):
            out.append(f"${next(counter)}")
            i += 2
        else:
            out.append(query[i])
            i += 1
    return "".join(out)


async def _asyncpg(url: str, field: int, rows: list[_Rows]) -> float:
    import asyncpg

    insert_text = _numbered(INSERT_TEXT)
    upsert_trigram, upsert_word = (_numbered(query) for query in UPSERTS["own"])
    prepared = [_parameters(row) for row in rows]
    conn = await asyncpg.connect(url)
    try:
        with Stopwatch() as watch:
            for text, trigrams, words in prepared:
                async with conn.transaction():
                    await conn.fetchval(insert_text, field, text["source"], text["body"], text["created"],
                                        text["tokens"], text["meta"])
                    await conn.execute(upsert_trigram, field, *trigrams)
                    await conn.execute(upsert_word, field, *words)
    finally:
        await conn.close()
    return watch.seconds / len(rows)


async def _store(field_store: PostgresFieldStore, rows: list[_Rows]) -> float:
    steps: list[list[Step]] = [[Begin(write=True), AddText(source="self", body=row.body, created=0.0,
                                                           tokens=row.tokens, meta_json="{}", trigrams=row.trigrams,
                                                           words=row.words), Commit()] for row in rows]
    with Stopwatch() as watch:
        for ingest in steps:
            await field_store.run(ingest)
    return watch.seconds / len(rows)


async def _field(field: Field, texts: list[str]) -> float:
    with Stopwatch() as watch:
        for text in texts:
            await field.ingest(text)
    return watch.seconds / len(texts)


async def _concurrent_turns(field: Field, prompts: list[str], replies: list[str]) -> float:
    spec = SnapshotSpec(recent=4, random=2, trigrams=64, words=0, disturbances=2)

    async def one_turn(i: int) -> None:
        async with field.turn() as turn:
            await turn.wrinkle(prompts[i])
            await turn.snapshot(random.Random(i), spec)
            await turn.ingest(replies[i])
            await turn.record(dissonance=0.5, temperature=0.8)

    with Stopwatch() as watch:
        await asyncio.gather(*(one_turn(i) for i in range(CONCURRENT_TURNS)))
    return watch.seconds / CONCURRENT_TURNS


def _have_asyncpg() -> bool:
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return False
    return True


async def run_postgres_field_bench(url: str, repeats: int = 7, ingests: int = 40, seed: int = 0,
                                   progress: Progress = NO_PROGRESS) -> PostgresFieldBench:
    """Measure everything in the module docstring on the database at ``url``."""
    texts = turn_texts(ingests, TURN_WORDS, seed)
    rows = [_rows(text) for text in texts]
    prompts = turn_texts(CONCURRENT_TURNS, PROMPT_WORDS, seed + 1)
    replies = turn_texts(CONCURRENT_TURNS, TURN_WORDS, seed + 2)
    colonies = (f"{BENCH_COLONY}-{n}" for n in itertools.count())
    made: list[str] = []
    async with PostgresStore.open(url) as store:

        async def fresh_colony() -> str:
            name = next(colonies)
            await store.create_colony(name)
            made.append(name)
            return name

        def on_store(measure: Callable[[PostgresFieldStore], Awaitable[float]]) -> Callable[[], Awaitable[float]]:
            async def arm() -> float:
                field_store = await store.open_field(await fresh_colony(), "bench")
                try:
                    return await measure(field_store)
                finally:
                    await field_store.close()
            return arm

        def on_field(measure: Callable[[Field], Awaitable[float]]) -> Callable[[], Awaitable[float]]:
            async def arm() -> float:
                async with Field.open(store, "bench", colony=await fresh_colony()) as field:
                    return await measure(field)
            return arm

        arms: dict[str, Callable[[], Awaitable[float]]] = {
            "driver": on_store(lambda f: _driver(url, f.field_id, rows, pipeline=True)),
            "driver_unpipelined": on_store(lambda f: _driver(url, f.field_id, rows, pipeline=False)),
            "store": on_store(lambda f: _store(f, rows)),
            "field": on_field(lambda f: _field(f, texts)),
            "turns": on_field(lambda f: _concurrent_turns(f, prompts, replies)),
        }
        if _have_asyncpg():
            arms["asyncpg"] = on_store(lambda f: _asyncpg(url, f.field_id, rows))
        try:
            samples = await interleaved(arms, repeats, progress=progress, description="bench field (postgresql)")
        finally:
            for name in made:
                await store.remove_colony(name)
    m = {name: median(values) for name, values in samples.items()}
    ratios = paired_ratios(samples["field"], samples["driver"])
    asyncpg_s = m.get("asyncpg")
    return PostgresFieldBench(
        repeats=repeats, ingests_per_repeat=ingests, driver_ms=m["driver"] * 1e3,
        driver_unpipelined_ms=m["driver_unpipelined"] * 1e3,
        asyncpg_ms=None if asyncpg_s is None else asyncpg_s * 1e3, store_ms=m["store"] * 1e3,
        field_ms=m["field"] * 1e3, ingest_ratio_vs_driver=median(ratios), ingest_ratio_vs_driver_range=span(ratios),
        store_ratio_vs_driver=median(paired_ratios(samples["store"], samples["driver"])),
        asyncpg_ratio_vs_driver=None if asyncpg_s is None else asyncpg_s / m["driver"],
        concurrent_turns_per_s=1.0 / m["turns"])
