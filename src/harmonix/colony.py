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
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from harmonix.config import LLM_ROLES, Config, cores
from harmonix.engines.shared import SharedEngines
from harmonix.errors import InvalidArgument, OrganismNotFound
from harmonix.field import ColonyInfo, Field, FieldStats, Store, ensure_colony, open_store
from harmonix.meta import BreathListener, CascadeResult, MetaHarmonix, StageResult
from harmonix.organisms.base import HUB, ORGANISMS, Organism, organism_class


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
                      listener: BreathListener | None = None) -> CascadeResult:
        """One breath of the whole colony (:meth:`MetaHarmonix.cascade`)."""
        return await self._hub().cascade(prompt, seed=seed, sequential=sequential, listener=listener)

    async def turn(self, organism: str, prompt: str, *, seed: int | None = None,
                   listener: BreathListener | None = None) -> StageResult:
        """One organism's turn alone (:meth:`MetaHarmonix.turn`)."""
        if organism not in self.organisms:
            raise OrganismNotFound(f"no organism {organism!r}; the organisms are {', '.join(ORGANISMS)}")
        return await self._hub().turn(organism, prompt, seed=seed, listener=listener)

    def _hub(self) -> MetaHarmonix:
        if self.hub is None:
            raise InvalidArgument(f"colony {self.name} was opened with only {', '.join(self.organisms)}; "
                                  "a cascade needs every organism")
        return self.hub

    async def stats(self) -> list[FieldStats]:
        """Every open field's stats, organisms first, the hub last."""
        return [await field.stats() for field in self.fields.values()]


class Harmonix:
    """One process's Harmonix: a store of colonies and the engines they share. Open with :meth:`open`."""

    def __init__(self, config: Config, store: Store, engines: SharedEngines) -> None:
        self.config = config
        self.store = store
        self.engines = engines

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, config: Config, *, cascades: bool = True, serving: bool = False) -> AsyncIterator[Harmonix]:
        """The store and the shared engines for the block. The compute budget, unless configured
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
        async with open_config_store(config) as store, \
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


@contextlib.asynccontextmanager
async def open_organism(config: Config, name: str) -> AsyncIterator[Organism]:
    """One organism of the configured colony, alone in its process (every core for it): for single-organism
    commands, the evaluation and the benchmarks."""
    async with Harmonix.open(config, cascades=False) as harmonix, harmonix.colony(organisms=(name,)) as colony:
        yield colony.organisms[name]
