"""Forgetting one breath (:func:`harmonix.colony.forget_breath`), on every store: every field holds exactly what it
held minus that breath's rows, every count is what the remaining rows account for (the audit), no word of its prompt
stays among what a field heard unless another breath said it, and no id it held is given again. Real HAiKU and the
hub, doubles with real fields for the other organisms (:mod:`doubles`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pytest

from doubles import hub_with_doubles
from fieldtools import audit
from harmonix import Config, Harmonix
from harmonix.colony import forget_breath
from harmonix.errors import CascadeNotFound
from harmonix.field import Field, FieldDump, Store
from harmonix.field.steps import FORGOTTEN_IDS
from harmonix.meta import CascadeRecord, MetaHarmonix
from harmonix.organisms.base import FIELDS, HUB

ROWS = ("texts", "disturbances", "turns")


def fields_of(hub: MetaHarmonix) -> dict[str, Field]:
    return {**{name: organism.field for name, organism in hub.organisms.items()}, HUB: hub.field}


async def dumps(fields: Mapping[str, Field]) -> dict[str, FieldDump]:
    return {name: await field.dump() for name, field in fields.items()}


def without_floor(dump: FieldDump) -> FieldDump:
    return dataclasses.replace(dump, state=tuple(row for row in dump.state if row[0] != FORGOTTEN_IDS))


async def record(hub: MetaHarmonix, cascade: int) -> CascadeRecord:
    (turn,) = await hub.field.turns(1, before=cascade + 1)
    assert turn.id == cascade
    return CascadeRecord.of(turn)


async def all_audits_clean(store: Store) -> None:
    for name in FIELDS:
        result = await audit(store, name)
        assert result.ok, (name, result)


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    return Config.load(tmp_path / "home", database=store_url)


async def test_forgetting_the_newest_breath_leaves_every_field_as_it_was(config: Config) -> None:
    async with hub_with_doubles(config) as (hub, store):
        fields = fields_of(hub)
        await hub.cascade("The harbour at dawn, ropes and gulls.", seed=1)
        await hub.cascade("Salt on the rope and the tide going out.", seed=2)
        before = await dumps(fields)
        newest = await hub.cascade("Quasars hum beneath the glacier.", seed=3)
        assert newest.id is not None
        held = await dumps(fields)
        forgotten = await forget_breath(fields, newest.id)
        after = await dumps(fields)
        for name in FIELDS:
            assert without_floor(after[name]) == before[name], name
        assert forgotten.fields[HUB].turns == 1 and all(rows.disturbances == 1 for rows in forgotten.fields.values())
        await all_audits_clean(store)
        with pytest.raises(CascadeNotFound):
            await forget_breath(fields, newest.id)
        again = await hub.cascade("And the lighthouse?", seed=4)
        assert again.id is not None and again.id > newest.id, "a forgotten breath's number is never given again"
        for name, dump in (await dumps(fields)).items():
            highest = {table: max((row[0] for row in getattr(dump, table)), default=0) for table in ROWS}
            forgotten_top = {table: max((row[0] for row in getattr(held[name], table)), default=0) for table in ROWS}
            assert all(highest[table] > forgotten_top[table] for table in ROWS), name


async def test_forgetting_a_middle_breath_removes_exactly_its_rows(config: Config) -> None:
    async with hub_with_doubles(config) as (hub, store):
        fields = fields_of(hub)
        results = [await hub.cascade(prompt, seed=seed) for seed, prompt in enumerate(
            ("The harbour at dawn.", "Zephyrs over obsidian quarries.", "The harbour at dusk."), start=1)]
        middle = results[1].id
        assert middle is not None
        rows = (await record(hub, middle)).rows
        assert rows is not None and set(rows) == set(FIELDS)
        before = await dumps(fields)
        await forget_breath(fields, middle)
        after = await dumps(fields)
        for name in FIELDS:
            gone = {table: set(getattr(rows[name], table)) for table in ROWS}
            if name == HUB:
                gone["turns"] |= {middle}
            for table in ROWS:
                kept = [row for row in getattr(before[name], table) if row[0] not in gone[table]]
                if table == "turns":  # a kept turn's link to a removed row becomes NULL; none links across breaths
                    assert [row[0] for row in getattr(after[name], table)] == [row[0] for row in kept], name
                else:
                    assert list(getattr(after[name], table)) == kept, (name, table)
            heard = {word for word, _own, heard_count in after[name].words if heard_count > 0}
            assert not heard & {"zephyrs", "obsidian", "quarries"}, name
            assert "harbour" in heard, name
        await all_audits_clean(store)
        assert [turn.id for turn in await hub.field.turns(10)] == [results[2].id, results[0].id]


async def test_with_retention_on_a_breath_partly_forgotten_already_is_forgotten_whole(config: Config) -> None:
    keeping = dataclasses.replace(config, keep_turns=2)
    async with hub_with_doubles(keeping) as (hub, store):
        fields = fields_of(hub)
        first = await hub.cascade("Obsidian quarries at noon.", seed=1)
        for seed in range(2, 5):
            await hub.cascade(f"The harbour, hour {seed}.", seed=seed)
        assert first.id is not None
        await forget_breath(fields, first.id)  # retention took most of it; what is left goes, nothing else
        await all_audits_clean(store)
        for name, dump in (await dumps(fields)).items():
            heard = {word for word, _own, heard_count in dump.words if heard_count > 0}
            assert "obsidian" not in heard and "harbour" in heard, name


async def test_through_the_front_door_on_a_closed_colony(config: Config) -> None:
    async with hub_with_doubles(config) as (hub, _):
        cascade = (await hub.cascade("Obsidian quarries at noon.", seed=1)).id
        await hub.cascade("The harbour at dawn.", seed=2)
    assert cascade is not None
    async with Harmonix.open(config, cascades=False) as harmonix:
        forgotten = await harmonix.forget_cascade(config.colony, cascade)
        assert forgotten.cascade == cascade and forgotten.fields[HUB].turns == 1
        assert [record.id for record in await harmonix.history(config.colony)] == [cascade + 1]
        with pytest.raises(CascadeNotFound):
            await harmonix.forget_cascade(config.colony, cascade)
        with pytest.raises(CascadeNotFound):
            await harmonix.forget_cascade(config.colony, 99)
        await all_audits_clean(harmonix.store)
