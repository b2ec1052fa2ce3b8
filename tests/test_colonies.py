"""Colonies: independent sets of fields in one store, created, listed, forked and removed; engines shared by the
process, fields owned by the colony; an existing home becomes colony ``default``."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fieldtools import audit, fingerprint, fingerprints
from harmonix.colony import Harmonix
from harmonix.config import Config
from harmonix.errors import ColonyExists, ColonyNotFound, FieldNotFound
from harmonix.field import Field, SnapshotSpec, Store, open_store, sqlite_url
from harmonix.organisms.base import FIELDS, Stimulus


async def test_a_listing_of_a_new_store_writes_nothing(store_url: str) -> None:
    """Reading a home nobody has used yet shows no colonies and leaves none behind; the first ordinary opening
    makes ``default``."""
    for _ in range(2):
        async with open_store(store_url, ensure_default=False) as reader:
            assert await reader.colonies() == []
    async with open_store(store_url) as store:
        assert [info.name for info in await store.colonies()] == ["default"]


def test_colony_list_on_a_new_home_says_there_are_none(tmp_path: Path) -> None:
    home = tmp_path / "home"
    listed = cli(home, "colony", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"colonies": []}
    plain = cli(home, "colony", "list")
    assert plain.returncode == 0 and "no colonies" in plain.stdout
    assert not (home / "colonies" / "default").exists(), "a listing wrote the default colony"


async def test_create_list_remove(store: Store) -> None:
    assert [info.name for info in await store.colonies()] == ["default"], "a store always has colony default"
    created = await store.create_colony("alice", owner="key-hash")
    assert (created.name, created.owner, created.forked_from) == ("alice", "key-hash", None)
    with pytest.raises(ColonyExists):
        await store.create_colony("alice")
    assert [info.name for info in await store.colonies()] == ["alice", "default"]
    assert (await store.colony("alice")).owner == "key-hash"
    async with Field.open(store, "haiku", colony="alice") as field:
        await field.ingest("a memory of alice")
    assert await store.field_names("alice") == ["haiku"]
    await store.remove_colony("alice")
    with pytest.raises(ColonyNotFound):
        await store.colony("alice")
    with pytest.raises(ColonyNotFound):
        await store.remove_colony("alice")
    with pytest.raises(ColonyNotFound):
        await store.open_field("alice", "haiku")


async def test_colonies_share_no_field(store: Store) -> None:
    await store.create_colony("a")
    await store.create_colony("b")
    async with Field.open(store, "haiku", colony="b") as field:
        await field.ingest("the field of b")
    before = await fingerprint(store, "haiku", "b")
    async with Field.open(store, "haiku", colony="a") as field:
        for i in range(5):
            async with field.turn() as turn:
                await turn.wrinkle(f"a speaks {i}")
                await turn.ingest(f"a answers {i}")
                await turn.record()
    assert await fingerprint(store, "haiku", "b") == before
    assert (await audit(store, "haiku", "a")).turns == 5


async def test_fork_is_a_consistent_independent_copy(store: Store) -> None:
    await store.create_colony("origin")
    for name in ("haiku", "meta"):
        async with Field.open(store, name, colony="origin") as field:
            await field.ingest(f"what {name} remembers")
            await field.wrinkle("what a user said")
    fork = await store.fork_colony("origin", "copy", owner="someone")
    assert (fork.forked_from, fork.owner) == ("origin", "someone")
    assert await fingerprints(store, ("haiku", "meta"), "copy") == await fingerprints(store, ("haiku", "meta"),
                                                                                      "origin")
    original = await fingerprint(store, "haiku", "origin")
    async with Field.open(store, "haiku", colony="copy") as field:
        await field.ingest("only the copy remembers this")
    assert await fingerprint(store, "haiku", "origin") == original, "a turn in the fork leaves the original alone"
    assert (await audit(store, "haiku", "copy")).texts == 2
    with pytest.raises(ColonyExists):
        await store.fork_colony("origin", "copy")
    with pytest.raises(ColonyNotFound):
        await store.fork_colony("nowhere", "other")


async def test_fork_while_a_writer_is_busy_copies_whole_operations(store: Store) -> None:
    """Each field is copied in one consistent read: forks taken while another task keeps writing audit clean."""
    await store.create_colony("busy")
    stop = asyncio.Event()

    async def writer() -> None:
        async with Field.open(store, "haiku", colony="busy") as field:
            i = 0
            while not stop.is_set():
                async with field.turn() as turn:
                    await turn.wrinkle(f"prompt {i} for the river")
                    await turn.ingest(f"reply {i} from the river " * 20)
                    await turn.record()
                i += 1

    writing = asyncio.create_task(writer())
    try:
        for k in range(5):
            while (await store.field_names("busy")) == []:
                await asyncio.sleep(0)
            await store.fork_colony("busy", f"snap-{k}")
            result = await audit(store, "haiku", f"snap-{k}")
            assert result.ok, result.violations
            assert result.turns == result.texts == result.disturbances
    finally:
        stop.set()
        await writing


async def test_reading_a_field_that_does_not_exist_never_creates_it(store: Store) -> None:
    with pytest.raises(FieldNotFound):
        await audit(store, "ghost")
    assert await store.field_names("default") == []
    assert await store.remove_field("default", "ghost") is False


async def test_engines_are_loaded_once_and_shared_by_every_colony(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Observed from outside: each loader runs once however many colonies open (no private attribute read)."""
    import harmonix.organisms.haiku as haiku_module
    import harmonix.organisms.sonnet as sonnet_module

    loads: Counter[str] = Counter()
    for module, loader in ((haiku_module, "load_bootstrap"), (sonnet_module, "load_engine")):
        real = getattr(module, loader)
        monkeypatch.setattr(module, loader, lambda real=real, loader=loader: (loads.update([loader]), real())[1])
    config = Config.load(tmp_path / "home")
    async with Harmonix.open(config, cascades=False) as harmonix:
        async with harmonix.colony("a", organisms=("haiku", "sonnet")) as a, \
                harmonix.colony("b", organisms=("haiku", "sonnet")) as b:
            assert loads == {"load_bootstrap": 1, "load_engine": 1}
            assert a.fields["haiku"] is not b.fields["haiku"]
            assert a.hub is None, "a colony opened with some organisms has no hub"
            reply = await a.organisms["haiku"].respond(Stimulus("what is a colony", 1))
            assert reply.text
            assert (await b.fields["haiku"].stats()).counts.turns == 0


def test_an_existing_home_becomes_colony_default(tmp_path: Path) -> None:
    home = tmp_path / "home"

    async def make_then_move() -> str:
        async with open_store(sqlite_url(home)) as store:
            async with Field.open(store, "haiku") as field:
                await field.ingest("written before colonies existed")
            print_ = await fingerprint(store, "haiku")
        (home / "colonies" / "default" / "colony.json").unlink()
        shutil.move(home / "colonies" / "default", home / "fields")
        (home / "colonies").rmdir()
        return print_

    before = asyncio.run(make_then_move())
    assert sorted(path.name for path in (home / "fields").iterdir()) == ["haiku.sqlite3"]
    stats = json.loads(cli(home, "stats", "--json").stdout)
    assert stats["colony"] == "default" and stats["fields"]["haiku"]["counts"]["texts"] == 1
    assert not (home / "fields").exists() and (home / "colonies" / "default" / "haiku.sqlite3").is_file()

    async def after() -> str:
        async with open_store(sqlite_url(home)) as store:
            return await fingerprint(store, "haiku")

    assert asyncio.run(after()) == before


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARMONIX_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "harmonix", *args], capture_output=True, text=True, env=env,
                          cwd=home.parent, timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    return done


async def field_prints(home: Path, colony: str) -> dict[str, str]:
    async with open_store(sqlite_url(home)) as store:
        names = tuple(await store.field_names(colony))
        return await fingerprints(store, names, colony)


def test_a_turn_in_one_colony_leaves_another_untouched_and_a_fork_is_independent(tmp_path: Path) -> None:
    """The acceptance of issue 11: `--colony a ask` leaves b alone; `colony fork` makes an independent copy."""
    home = tmp_path / "home"
    assert cli(home, "--colony", "b", "haiku", "a first word for b", "--seed", "1").returncode == 0
    b_before = asyncio.run(field_prints(home, "b"))
    done = cli(home, "--colony", "a", "ask", "What is resonance, and where does it live?", "--seed", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["artist"]["text"]
    assert asyncio.run(field_prints(home, "b")) == b_before, "a's cascade left b's fields untouched"
    assert set(asyncio.run(field_prints(home, "a"))) == set(FIELDS)

    forked = json.loads(cli(home, "colony", "fork", "a", "a-copy", "--json").stdout)
    assert forked["id"] == "a-copy" and forked["forked_from"] == "a"
    a_before = asyncio.run(field_prints(home, "a"))
    assert asyncio.run(field_prints(home, "a-copy")) == a_before, "the fork starts as a copy"
    assert cli(home, "haiku", "a turn in the fork", "--colony", "a-copy", "--seed", "3").returncode == 0
    assert asyncio.run(field_prints(home, "a")) == a_before, "a turn in the fork leaves the original unchanged"
    assert asyncio.run(field_prints(home, "a-copy"))["haiku"] != a_before["haiku"]

    listed = json.loads(cli(home, "colony", "list", "--json").stdout)
    assert [c["id"] for c in listed["colonies"]] == ["a", "a-copy", "b", "default"]
    assert cli_with_stdin(home, "colony", "remove", "a-copy", stdin="n\n").returncode != 0, "asks first"
    assert cli(home, "colony", "remove", "a-copy", "--yes").returncode == 0
    assert [c["id"] for c in json.loads(cli(home, "colony", "list", "--json").stdout)["colonies"]] == \
        ["a", "b", "default"]


@pytest.mark.parametrize("name", ["../x", "a/b", "Upper", "_lead", "", "x" * 65, "a b", "é"])
def test_bad_colony_names_are_refused(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    for args in (["colony", "create", name], ["--colony", name, "stats"], ["stats", "--colony", name]):
        done = cli(home, *args)
        assert done.returncode == 2 and "must match" in done.stderr, (args, done.stderr)
    assert not any(path.name not in ("colonies", "default") for path in home.rglob("*") if path.is_dir())


def test_the_seed_gives_the_same_snapshot_in_every_colony(tmp_path: Path) -> None:
    """The snapshot's sampling is part of the step contract: equal fields and equal seeds give equal snapshots."""

    async def snapshots() -> list[object]:
        taken = []
        async with open_store(sqlite_url(tmp_path / "home")) as store:
            for colony in ("one", "two"):
                await store.create_colony(colony)
                async with Field.open(store, "haiku", colony=colony) as field:
                    for i in range(40):
                        await field.ingest(f"text {i} about stone and light and the long river {i % 7}")
                    taken.append(await field.snapshot(random.Random(5), SnapshotSpec(recent=3, random=5)))
        return taken

    first, second = asyncio.run(snapshots())
    assert [(t.id, t.body) for t in first.random] == [(t.id, t.body) for t in second.random]  # type: ignore[attr-defined]
    assert first.trigrams == second.trigrams and first.counts == second.counts  # type: ignore[attr-defined]


def cli_with_stdin(home: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARMONIX_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "harmonix", *args], capture_output=True, text=True, env=env,
                          cwd=home.parent, timeout=600, input=stdin)


def test_a_listing_adopts_a_pre_colony_home_as_a_whole_colony(tmp_path: Path) -> None:
    """A home from before colonies, first opened by a listing: it lists as ``default`` and opens as one (its
    ``colony.json`` written at adoption, not left for the next ordinary opening)."""
    home = tmp_path / "home"

    async def make_then_move() -> None:
        async with open_store(sqlite_url(home)) as store:
            async with Field.open(store, "haiku") as field:
                await field.ingest("written before colonies existed")
        (home / "colonies" / "default" / "colony.json").unlink()
        shutil.move(home / "colonies" / "default", home / "fields")
        (home / "colonies").rmdir()

    asyncio.run(make_then_move())
    listed = cli(home, "colony", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [colony["name"] for colony in json.loads(listed.stdout)["colonies"]] == ["default"]
    assert (home / "colonies" / "default" / "colony.json").is_file()
