"""The Field's operations, its storage settings and its refusal of bad input (one task at a time; concurrency lives
in test_field_concurrency.py and test_field_processes.py)."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fieldtools import DEFAULT, audit, fingerprint
from harmonix.errors import (
    FieldClosed,
    FieldError,
    FieldMismatch,
    FieldReentry,
    FieldVersionError,
    InvalidArgument,
    InvalidText,
)
from harmonix.field import Field, SnapshotSpec, Store, TurnRecord
from harmonix.field.postgres.schema import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from harmonix.field.sqlite.schema import SCHEMA_VERSION
from harmonix.field.sqlite.store import SqliteStore


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """For the settings only SQLite has (pragmas, the file's schema version)."""
    async with SqliteStore.open(tmp_path / "home") as opened:
        yield opened


async def test_ingest_counts_trigrams_and_words_as_own(store: Store) -> None:
    async with Field.open(store, "test") as field:
        receipt = await field.ingest("The sea, the sea remembers.", source="self", mood="calm")
        assert (receipt.tokens, receipt.trigrams) == (5, 3)
        snapshot = await field.snapshot(random.Random(0), SnapshotSpec(words=None))
    assert snapshot.recent[0].body == "The sea, the sea remembers."
    assert dict(snapshot.recent[0].meta) == {"mood": "calm"}
    assert {t.words: (t.own, t.heard) for t in snapshot.trigrams} == {
        ("the", "sea", "the"): (1, 0), ("sea", "the", "sea"): (1, 0), ("the", "sea", "remembers"): (1, 0)}
    assert {w.word: w.own for w in snapshot.words} == {"the": 2, "sea": 2, "remembers": 1}
    assert snapshot.last_spoken == snapshot.recent[0]
    assert (await audit(store, "test")).ok


async def test_wrinkle_is_heard_never_own_text(store: Store) -> None:
    async with Field.open(store, "test") as field:
        receipt = await field.wrinkle("what is resonance, really")
        snapshot = await field.snapshot(random.Random(0), SnapshotSpec(words=None))
    assert receipt.trigrams == 2
    assert snapshot.recent == () and snapshot.last_spoken is None
    assert snapshot.disturbances[0].body == "what is resonance, really"
    assert all(t.own == 0 and t.heard == 1 for t in snapshot.trigrams)
    assert snapshot.counts.texts == 0 and snapshot.counts.heard_words == 4


async def test_snapshot_is_immutable_and_ordered(store: Store) -> None:
    async with Field.open(store, "test") as field:
        for i in range(12):
            await field.ingest(f"text number {i} about the river", source="bootstrap" if i % 2 else "self")
        snapshot = await field.snapshot(random.Random(3), SnapshotSpec(recent=3, random=4))
    assert [t.body.split()[2] for t in snapshot.recent] == ["11", "10", "9"]
    assert snapshot.last_spoken is not None and snapshot.last_spoken.body.split()[2] == "10"
    assert [t.id for t in snapshot.random] == sorted({t.id for t in snapshot.random}) and len(snapshot.random) == 4
    assert [t.count for t in snapshot.trigrams] == sorted((t.count for t in snapshot.trigrams), reverse=True)
    with pytest.raises(AttributeError):
        snapshot.recent = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        snapshot.recent[0].meta["x"] = 1  # type: ignore[index]


async def test_same_rng_same_snapshot_and_seed(store: Store) -> None:
    async with Field.open(store, "test") as field:
        for i in range(30):
            await field.ingest(f"the {i} river carries stone and light toward the sleeping sea {i}")
        first = await field.seed(random.Random(7))
        again = await field.seed(random.Random(7))
        other = await field.seed(random.Random(8))
    assert first == again
    assert first != other
    assert first.recent and first.trigrams and first.random


async def test_seed_never_carries_heard_words(store: Store) -> None:
    async with Field.open(store, "test") as field:
        await field.ingest("quiet water under a quiet moon")
        for _ in range(5):
            await field.wrinkle("zyzzyva quokka zyzzyva quokka zyzzyva")
        for mode in ("auto", "recent", "trigram", "random"):
            seed = await field.seed(random.Random(1), mode=mode)
            assert "zyzzyva" not in seed.text and "quokka" not in seed.text
            assert seed.text


async def test_seed_rejects_bad_arguments(store: Store) -> None:
    async with Field.open(store, "test") as field:
        await field.ingest("quiet water")
        for kwargs in ({"mode": "loud"}, {"weights": (1.0, -1.0, 0.0)}, {"weights": (0.0, 0.0, 0.0)}, {"words": 0}):
            with pytest.raises(InvalidArgument):
                await field.seed(random.Random(1), **kwargs)


async def test_turn_commits_as_one_and_links_its_rows(store: Store) -> None:
    async with Field.open(store, "test") as field:
        async with field.turn() as turn:
            wrinkle = await turn.wrinkle("tell me about the tide")
            snapshot = await turn.snapshot(random.Random(0))
            assert snapshot.counts.disturbances == 1, "a turn's snapshot sees its own wrinkle"
            text = await turn.ingest("salt and silence answer")
            await turn.set_state("phase", {"name": "liquid"})
            turn_id = await turn.record(dissonance=0.4, temperature=0.9, candidates=5)
        after = await field.snapshot(random.Random(0))
        (row,) = (await field.dump()).turns
    assert row[0] == turn_id
    assert (row[2], row[3], row[4], row[5]) == (wrinkle.disturbance_id, text.text_id, 0, 0.4)
    assert json.loads(row[8]) == {"candidates": 5, "seen_sizes": {"texts": 0, "trigram_types": 3, "word_types": 5}}, \
        "the metrics, and the field's sizes as the turn's snapshot saw them (its wrinkle already counted)"
    assert after.state == {"phase": {"name": "liquid"}}
    assert (await audit(store, "test")).ok


async def test_failed_turn_leaves_the_field_unchanged(store: Store) -> None:
    async with Field.open(store, "test") as field:
        await field.ingest("the field before the turn")
        before = await fingerprint(store, "test")
        with pytest.raises(RuntimeError, match="generator broke"):
            async with field.turn() as turn:
                await turn.wrinkle("a prompt")
                await turn.ingest("half a reply")
                raise RuntimeError("generator broke")
        assert await fingerprint(store, "test") == before
        with pytest.raises(FieldClosed):
            await turn.ingest("a finished turn cannot write")
        await field.ingest("the field works after it")


async def test_reentry_is_an_error_not_a_deadlock(store: Store) -> None:
    async with Field.open(store, "test") as field, field.turn() as turn:
        await turn.wrinkle("hello there")
        with pytest.raises(FieldReentry):
            async with asyncio.timeout(5):
                await field.ingest("nested")


async def test_record_turn_and_stats(store: Store) -> None:
    async with Field.open(store, "test") as field:
        await field.ingest("one two three four")
        await field.record_turn(TurnRecord(dissonance=0.1))
        stats = await field.stats()
    version = SCHEMA_VERSION if store.kind == "sqlite" else POSTGRES_SCHEMA_VERSION
    assert (stats.name, stats.schema_version, stats.counts.texts, stats.counts.turns) == ("test", version, 1, 1)
    assert stats.counts.own_trigrams == 2 and stats.counts.own_words == 4 and stats.size_bytes > 0


async def test_persists_across_reopen(store: Store) -> None:
    async with Field.open(store, "test") as field:
        await field.ingest("memory survives closing")
    async with Field.open(store, "test") as field:
        assert (await field.stats()).counts.texts == 1
    with pytest.raises(FieldClosed):
        await field.stats()


async def test_foreign_keys_are_enforced(store: Store) -> None:
    async with Field.open(store, "test") as field:
        with pytest.raises(FieldError):
            await field.record_turn(TurnRecord(text_id=999))
        assert (await field.stats()).counts.turns == 0


async def test_bad_names(store: Store) -> None:
    with pytest.raises(InvalidArgument):
        async with Field.open(store, "Bad Name"):
            pass


class TestSqliteSettings:
    async def test_pragmas(self, sqlite_store: SqliteStore) -> None:
        async with Field.open(sqlite_store, "test"):
            conn = sqlite3.connect(sqlite_store.field_path(DEFAULT, "test"))
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            conn.close()

    async def test_newer_schema_is_refused(self, sqlite_store: SqliteStore) -> None:
        async with Field.open(sqlite_store, "test"):
            pass
        conn = sqlite3.connect(sqlite_store.field_path(DEFAULT, "test"))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
        with pytest.raises(FieldVersionError):
            async with Field.open(sqlite_store, "test"):
                pass

    async def test_another_fields_file_is_refused(self, sqlite_store: SqliteStore) -> None:
        async with Field.open(sqlite_store, "haiku"):
            pass
        sqlite_store.field_path(DEFAULT, "haiku").rename(sqlite_store.field_path(DEFAULT, "prose"))
        with pytest.raises(FieldMismatch):
            async with Field.open(sqlite_store, "prose"):
                pass

    async def test_migrates_a_version_zero_file_forward(self, sqlite_store: SqliteStore) -> None:
        sqlite3.connect(sqlite_store.field_path(DEFAULT, "test")).close()
        async with Field.open(sqlite_store, "test") as field:
            assert (await field.stats()).schema_version == SCHEMA_VERSION


BAD_TEXTS = [
    "",
    "   \n\t",
    "x" * 1_000_000,
    "nul\x00byte",
    "lone \udc80 surrogate",
    b"\x89PNG\r\n\x1a\n binary".decode("latin-1"),
    b"raw bytes",
    "?!... 123",
]


@pytest.mark.parametrize("bad", BAD_TEXTS, ids=["empty", "whitespace", "1MB", "nul", "surrogate", "binary", "bytes",
                                                 "no-words"])
async def test_bad_text_is_refused_and_the_field_unchanged(store: Store, bad: object) -> None:
    async with Field.open(store, "test") as field:
        await field.ingest("the field as it was")
        before = await fingerprint(store, "test")
        with pytest.raises(InvalidText):
            await field.ingest(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidText):
            await field.wrinkle(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidText):
            async with field.turn() as turn:
                await turn.wrinkle("a fine prompt")
                await turn.ingest(bad)  # type: ignore[arg-type]
        assert await fingerprint(store, "test") == before


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("ingest", {"source": "DROP TABLE"}),
        ("ingest", {"score": float("nan")}),
        ("ingest", {"blob": object()}),
        ("ingest", {"huge": "x" * 10_000}),
        ("ingest", {"bad": "\ud800"}),
        ("wrinkle", {"source": ""}),
    ],
)
async def test_bad_arguments_are_refused_and_the_field_unchanged(store: Store, call: str, kwargs: dict) -> None:
    async with Field.open(store, "test") as field:
        await field.ingest("the field as it was")
        before = await fingerprint(store, "test")
        with pytest.raises(InvalidArgument):
            await getattr(field, call)("a valid text", **kwargs)
        assert await fingerprint(store, "test") == before


async def test_hostile_strings_are_stored_verbatim(store: Store) -> None:
    hostile = ["'); DROP TABLE texts; --", "Robert\"); DELETE FROM words; --", "\u202eevil \U0001f30a wave", "%s %d {0}"]
    async with Field.open(store, "test") as field:
        for text in hostile:
            await field.ingest(text)
            await field.wrinkle(text)
        snapshot = await field.snapshot(random.Random(0), SnapshotSpec(recent=10))
    assert [t.body for t in reversed(snapshot.recent)] == hostile
    assert (await audit(store, "test")).ok


async def test_snapshot_lookup_and_word_floor(store: Store) -> None:
    async with Field.open(store, "test") as field:
        await field.ingest("sea sea sea stone stone light")
        await field.wrinkle("sea quasar")
        snapshot = await field.snapshot(random.Random(0), SnapshotSpec(words=None, word_floor=2,
                                                                      lookup=("quasar", "never")))
    assert {w.word: w.count for w in snapshot.words} == {"sea": 4, "stone": 2}
    assert {k: (v.own, v.heard) for k, v in snapshot.lookup.items()} == {"quasar": (0, 1), "never": (0, 0)}
    with pytest.raises(ValueError):
        SnapshotSpec(lookup=["not", "a", "tuple"])  # type: ignore[arg-type]
