"""Colony administration through the front door (:class:`harmonix.Harmonix`), on each backend: what the command
line and the server call instead of a store."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fieldtools import fingerprint
from harmonix import Config, Harmonix
from harmonix.errors import ColonyExists, ColonyNotFound, FieldNotFound, InvalidConfiguration


@pytest.fixture
async def harmonix(store_url: str, tmp_path: Path) -> AsyncIterator[Harmonix]:
    async with Harmonix.open(Config.load(tmp_path / "home", database=store_url), cascades=False) as opened:
        yield opened


async def test_a_colony_of_another_owner_is_not_there(harmonix: Harmonix) -> None:
    """With an owner given, another owner's colony answers exactly as a missing one, for every operation, and
    nothing of it changes."""
    await harmonix.create_colony("alice", owner="owner-a")
    async with harmonix.field("alice", "haiku", owner="owner-a") as field:
        await field.ingest("a memory that belongs to alice")
    before = await fingerprint(harmonix.store, "haiku", "alice")
    assert [info.name for info in await harmonix.colonies("owner-b")] == []
    assert [info.name for info in await harmonix.colonies("owner-a")] == ["alice"]
    for attempt in (lambda: harmonix.colony_info("alice", "owner-b"),
                    lambda: harmonix.fork_colony("alice", "copy", "owner-b"),
                    lambda: harmonix.remove_colony("alice", "owner-b"),
                    lambda: harmonix.reset("alice", ["haiku"], "owner-b"),
                    lambda: harmonix.field_stats("alice", owner="owner-b"),
                    lambda: harmonix.history("alice", owner="owner-b"),
                    lambda: harmonix.export_colony("alice", "owner-b")):
        with pytest.raises(ColonyNotFound):
            await attempt()
    assert await fingerprint(harmonix.store, "haiku", "alice") == before
    assert "copy" not in {info.name for info in await harmonix.colonies()}


async def test_create_ensure_fork_and_remove(harmonix: Harmonix) -> None:
    made = await harmonix.create_colony(owner="owner-a")
    assert re.fullmatch(r"c-[0-9a-f]{12}", made.name) and made.owner == "owner-a"
    with pytest.raises(ColonyExists):
        await harmonix.create_colony(made.name)
    assert (await harmonix.ensure_colony("bob", "owner-b")).owner == "owner-b"
    assert (await harmonix.ensure_colony("bob", "owner-b")).created == (await harmonix.colony_info("bob")).created
    with pytest.raises(ColonyNotFound):
        await harmonix.ensure_colony("bob", "owner-a")
    copy = await harmonix.fork_colony("bob", owner="owner-b")
    assert copy.forked_from == "bob" and copy.owner == "owner-b"
    await harmonix.remove_colony("bob", "owner-b")
    with pytest.raises(ColonyNotFound):
        await harmonix.colony_info("bob")
    with pytest.raises(InvalidConfiguration):
        await harmonix.create_colony("no spaces here")


async def test_reset_erases_only_the_named_fields_that_exist(harmonix: Harmonix) -> None:
    for name in ("meta", "sonnet", "haiku"):
        async with harmonix.field("carol", name) as field:
            await field.ingest(f"what {name} kept")
    assert await harmonix.field_names("carol") == ["haiku", "sonnet", "meta"], "organisms first, the hub last"
    assert await harmonix.reset("carol", ["sonnet", "prose"]) == ["sonnet"]
    assert await harmonix.field_names("carol") == ["haiku", "meta"]
    assert [stats.name for stats in await harmonix.field_stats("carol")] == ["haiku", "meta"]
    with pytest.raises(FieldNotFound):
        await harmonix.field_stats("carol", ["sonnet"])


async def test_an_exported_colony_imports_as_the_same_fields(harmonix: Harmonix) -> None:
    from harmonix.field.transfer import read_colony_file

    async with harmonix.field("dora", "prose") as field:
        await field.ingest("a paragraph dora's prose once wrote")
        await field.wrinkle("a question someone asked")
    lines, exported = await harmonix.export_colony("dora")
    info, fields = read_colony_file(lines)
    await harmonix.remove_colony("dora")
    moved = await harmonix.import_colony(info, [dump for dump, _ in fields])
    assert moved.action == "loaded"
    assert [(f.name, f.sha256) for f in moved.fields] == [(f.name, f.sha256) for f in exported.fields]
    assert (await harmonix.audit("dora", "prose")).ok
