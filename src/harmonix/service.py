"""Colonies served to many people at once: what a server needs from Harmonix, below the server itself.

A :class:`ColonyService` holds one process's :class:`~harmonix.colony.Harmonix` (the store and the engines every
colony shares) and answers requests about colonies. It knows who may see a colony, when a colony must be opened or
closed, how many requests may run at once and for how long; it knows nothing of HTTP. The server shapes requests
into these calls and results into documents.

**Colonies open on first use and close when idle.** An open colony holds its five fields (a connection and a thread
each for SQLite), so at most ``max_open_colonies`` are open; opening one more closes the least recently used idle
one, and a colony unused for ``idle_close_s`` is closed by a reaper. A colony in use is never closed.

**Who sees a colony.** Each colony records an owner: an opaque id the server derives from the API key that created
it (never the key). With an owner given, a request sees only that owner's colonies; anything else is
:class:`~harmonix.errors.ColonyNotFound`, the same answer as for a colony that does not exist. Without keys
(``owner=None``) every colony is visible.

**Admission is bounded, never a queue without end.** At most ``max_active`` requests run at once in total, and for
each organism of each colony at most ``max_waiting_per_organism`` requests wait behind the one that is running (a
colony's organism answers strictly in order, so more would only wait). A request beyond either bound is refused at
once with :class:`~harmonix.errors.ServiceBusy`, which carries an estimate of when to try again: the median time of
the last requests of its kind, at least one second.

**Deadlines and cancellation.** A request past ``deadline_s`` is cancelled and raises
:class:`~harmonix.errors.DeadlineExceeded`. Cancelling a request (a deadline, a client that went away, a server
shutting down) cancels its turns: each organism's turn that had not committed rolls back whole; turns that had
committed stay (a cascade is not a transaction across organisms).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import statistics
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from harmonix.colony import Colony, ForgottenBreath, Harmonix
from harmonix.config import Config
from harmonix.errors import (
    ColonyBusy,
    DeadlineExceeded,
    FieldNotFound,
    InvalidArgument,
    NotReady,
    OrganismNotFound,
    ServiceBusy,
)
from harmonix.field import ColonyInfo, FieldStats, RowLedger, TurnView
from harmonix.field.runs import RunLog
from harmonix.meta import BreathListener, CascadeRecord, CascadeResult, StageResult
from harmonix.organisms.base import FIELDS, HUB, ORGANISMS
from harmonix.text import validate_text

log = logging.getLogger(__name__)
RECENT_LATENCIES = 50
HISTORY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    """The bounds of module docstring. ``deadline_s`` bounds one request, all its turns included."""

    max_open_colonies: int = 32
    idle_close_s: float = 300.0
    max_active: int = 8
    max_waiting_per_organism: int = 2
    deadline_s: float = 600.0

    def __post_init__(self) -> None:
        if min(self.max_open_colonies, self.max_active) < 1 or self.max_waiting_per_organism < 0:
            raise InvalidArgument(f"service limits must be positive: {self}")
        if not (self.idle_close_s > 0 and self.deadline_s > 0):
            raise InvalidArgument(f"service timeouts must be positive: {self}")


@dataclass(frozen=True, slots=True)
class TurnPoint:
    """One turn of an organism, for its series over time: dissonance, temperature, the field's sizes as the turn's
    snapshot saw them, and the organism's own metrics (Sonnet's phase, HAiKU's pulse …)."""

    id: int
    created: float
    text: str | None
    dissonance: float | None
    temperature: float | None
    sizes: dict[str, int]
    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FieldView:
    """A field for the page: its stats and its latest turns, newest first."""

    stats: FieldStats
    turns: tuple[TurnPoint, ...]


@dataclass
class _Open:
    """An open colony and its lifecycle."""

    colony: Colony
    stack: contextlib.AsyncExitStack
    users: int = 0
    last_used: float = field(default_factory=time.monotonic)


class Admission:
    """The bounds on running and waiting requests (module docstring)."""

    def __init__(self, limits: ServiceLimits) -> None:
        self._limits = limits
        self.active = 0
        self._per_organism: collections.Counter[tuple[str, str]] = collections.Counter()
        self._latencies: dict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=RECENT_LATENCIES))
        self.rejected = 0

    @property
    def waiting(self) -> int:
        """Requests admitted but waiting behind another one for an organism (the queue's depth)."""
        return sum(max(0, n - 1) for n in self._per_organism.values())

    @contextlib.contextmanager
    def admit(self, kind: str, colony: str, organisms: Sequence[str]) -> Iterator[None]:
        """Hold a place for a request of ``kind`` ("cascade", "turn") on ``organisms`` of ``colony``, or raise
        :class:`ServiceBusy` at once."""
        bound = 1 + self._limits.max_waiting_per_organism
        if self.active >= self._limits.max_active:
            self.rejected += 1
            raise ServiceBusy(f"{self.active} requests are running, the most this server runs at once",
                              self._retry_after(kind))
        full = [name for name in organisms if self._per_organism[(colony, name)] >= bound]
        if full:
            self.rejected += 1
            raise ServiceBusy(f"colony {colony}: {bound} requests are already running or waiting for "
                              f"{', '.join(full)}", self._retry_after(kind))
        self.active += 1
        for name in organisms:
            self._per_organism[(colony, name)] += 1
        started = time.monotonic()
        try:
            yield
        finally:
            self.active -= 1
            for name in organisms:
                self._per_organism[(colony, name)] -= 1
                if not self._per_organism[(colony, name)]:
                    del self._per_organism[(colony, name)]
            self._latencies[kind].append(time.monotonic() - started)

    def _retry_after(self, kind: str) -> float:
        recent = self._latencies[kind]
        return max(1.0, math.ceil(statistics.median(recent))) if recent else 1.0


class ColonyService:
    """Colonies for a server (module docstring). ``async with ColonyService.open(config) as service:``; the engines
    load in the background (:meth:`ready`) so a server can answer "loading" meanwhile."""

    def __init__(self, harmonix: Harmonix, limits: ServiceLimits, run_log: RunLog) -> None:
        self._harmonix = harmonix
        self.limits = limits
        self.run_log = run_log
        """Where the store keeps its runs (:mod:`harmonix.field.runs`), for the server's runs."""
        self.admission = Admission(limits)
        self._open: dict[str, _Open] = {}
        self._opening = asyncio.Lock()
        self._loaded = asyncio.Event()
        self._load_error: BaseException | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, config: Config, limits: ServiceLimits = ServiceLimits(), *,
                   serving: bool = True) -> AsyncIterator[ColonyService]:
        """The service for the block; ``serving=False`` takes the compute budget of one client's cascades instead of
        a server's (:meth:`Harmonix.open`), for one assistant over stdio."""
        async with Harmonix.open(config, serving=serving) as harmonix, harmonix.store.runs() as run_log:
            service = cls(harmonix, limits, run_log)
            loader = asyncio.create_task(service._load(), name="harmonix-load-engines")
            reaper = asyncio.create_task(service._reap(), name="harmonix-close-idle-colonies")
            try:
                yield service
            finally:
                for task in (loader, reaper):
                    task.cancel()
                await asyncio.gather(loader, reaper, return_exceptions=True)
                await service._close_all()

    async def _load(self) -> None:
        try:
            await self._harmonix.prepare()
        except Exception as error:  # reported by every request and by health, not lost in a background task
            log.error("the engines could not be loaded: %s", error)
            self._load_error = error
        self._loaded.set()

    async def loaded(self) -> bool:
        """Wait until the engines have loaded (or failed to); True when they loaded."""
        await self._loaded.wait()
        return self._load_error is None

    @property
    def ready(self) -> bool:
        """True once every engine has loaded."""
        return self._loaded.is_set() and self._load_error is None

    @property
    def open_colonies(self) -> int:
        return len(self._open)

    def _require_ready(self) -> None:
        if self._load_error is not None:
            raise NotReady(f"the engines failed to load: {self._load_error}")
        if not self._loaded.is_set():
            raise NotReady("the server is still loading its engines")

    # --- colonies as records ---------------------------------------------------------------------------------------

    async def colony_info(self, name: str, owner: str | None) -> ColonyInfo:
        """The colony, if ``owner`` may see it, else :class:`ColonyNotFound`."""
        return await self._harmonix.colony_info(name, owner)

    async def colonies(self, owner: str | None) -> list[ColonyInfo]:
        return await self._harmonix.colonies(owner)

    async def create(self, name: str | None, owner: str | None) -> ColonyInfo:
        """A new colony, named ``name`` or ``c-`` and twelve random hex digits."""
        return await self._harmonix.create_colony(name, owner)

    async def ensure(self, name: str, owner: str | None) -> ColonyInfo:
        """Colony ``name`` for ``owner``, created for it if there is none yet (an OpenAI client names its colony
        by its ``user``)."""
        return await self._harmonix.ensure_colony(name, owner)

    async def fork(self, name: str, new: str | None, owner: str | None) -> ColonyInfo:
        return await self._harmonix.fork_colony(name, new, owner)

    async def remove(self, name: str, owner: str | None) -> None:
        await self.colony_info(name, owner)
        async with self._opening:
            opened = self._open.get(name)
            if opened is not None:
                if opened.users:
                    raise ColonyBusy(f"colony {name} has {opened.users} requests in flight; try again when they end")
                del self._open[name]
                await opened.stack.aclose()
        await self._harmonix.remove_colony(name, owner)
        await self.run_log.forget_colony(name)

    # --- colonies in use -------------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lease(self, name: str) -> AsyncIterator[Colony]:
        """The open colony ``name`` for the block (opened if needed); it is not closed while leased."""
        async with self._opening:
            opened = self._open.get(name)
            if opened is None:
                await self._make_room()
                stack = contextlib.AsyncExitStack()
                try:
                    colony = await stack.enter_async_context(self._harmonix.colony(name, create=False))
                except BaseException:
                    await stack.aclose()
                    raise
                opened = self._open[name] = _Open(colony, stack)
            opened.users += 1
        try:
            yield opened.colony
        finally:
            opened.users -= 1
            opened.last_used = time.monotonic()

    async def _make_room(self) -> None:
        """Close the least recently used idle colony when the open ones are at the bound (under ``_opening``)."""
        if len(self._open) < self.limits.max_open_colonies:
            return
        idle = [(opened.last_used, name) for name, opened in self._open.items() if not opened.users]
        if not idle:
            self.admission.rejected += 1
            raise ServiceBusy(f"{len(self._open)} colonies are open and all in use", 1.0)
        _, name = min(idle)
        await self._open.pop(name).stack.aclose()

    async def _reap(self) -> None:
        """Close colonies idle for ``idle_close_s``, checking every few seconds."""
        period = min(30.0, self.limits.idle_close_s / 2)
        while True:
            await asyncio.sleep(period)
            async with self._opening:
                now = time.monotonic()
                for name, opened in list(self._open.items()):
                    if not opened.users and now - opened.last_used >= self.limits.idle_close_s:
                        del self._open[name]
                        await opened.stack.aclose()
                        log.info("closed idle colony %s", name)

    async def _close_all(self) -> None:
        async with self._opening:
            for opened in self._open.values():
                await opened.stack.aclose()
            self._open.clear()

    # --- breathing -------------------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def admitted(self, kind: str, name: str, owner: str | None, prompt: str,
                       organisms: Sequence[str] = ORGANISMS) -> AsyncIterator[Colony]:
        """Everything a breath needs before it starts, held for the block: a valid prompt, loaded engines, a colony
        ``owner`` may see, a place in admission, the colony open. Raises before the block when any is missing, so
        a server can answer with a status before it starts a stream. Has no task affinity: a server may enter it in
        one task and leave it in another."""
        unknown = [organism for organism in organisms if organism not in ORGANISMS]
        if unknown:
            raise OrganismNotFound(f"no organism {unknown[0]!r}; the organisms are {', '.join(ORGANISMS)}")
        validate_text(prompt, what="prompt")
        self._require_ready()
        await self.colony_info(name, owner)
        with self.admission.admit(kind, name, organisms):
            async with self._lease(name) as colony:
                yield colony

    @contextlib.asynccontextmanager
    async def deadline(self) -> AsyncIterator[None]:
        """The request's deadline, around the work itself (in the task that does it)."""
        try:
            async with asyncio.timeout(self.limits.deadline_s):
                yield
        except TimeoutError:
            raise DeadlineExceeded(f"the request ran past its deadline of {self.limits.deadline_s:g} s; "
                                   "what had not committed was rolled back") from None

    async def cascade(self, name: str, owner: str | None, prompt: str, *, seed: int | None = None,
                      listener: BreathListener | None = None) -> CascadeResult:
        """One breath of colony ``name`` (the bounds, deadline and cancellation of the module docstring)."""
        async with self.admitted("cascade", name, owner, prompt) as colony, self.deadline():
            return await colony.cascade(prompt, seed=seed, listener=listener)

    async def turn(self, name: str, owner: str | None, organism: str, prompt: str, *, seed: int | None = None,
                   listener: BreathListener | None = None) -> StageResult:
        """One organism's turn in colony ``name``."""
        async with self.admitted("turn", name, owner, prompt, (organism,)) as colony, self.deadline():
            return await colony.turn(organism, prompt, seed=seed, listener=listener)

    async def undo(self, name: str, ledger: RowLedger) -> ForgottenBreath:
        """Remove what a breath of colony ``name`` cut short had committed (:func:`harmonix.colony.undo_breath`)."""
        async with self._lease(name) as colony:
            return await colony.undo(ledger)

    async def forget(self, name: str, owner: str | None, cascade: int) -> ForgottenBreath:
        """Forget breath ``cascade`` of colony ``name`` (:func:`harmonix.colony.forget_breath`), through the open
        colony, so each field's lock orders it with the breaths running there."""
        await self.colony_info(name, owner)
        async with self._lease(name) as colony:
            return await colony.forget(cascade)

    # --- reading ---------------------------------------------------------------------------------------------------

    async def stats(self, name: str, owner: str | None) -> dict[str, FieldStats]:
        """Every field's stats, by field name."""
        await self.colony_info(name, owner)
        async with self._lease(name) as colony:
            return {stats.name: stats for stats in await colony.stats()}

    async def history(self, name: str, owner: str | None, *, limit: int = 20,
                      before: int | None = None) -> list[CascadeRecord]:
        """Past breaths of the colony, newest first: up to ``limit`` (at most ``HISTORY_LIMIT``) with ids below
        ``before``."""
        _check_page(limit, before)
        await self.colony_info(name, owner)
        async with self._lease(name) as colony:
            turns = await colony.fields[HUB].turns(limit, before)
        return [CascadeRecord.of(turn) for turn in turns]

    async def field_view(self, name: str, owner: str | None, organism: str, *, limit: int = 50) -> FieldView:
        """One field's stats and its latest ``limit`` turns."""
        if organism not in FIELDS:
            raise FieldNotFound(f"no field {organism!r}; the fields are {', '.join(FIELDS)}")
        _check_page(limit, None)
        await self.colony_info(name, owner)
        async with self._lease(name) as colony:
            field_ = colony.fields[organism]
            stats, turns = await field_.stats(), await field_.turns(limit)
        return FieldView(stats=stats, turns=tuple(_turn_point(turn) for turn in turns))


def _check_page(limit: int, before: int | None) -> None:
    if not 1 <= limit <= HISTORY_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {HISTORY_LIMIT}, got {limit}")
    if before is not None and before < 1:
        raise InvalidArgument(f"before must be a positive cascade id, got {before}")


def _turn_point(turn: TurnView) -> TurnPoint:
    metrics = {key: value for key, value in turn.metrics.items() if key not in ("seen_sizes", "texts")}
    sizes = turn.metrics.get("seen_sizes")
    return TurnPoint(id=turn.id, created=turn.created, text=turn.text, dissonance=turn.dissonance,
                     temperature=turn.temperature, sizes=dict(sizes) if isinstance(sizes, dict) else {},
                     metrics=metrics)
