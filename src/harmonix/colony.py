"""Colonies, and the process that serves them.

A *colony* is one conversation's memory: an independent set of five fields (haiku, sonnet, prose, artist and the
hub's ``meta``). :class:`Harmonix` is one process's view of a store of colonies: it holds the store and the engines
every colony shares (:class:`~harmonix.engines.shared.SharedEngines`: one LLM engine with its slots, Sonnet's
weights, HAiKU's bootstrap), and opens colonies on demand. A :class:`Colony` owns only its fields; its organisms are
built around them with the shared engines, and its hub (:class:`~harmonix.meta.MetaHarmonix`) breathes through them::

    async with Harmonix.open(config) as harmonix:
        async with harmonix.colony("alice") as colony:
            result = await colony.cascade("What is resonance?", seed=1)

Colonies share nothing but the engines: no field, no lock, no transaction spans two colonies.

**Forgetting one breath** (:func:`forget_breath`): everything a cascade left in the colony (its disturbance in
every field, each organism's reply and what else its turn wrote, the meta sentence every organism heard, the hub's
record) is removed with exactly the counts it had added, one transaction per field, the organisms' fields first
and the hub's record last, so a forgetting cut short is finished by asking again. What an organism keeps as state
(Sonnet's place in its cycle) says where it is, not what it heard, and stays.

**Administration.** :class:`Harmonix` is also where colonies are kept: it lists, creates, forks and removes them,
erases fields, reads their stats, history and audit, and writes a colony to a file and back
(:mod:`harmonix.field.transfer`'s format). The command line and the server call these methods and never a store.
Every method that names a colony takes an ``owner``: with one given, a colony recorded for another owner is
:class:`~harmonix.errors.ColonyNotFound`, the same answer as for one that does not exist (``None``: every colony
is visible, as on the command line).
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass

from harmonix.config import LLM_ROLES, Config, check_colony_name, cores
from harmonix.engines.shared import SharedEngines
from harmonix.errors import CascadeNotFound, ColonyExists, ColonyNotFound, InvalidArgument, OrganismNotFound
from harmonix.field import (
    ColonyInfo,
    Field,
    FieldAudit,
    FieldDump,
    FieldStats,
    Forgotten,
    RowLedger,
    Store,
    WrittenRows,
    audit_field,
    ensure_colony,
    open_store,
)
from harmonix.field.transfer import ColonyMove, colony_lines, load_colony, migrate_store, read_colony, summary
from harmonix.meta import BreathListener, CascadeRecord, CascadeResult, MetaHarmonix, StageResult
from harmonix.organisms.base import FIELDS, HUB, ORGANISMS, Organism, organism_class

HISTORY_PAGE = 500


def open_config_store(config: Config, *, ensure_default: bool = True) -> contextlib.AbstractAsyncContextManager[Store]:
    """The store ``config`` names (its database, else the SQLite home) with its lock timeout and pool settings;
    ``ensure_default`` as for :func:`~harmonix.field.backends.open_store`."""
    return open_store(config.store_url, lock_timeout_s=config.lock_timeout_s, pool_size=config.db_pool_size,
                      idle_in_transaction_s=config.db_idle_in_transaction_s, ensure_default=ensure_default)


@dataclass
class Colony:
    """One open colony: its fields, its organisms and (when every organism is open) its hub."""

    info: ColonyInfo
    fields: Mapping[str, Field]
    organisms: Mapping[str, Organism]
    hub: MetaHarmonix | None

    @property
    def name(self) -> str:
        return self.info.name

    async def cascade(self, prompt: str, *, seed: int | None = None, sequential: bool = False,
                      listener: BreathListener | None = None, ledger: RowLedger | None = None) -> CascadeResult:
        """One breath of the whole colony (:meth:`MetaHarmonix.cascade`)."""
        return await self._hub().cascade(prompt, seed=seed, sequential=sequential, listener=listener, ledger=ledger)

    async def turn(self, organism: str, prompt: str, *, seed: int | None = None,
                   listener: BreathListener | None = None, ledger: RowLedger | None = None) -> StageResult:
        """One organism's turn alone (:meth:`MetaHarmonix.turn`)."""
        if organism not in self.organisms:
            raise OrganismNotFound(f"no organism {organism!r}; the organisms are {', '.join(ORGANISMS)}")
        return await self._hub().turn(organism, prompt, seed=seed, listener=listener, ledger=ledger)

    async def undo(self, ledger: RowLedger) -> ForgottenBreath:
        """Remove what a breath cut short had committed (:func:`undo_breath`)."""
        return await undo_breath(self.fields, ledger)

    def _hub(self) -> MetaHarmonix:
        if self.hub is None:
            raise InvalidArgument(f"colony {self.name} was opened with only {', '.join(self.organisms)}; "
                                  "a cascade needs every organism")
        return self.hub

    async def stats(self) -> list[FieldStats]:
        """Every open field's stats, organisms first, the hub last."""
        return [await field.stats() for field in self.fields.values()]

    async def forget(self, cascade: int) -> ForgottenBreath:
        """Forget breath ``cascade`` (:func:`forget_breath`)."""
        return await forget_breath(self.fields, cascade)


@dataclass(frozen=True, slots=True)
class ForgottenBreath:
    """What forgetting one breath removed, field by field."""

    cascade: int
    fields: Mapping[str, Forgotten]


async def undo_breath(fields: Mapping[str, Field], ledger: RowLedger) -> ForgottenBreath:
    """Remove every row a breath's ``ledger`` holds, with the counts they added, one transaction per field: for a
    breath that was cut short after some organisms had committed (it has no record yet; ``cascade`` is 0)."""
    return ForgottenBreath(0, {name: await fields[name].remove(rows) for name, rows in ledger.rows().items()})


async def forget_breath(fields: Mapping[str, Field], cascade: int) -> ForgottenBreath:
    """Remove breath ``cascade`` from a colony whose fields (every one its record names, and the hub's) are open
    (module docstring). :class:`~harmonix.errors.CascadeNotFound` when the colony has no such breath;
    :class:`~harmonix.errors.InvalidArgument` for a breath recorded before Harmonix kept what each breath wrote."""
    hub = fields[HUB]
    found = await hub.turns(1, before=cascade + 1) if cascade >= 1 else ()
    if not found or found[0].id != cascade:
        raise CascadeNotFound(f"colony {hub.colony} has no breath {cascade}")
    rows = CascadeRecord.of(found[0]).rows
    if rows is None:
        raise InvalidArgument(f"breath {cascade} was recorded before Harmonix kept what each breath wrote, so it "
                              "cannot be forgotten row by row")
    removed = {name: await fields[name].remove(written) for name, written in rows.items() if name != HUB}
    removed[HUB] = await hub.remove(rows.get(HUB, WrittenRows()) + WrittenRows(turns=(cascade,)))
    return ForgottenBreath(cascade, removed)


class Harmonix:
    """One process's Harmonix: a store of colonies and the engines they share. Open with :meth:`open`."""

    def __init__(self, config: Config, store: Store, engines: SharedEngines) -> None:
        self.config = config
        self.store = store
        self.engines = engines

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, config: Config, *, cascades: bool = True, serving: bool = False,
                   ensure_default: bool = True) -> AsyncIterator[Harmonix]:
        """The store and the shared engines for the block (the engines load when first used, so a block that
        only administers colonies loads no model; ``ensure_default=False`` leaves a new home without its default
        colony, for a listing that must write nothing). The compute budget, unless configured
        (``llm_threads``, ``llm_replicas``): one organism alone gets every core for llama.cpp; a process that runs
        cascades gives it ``cores - 1`` threads (Sonnet's NumPy holds a core during INHALE, and llama.cpp threads
        spin-wait, so one thread too many collapses both); a server, where many breaths overlap, loads one
        single-thread replica of the model per core (:class:`~harmonix.engines.llm.Replicas`)."""
        if serving:
            threads, replicas = config.llm_threads or 1, config.llm_replicas or cores()
        else:
            threads = config.llm_threads or (max(1, cores() - 1) if cascades else cores())
            replicas = config.llm_replicas or 1
        llms = {role: config.llm(role, threads=threads, replicas=replicas) for role in LLM_ROLES}
        async with open_config_store(config, ensure_default=ensure_default) as store, \
                SharedEngines.open(llms) as engines:
            yield cls(config, store, engines)

    async def prepare(self, organisms: Sequence[str] = ORGANISMS) -> None:
        """Load every named organism's engine now rather than on the first colony that needs it."""
        for name in organisms:
            await organism_class(name).prepare(self.engines, self.config)

    @contextlib.asynccontextmanager
    async def colony(self, name: str | None = None, *, organisms: Sequence[str] = ORGANISMS,
                     create: bool = True) -> AsyncIterator[Colony]:
        """Colony ``name`` (default: the configured one) with the named organisms open for the block; created if
        missing unless ``create=False`` (then :class:`~harmonix.errors.ColonyNotFound`). The hub and its field open
        only when every organism does."""
        name = name or self.config.colony
        info = await ensure_colony(self.store, name) if create else await self.store.colony(name)
        classes = {organism: organism_class(organism) for organism in organisms}
        whole = set(organisms) == set(ORGANISMS)
        async with contextlib.AsyncExitStack() as stack:
            fields = {field_name: await stack.enter_async_context(
                          Field.open(self.store, field_name, colony=name, retention=self.config.retention))
                      for field_name in (*organisms, *([HUB] if whole else []))}
            built = {organism: await cls.build(fields[organism], self.engines, self.config)
                     for organism, cls in classes.items()}
            hub = MetaHarmonix(built, fields[HUB]) if whole else None
            yield Colony(info, fields, built, hub)


    # --- administration (module docstring) --------------------------------------------------------------------

    async def colony_info(self, name: str, owner: str | None = None) -> ColonyInfo:
        """Colony ``name``'s record, if ``owner`` may see it, else :class:`~harmonix.errors.ColonyNotFound`."""
        check_colony_name(name, "colony")
        info = await self.store.colony(name)
        if owner is not None and info.owner != owner:
            raise ColonyNotFound(f"no colony {name!r}")
        return info

    async def colonies(self, owner: str | None = None) -> list[ColonyInfo]:
        """The colonies ``owner`` may see, oldest first."""
        return [info for info in await self.store.colonies() if owner is None or info.owner == owner]

    async def create_colony(self, name: str | None = None, owner: str | None = None) -> ColonyInfo:
        """A new, empty colony named ``name``, or ``c-`` and twelve random hex digits;
        :class:`~harmonix.errors.ColonyExists` if the name is taken."""
        name = check_colony_name(name, "colony name") if name is not None else f"c-{secrets.token_hex(6)}"
        return await self.store.create_colony(name, owner=owner)

    async def ensure_colony(self, name: str, owner: str | None = None) -> ColonyInfo:
        """Colony ``name`` for ``owner``, created for it if there is none yet, whoever wins a race to create it."""
        try:
            return await self.colony_info(name, owner)
        except ColonyNotFound:
            try:
                return await self.store.create_colony(check_colony_name(name, "colony"), owner=owner)
            except ColonyExists:
                return await self.colony_info(name, owner)

    async def fork_colony(self, name: str, new: str | None = None, owner: str | None = None) -> ColonyInfo:
        """A copy of colony ``name`` as ``new`` (default: a random name, as :meth:`create_colony`), every field as
        it is now, each copied in one consistent read; the copy belongs to ``owner``."""
        await self.colony_info(name, owner)
        new = check_colony_name(new, "colony name") if new is not None else f"c-{secrets.token_hex(6)}"
        return await self.store.fork_colony(name, new, owner=owner)

    async def remove_colony(self, name: str, owner: str | None = None) -> None:
        """Remove colony ``name`` and every field it holds."""
        await self.colony_info(name, owner)
        await self.store.remove_colony(name)

    async def field_names(self, name: str, owner: str | None = None) -> list[str]:
        """The fields colony ``name`` holds, organisms first (in :data:`~harmonix.organisms.base.FIELDS` order),
        then the hub's, then any other."""
        await self.colony_info(name, owner)
        held = await self.store.field_names(name)
        return sorted(held, key=lambda field: (FIELDS.index(field) if field in FIELDS else len(FIELDS), field))

    async def reset(self, name: str, fields: Sequence[str], owner: str | None = None) -> list[str]:
        """Erase ``fields`` of colony ``name`` (each starts again from nothing, or from its bootstrap, when next
        opened); the names of those that existed."""
        await self.colony_info(name, owner)
        return [field for field in fields if await self.store.remove_field(name, field)]

    @contextlib.asynccontextmanager
    async def field(self, colony: str, name: str, *, create: bool = True,
                    owner: str | None = None) -> AsyncIterator[Field]:
        """Field ``name`` of ``colony`` for the block, to look into or write to directly; with ``create`` the
        colony and the field are made when missing, else :class:`~harmonix.errors.FieldNotFound`."""
        if create and owner is None:
            await ensure_colony(self.store, colony)
        else:
            await self.colony_info(colony, owner)
        async with Field.open(self.store, name, colony=colony, create=create, retention=self.config.retention) as f:
            yield f

    async def field_stats(self, name: str, fields: Sequence[str] = (), owner: str | None = None) -> list[FieldStats]:
        """The stats of colony ``name``'s ``fields``, else of every field it holds (:meth:`field_names` order)."""
        stats = []
        for field_name in list(fields) or await self.field_names(name, owner):
            async with self.field(name, field_name, create=False, owner=owner) as field:
                stats.append(await field.stats())
        return stats

    async def audit(self, name: str, field: str, owner: str | None = None) -> FieldAudit:
        """Recompute field ``field`` of colony ``name`` from its texts and list every disagreement."""
        await self.colony_info(name, owner)
        return await audit_field(self.store, name, field)

    async def history(self, name: str, *, limit: int | None = None, before: int | None = None,
                      owner: str | None = None) -> list[CascadeRecord]:
        """Colony ``name``'s past breaths, newest first: ``limit`` of them with ids below ``before``, or every one
        (read page by page, each page one transaction)."""
        await self.colony_info(name, owner)
        found: list[CascadeRecord] = []
        async with Field.open(self.store, HUB, colony=name, create=False) as hub:
            while limit is None or len(found) < limit:
                page = await hub.turns(HISTORY_PAGE if limit is None else min(HISTORY_PAGE, limit - len(found)),
                                       before)
                if not page:
                    break
                found.extend(CascadeRecord.of(turn) for turn in page)
                before = page[-1].id
        return found

    async def forget_cascade(self, name: str, cascade: int, owner: str | None = None) -> ForgottenBreath:
        """Forget breath ``cascade`` of colony ``name`` (:func:`forget_breath`), its fields opened for it."""
        await self.colony_info(name, owner)
        async with contextlib.AsyncExitStack() as stack:
            fields = {field_name: await stack.enter_async_context(
                          Field.open(self.store, field_name, colony=name, create=False,
                                     retention=self.config.retention))
                      for field_name in await self.field_names(name, owner) if field_name in FIELDS}
            if HUB not in fields:
                raise CascadeNotFound(f"colony {name} has no breath {cascade}")
            return await forget_breath(fields, cascade)

    async def export_colony(self, name: str, owner: str | None = None) -> tuple[list[str], ColonyMove]:
        """Colony ``name`` as the lines of a colony file (:mod:`harmonix.field.transfer`) and what they hold."""
        await self.colony_info(name, owner)
        info, dumps = await read_colony(self.store, name)
        return list(colony_lines(info, dumps)), ColonyMove(info, "exported", tuple(summary(d) for d in dumps))

    async def import_colony(self, info: ColonyInfo, dumps: list[FieldDump]) -> ColonyMove:
        """Write a colony read from a file (:func:`harmonix.field.transfer.read_colony_file`) into this store,
        checked before anything is written and verified by audit after; a cut-short import is completed."""
        return await load_colony(self.store, info, dumps)


async def migrate(config: Config, origin: str, destination: str,
                  names: Iterable[str] | None = None) -> list[ColonyMove]:
    """Copy every colony (or those ``names``) of the store at URL ``origin`` into the one at ``destination``, with
    ``config``'s other settings (:func:`harmonix.field.transfer.migrate_store`); the origin is only read."""
    async with open_config_store(dataclasses.replace(config, database=origin), ensure_default=False) as source, \
            open_config_store(dataclasses.replace(config, database=destination)) as target:
        return await migrate_store(source, target, names)


@contextlib.asynccontextmanager
async def open_organism(config: Config, name: str) -> AsyncIterator[Organism]:
    """One organism of the configured colony, alone in its process (every core for it): for single-organism
    commands, the evaluation and the benchmarks."""
    async with Harmonix.open(config, cascades=False) as harmonix, harmonix.colony(organisms=(name,)) as colony:
        yield colony.organisms[name]
