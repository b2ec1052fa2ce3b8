"""What only the PostgreSQL store has: its settings, its schema versions, the field lock as PostgreSQL sees it, the
busy error, connections that stay usable after cancellations, the idle-in-transaction timeout; and what must be the
same on both backends: the same seed gives the same snapshot and the same output."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from fieldtools import audit, fingerprint
from harmonix.errors import FieldBusy, FieldVersionError, StoreUnavailable
from harmonix.field import Field, SnapshotSpec, open_store, sqlite_url
from harmonix.field.postgres.schema import SCHEMA, SCHEMA_VERSION, field_lock_key
from harmonix.field.postgres.store import PostgresStore


async def test_settings_of_a_field_connection(postgres_url: str) -> None:
    async with PostgresStore.open(postgres_url, lock_timeout_s=7.5, idle_in_transaction_s=123) as store, \
            Field.open(store, "test") as field:
        async with field.turn() as turn:
            await turn.wrinkle("holding the field")
            key = field_lock_key("default", "test") & 0xFFFFFFFFFFFFFFFF  # pg_locks shows the key's two halves
            with psycopg.connect(postgres_url, autocommit=True) as observer:
                row = observer.execute(
                    "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                    " AND l.classid::bigint = %s AND l.objid::bigint = %s", (key >> 32, key & 0xFFFFFFFF)).fetchone()
            assert row == ("idle in transaction",), "the turn holds the field's advisory lock while it generates"
        async with store.connection() as conn:
            idle = await (await conn.execute("SHOW idle_in_transaction_session_timeout")).fetchone()
        assert idle == ("123s",)
        assert (await field.stats()).schema_version == SCHEMA_VERSION


async def test_a_database_from_a_newer_harmonix_is_refused(postgres_url: str) -> None:
    async with PostgresStore.open(postgres_url):
        pass
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {SCHEMA}.schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(FieldVersionError, match="newer|knows up to"):
        async with PostgresStore.open(postgres_url):
            pass


async def test_processes_opening_a_new_database_together_migrate_it_once(postgres_url: str) -> None:
    async def open_once() -> int:
        async with PostgresStore.open(postgres_url) as store:
            return store.schema_version

    assert await asyncio.gather(*(open_once() for _ in range(4))) == [SCHEMA_VERSION] * 4
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {SCHEMA}.schema_version").fetchone() == (1,)
        assert conn.execute(f"SELECT name FROM {SCHEMA}.colonies").fetchall() == [("default",)]


async def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        async with open_store(f"postgresql://nobody@/nothing?host={tmp_path}"):
            pass


async def test_a_wait_past_the_lock_timeout_is_field_busy_and_changes_nothing(postgres_url: str) -> None:
    async with PostgresStore.open(postgres_url) as store, Field.open(store, "test") as holder:
        await holder.ingest("the field as it was")
        before = await fingerprint(store, "test")
        async with PostgresStore.open(postgres_url, lock_timeout_s=0.2, pool_size=1) as other, \
                Field.open(other, "test") as waiter:
            async with holder.turn() as turn:
                await turn.wrinkle("holding the lock")
                with pytest.raises(FieldBusy, match="lock timeout"):
                    await waiter.ingest("this write waits too long")
                with pytest.raises(FieldBusy):
                    async with waiter.turn() as blocked:
                        await blocked.wrinkle("so does this turn")
                assert await fingerprint(other, "test") == before
            await waiter.ingest("the one connection of that pool still works")
    assert (await audit_of(postgres_url)).ok


async def audit_of(url: str) -> object:
    async with open_store(url) as store:
        return await audit(store, "test")


async def test_cancellations_mid_query_never_leave_the_connection_unusable(postgres_url: str) -> None:
    """A pool of one connection: operations cancelled while they wait inside PostgreSQL (on the field lock), again
    and again; every later operation still works on that same connection, and nothing cancelled landed."""
    async with PostgresStore.open(postgres_url) as store, Field.open(store, "test") as holder, \
            PostgresStore.open(postgres_url, pool_size=1) as small, Field.open(small, "test") as field:
        await field.ingest("the field before")
        for delay in (0.0, 0.01, 0.05, 0.1):
            async with holder.turn() as turn:
                await turn.wrinkle(f"holding the lock {delay}")
                task = asyncio.create_task(field.ingest(f"cancelled while it waits {delay}"))
                await asyncio.sleep(delay)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            async with asyncio.timeout(10):
                assert (await field.stats()).counts.texts == 1
        await field.ingest("and afterwards it works")
        async with small.connection() as conn:
            assert (await (await conn.execute("SELECT 1")).fetchone()) == (1,)
    async with open_store(postgres_url) as store:
        result = await audit(store, "test")
    assert result.ok and result.texts == 2 and result.disturbances == 4


async def test_a_client_that_stops_answering_frees_the_field_after_the_idle_timeout(postgres_url: str) -> None:
    """A turn that sits in its transaction longer than ``idle_in_transaction_session_timeout`` (a frozen client)
    loses its session: the lock is free for the next writer, and the frozen turn's writes are gone."""
    async with PostgresStore.open(postgres_url, idle_in_transaction_s=0.5) as frozen_store, \
            Field.open(frozen_store, "test") as frozen:
        with pytest.raises((StoreUnavailable, FieldBusy)):
            async with frozen.turn() as turn:
                await turn.wrinkle("a turn whose client froze")
                async with PostgresStore.open(postgres_url, lock_timeout_s=10) as other, \
                        Field.open(other, "test") as field:
                    await field.ingest("the next writer goes on")
                await turn.ingest("too late")
    async with open_store(postgres_url) as store:
        result = await audit(store, "test")
    assert result.ok and (result.texts, result.disturbances) == (1, 0)


TEXTS = ["Zebra apple zebra apple", "apple Äpfel éclair zebra", "éclair éclair apple", "b a b a", "B A b a",
         "the sea, the sea remembers", "\U0001f30a wave \U0001f30a wave"]


async def build(url: str) -> list[object]:
    """The same writes on any backend; what the snapshots and a seed built from them look like."""
    taken: list[object] = []
    async with open_store(url) as store, Field.open(store, "test") as field:
        for i in range(30):
            async with field.turn() as turn:
                await turn.wrinkle(TEXTS[(i + 3) % len(TEXTS)])
                await turn.ingest(TEXTS[i % len(TEXTS)] + f" number{i % 4}")
                await turn.set_state("phase", {"i": i})
                await turn.record(dissonance=i / 30)
        for seed in range(3):
            taken.append(await field.snapshot(random.Random(seed), SnapshotSpec(recent=3, random=5, trigrams=None,
                                                                                words=None, lookup=("apple",))))
            taken.append(await field.seed(random.Random(seed)))
        dump = await field.dump()
        taken.append(dump.rows() | {"texts": [row[:3] + row[4:] for row in dump.texts],
                                    "disturbances": [row[:3] + row[4:] for row in dump.disturbances],
                                    "turns": [row[:1] + row[2:7] for row in dump.turns]})
    return taken


async def test_the_same_writes_and_seeds_give_the_same_snapshots_on_both_backends(postgres_url: str,
                                                                                 tmp_path: Path) -> None:
    """Ties broken by code point order (upper case before lower, then accents, then emoji), the random texts drawn
    by the same offsets, every row equal: the step contract holds across backends."""
    on_sqlite = await build(sqlite_url(tmp_path / "home"))
    on_postgres = await build(postgres_url)
    for here, there in zip(on_sqlite, on_postgres, strict=True):
        if hasattr(here, "name") and hasattr(here, "counts"):
            assert here.trigrams == there.trigrams and here.words == there.words  # type: ignore[attr-defined]
            assert [t.body for t in here.random] == [t.body for t in there.random]  # type: ignore[attr-defined]
            assert [t.body for t in here.recent] == [t.body for t in there.recent]  # type: ignore[attr-defined]
            assert here.counts == there.counts and here.lookup == there.lookup  # type: ignore[attr-defined]
        else:
            assert here == there


def harmonix(*args: str, home: Path, database: str | None = None) -> dict[str, object]:
    env = {**os.environ, "HARMONIX_HOME": str(home)}
    if database is not None:
        env["HARMONIX_DATABASE_URL"] = database
    done = subprocess.run([sys.executable, "-m", "harmonix", *args, "--json"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_same_seed_gives_the_same_organism_output_on_both_backends(postgres_url: str, tmp_path: Path) -> None:
    """HAiKU and Sonnet, two turns each with the same seeds (the second grows from the first), on SQLite and on
    PostgreSQL: the same words."""
    outputs = {}
    for backend, database in (("sqlite", None), ("postgresql", postgres_url)):
        outputs[backend] = [harmonix(organism, prompt, "--seed", str(seed), home=tmp_path / backend,
                                     database=database)["text"]
                            for organism in ("haiku", "sonnet")
                            for seed, prompt in ((1, "What is resonance?"), (2, "And where does it live?"))]
    assert outputs["sqlite"] == outputs["postgresql"]


def test_bench_field_on_postgresql_reports_the_ratio_against_the_driver(postgres_url: str, tmp_path: Path) -> None:
    """The benchmark at its smallest: every figure present, and the colonies it wrote removed. Not a timing test."""
    report = harmonix("bench", "field", "--database", postgres_url, "--repeats", "1", "--ingests", "3",
                      home=tmp_path)
    for key in ("driver_ms", "driver_unpipelined_ms", "store_ms", "field_ms", "ingest_ratio_vs_driver",
                "concurrent_turns_per_s"):
        assert isinstance(report[key], float) and report[key] > 0, key
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute(f"SELECT name FROM {SCHEMA}.colonies").fetchall() == [("default",)]
