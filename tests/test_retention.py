"""Retention: a field keeps its newest rows and forgets the rest, counts included, inside the write that overflowed
it (harmonix.field.retention). Every test runs on the ``store`` fixture, so on every backend.

The strongest check is an equality: a field that wrote many texts and forgot the oldest holds exactly the trigram
and word rows of a field that only ever wrote the texts the first one kept."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fieldtools import audit, fingerprint
from harmonix.colony import Harmonix
from harmonix.config import Config, Retention
from harmonix.errors import InvalidArgument
from harmonix.field import Field, SnapshotSpec, Store, TurnRecord, open_store, sqlite_url
from harmonix.field.transfer import load_colony, read_colony
from harmonix.organisms.base import Stimulus

WORKER = Path(__file__).with_name("field_worker.py")
TINY = Retention(texts=3, disturbances=2, turns=2)
WORDS = ["amber", "brook", "cedar", "dune", "ember", "fern", "grove", "heron", "iris", "juniper", "kestrel", "lichen", "moss"]


def text(i: int) -> str:
    """A text of its own for each ``i``: six words that overlap with their neighbours' (shared trigrams)."""
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(6)) + f" number{i}"


async def counted_rows(store: Store, name: str) -> tuple[object, object]:
    async with Field.open(store, name, create=False, retention=None) as field:
        dump = await field.dump()
    return dump.trigrams, dump.words


async def test_a_field_that_forgot_holds_what_it_would_had_it_only_written_what_it_kept(store: Store) -> None:
    async with Field.open(store, "forgets", retention=TINY) as field:
        for i in range(10):
            await field.ingest(text(i))
        for i in range(5):
            await field.wrinkle(f"prompt {text(100 + i)}")
        stats = await field.stats()
        dump = await field.dump()
    assert (stats.counts.texts, stats.counts.disturbances) == (3, 2)
    assert [row[0] for row in dump.texts] == [8, 9, 10], "the newest ids stay"
    async with Field.open(store, "kept", retention=None) as field:
        for i in range(7, 10):
            await field.ingest(text(i))
        for i in range(3, 5):
            await field.wrinkle(f"prompt {text(100 + i)}")
    assert await counted_rows(store, "forgets") == await counted_rows(store, "kept")
    assert (await audit(store, "forgets")).ok


async def test_turns_keep_their_newest_and_lose_links_to_forgotten_rows(store: Store) -> None:
    async with Field.open(store, "turns", retention=TINY) as field:
        for i in range(6):
            async with field.turn() as turn:
                await turn.wrinkle(f"prompt {text(i)}")
                await turn.snapshot(random.Random(i), SnapshotSpec())
                await turn.ingest(text(i))
                await turn.ingest(f"and a second thought {text(50 + i)}", source="reflection")
                await turn.record(dissonance=0.5)
        dump = await field.dump()
        later = await field.turns(10)
    assert [turn[0] for turn in dump.turns] == [5, 6]
    assert [turn[4] for turn in dump.turns] == [4, 5], "seen_turns is the highest turn id seen: sequential"
    texts = {row[0] for row in dump.texts}
    assert all(turn[3] is None or turn[3] in texts for turn in dump.turns)
    assert dump.turns[0][3] is None, "turn 5's reply (text 9) was forgotten: the link is gone, the turn stays"
    assert dump.turns[1][3] == 11 and later[0].text == text(5)
    assert (await audit(store, "turns")).ok


async def test_concurrent_turns_stay_sequential_while_the_field_forgets(store: Store) -> None:
    async def one_turn(field: Field, i: int) -> None:
        async with field.turn() as turn:
            await turn.wrinkle(f"prompt batch{i}")
            await turn.snapshot(random.Random(i), SnapshotSpec())
            await asyncio.sleep(0)
            await turn.ingest(text(i))
            await turn.record()

    async with Field.open(store, "busy", retention=Retention(texts=4, disturbances=4, turns=4)) as field:
        await asyncio.gather(*(one_turn(field, i) for i in range(60)))
        dump = await field.dump()
    assert [(turn[0], turn[4]) for turn in dump.turns] == [(n, n - 1) for n in range(57, 61)]
    assert (await audit(store, "busy")).ok


async def test_a_turn_that_fails_forgets_nothing(store: Store) -> None:
    async with Field.open(store, "whole", retention=TINY) as field:
        for i in range(3):
            await field.ingest(text(i))
        before = await fingerprint(store, "whole")
        with pytest.raises(RuntimeError):
            async with field.turn() as turn:
                await turn.wrinkle("a prompt the turn never answers")
                await turn.ingest(text(3))
                raise RuntimeError("generation failed")
    assert await fingerprint(store, "whole") == before


async def test_without_retention_a_field_keeps_everything(store: Store) -> None:
    async with Field.open(store, "all", retention=None) as field:
        for i in range(12):
            await field.ingest(text(i))
        assert (await field.stats()).counts.texts == 12


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_a_retention_keeps_at_least_one_row(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="at least 1"):
        Retention(texts=bad)  # type: ignore[arg-type]


def kill_writers(url: str, *, transactions: bool, kills: int) -> None:
    """A writer that forgets on every ingest (it keeps 3 texts), SIGKILLed ``kills`` times at random moments."""
    rng = random.Random(1621)
    for kill in range(kills):
        command = [sys.executable, str(WORKER), url, str(kill), "0", "60", "--keep=3"]
        worker = subprocess.Popen([*command, *([] if transactions else ["--no-transactions"])],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert worker.stdin is not None and worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        worker.stdin.write("go\n")
        worker.stdin.flush()
        try:
            worker.wait(timeout=rng.uniform(0.05, 0.3))
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL


async def test_a_writer_killed_while_it_forgets_leaves_a_whole_field(store: Store, store_url: str) -> None:
    for _ in range(10):
        await asyncio.to_thread(kill_writers, store_url, transactions=True, kills=1)
        result = await audit(store, "shared")
        assert result.ok, result.violations
        assert result.texts <= 3


async def test_inverted_without_transactions_a_kill_breaks_the_field(store: Store, store_url: str) -> None:
    """Proof the test above can see a half-done write: without transactions a kill (mid-ingest or mid-forget) leaves
    counts that no stored text explains."""
    for _ in range(20):
        await asyncio.to_thread(kill_writers, store_url, transactions=False, kills=1)
        if not (await audit(store, "shared")).ok:
            return
    pytest.fail("20 kills without transactions never left a half-forgotten field")


def test_the_default_keeps_five_texts_a_turn() -> None:
    assert Retention.keeping(10) == Retention(texts=50, disturbances=10, turns=10)
    assert Retention() == Retention.keeping(1000)


async def test_a_colony_keeps_what_its_configuration_says(tmp_path: Path) -> None:
    config = Config.load(tmp_path / "home", environ={"HARMONIX_KEEP_TURNS": "2"})
    assert config.retention == Retention.keeping(2)
    async with Harmonix.open(config, cascades=False) as harmonix, \
            harmonix.colony(organisms=("haiku",)) as colony:
        for i in range(4):
            await colony.organisms["haiku"].respond(Stimulus(f"the question of evening {i}", i, {}))
        stats = await colony.fields["haiku"].stats()
    assert stats.counts.turns == 2 and stats.counts.last_turn == 4 and stats.counts.disturbances == 2


async def test_a_colony_moved_to_another_store_keeps_every_row(store: Store, tmp_path: Path) -> None:
    """A field kept under a larger policy than the default (HARMONIX_KEEP_TURNS) holds more turns than the default
    keeps; moving its colony copies every one: a move writes with no retention."""
    more = Retention().turns + 1
    await store.create_colony("big")
    async with Field.open(store, "haiku", colony="big", retention=None) as field:
        for _ in range(more):
            await field.record_turn(TurnRecord())
    info, dumps = await read_colony(store, "big")
    async with open_store(sqlite_url(tmp_path / "elsewhere")) as elsewhere:
        await load_colony(elsewhere, info, dumps)
        async with Field.open(elsewhere, "haiku", colony="big", create=False, retention=None) as field:
            assert len((await field.dump()).turns) == more
