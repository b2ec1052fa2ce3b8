"""Runs: every breath the server runs is a named thing a client can watch, leave, rejoin and cancel.

A breath (a cascade, or one organism's turn) becomes a *run* when it is admitted: it gets an id (``run_`` and 24 hex
digits), its record goes into the run log where its colony lives (:mod:`harmonix.field.runs`), and its work runs in
a task of its own, owned by this process's :class:`Runs`, not by the request that started it. Everything the breath
sends is a numbered event: first ``run`` (the id, the colony, the kind), then the breath's own events
(:func:`harmonix.documents.event_document`), then ``done`` or ``error``; the numbers are the events' SSE ids.

- **Watching.** :meth:`Runs.follow` yields a run's events after a given number, then the new ones as they happen,
  until the run has ended: from memory when the run is this process's, else from the run log, which it reads every
  ``poll_s`` seconds, so a client can rejoin through any server process on the same PostgreSQL database.
- **Leaving.** What happens when the client that started a run goes away is the request's ``on_disconnect``:
  ``cancel`` (the default) cancels the run, and what it had not committed rolls back, as before runs existed;
  ``continue`` lets it finish for whoever rejoins.
- **Cancelling.** :meth:`Runs.cancel` cancels a run of this process at once; for a run of another process it sets
  the run's cancel flag, which the running process reads every ``poll_s`` seconds.
- **Writing.** Events are written to the run log in batches by one writer per run (so a token stream costs a few
  writes a second, not one per token), and the record is ended only after the last batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from harmonix.documents import error_document, event_document, http_status
from harmonix.errors import HarmonixError
from harmonix.field.runs import RunEvent, RunLog, RunRecord
from harmonix.meta import BreathEvent, BreathListener

log = logging.getLogger(__name__)
POLL_S = 0.2
FLUSH_S = 0.05
HEARTBEAT_S = 5.0
FRESH_S = 30.0
KEEP_S = 3600.0

Breath = Callable[[BreathListener], Awaitable[tuple[dict[str, Any], dict[str, Any]]]]
"""A run's work: the breath, its events told to the listener; returns the ``done`` event's data and the breath's
document (the run's result)."""


@dataclass
class LiveRun:
    """A run of this process: its record, its events so far, its task, and who waits for news of it."""

    record: RunRecord
    cascade: bool
    events: list[RunEvent] = field(default_factory=list)
    unwritten: list[RunEvent] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    status: str = "running"
    result: dict[str, Any] | None = None
    task: asyncio.Task[None] | None = None
    undo: Callable[[], Awaitable[object]] | None = None
    """Removes what the breath committed; called when the run is cancelled to make way for another
    (:meth:`Runs.cancel` with ``undo``)."""
    undoing: bool = False

    def add(self, name: str, data: dict[str, Any]) -> RunEvent:
        event = RunEvent(len(self.events) + 1, name, data)
        self.events.append(event)
        self.unwritten.append(event)
        self.wake()
        return event

    def wake(self) -> None:
        """Wake every follower waiting for news."""
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def news(self, seen: int) -> None:
        """Until the run holds more than ``seen`` events or has ended."""
        if len(self.events) > seen or self.ended.is_set():
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        await waiter


class Runs:
    """This process's runs over the store's run log (module docstring). ``async with Runs.open(log) as runs``."""

    def __init__(self, runlog: RunLog, *, poll_s: float = POLL_S, keep_s: float = KEEP_S,
                 grace_s: float = 0.0) -> None:
        self._log = runlog
        self._poll_s = poll_s
        self._keep_s = keep_s
        self._grace_s = grace_s
        self._live: dict[str, LiveRun] = {}
        self._gates: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, runlog: RunLog, *, poll_s: float = POLL_S, keep_s: float = KEEP_S,
                   grace_s: float = 0.0) -> AsyncIterator[Runs]:
        """The runs for the block; when it ends (the server stops), runs still going get ``grace_s`` seconds to
        finish (a breath left running or started in the background has no request the server waits for), then the
        rest are cancelled."""
        runs = cls(runlog, poll_s=poll_s, keep_s=keep_s, grace_s=grace_s)
        pruner = asyncio.create_task(runs._prune(), name="harmonix-prune-runs")
        try:
            yield runs
        finally:
            pruner.cancel()
            going = [run.task for run in runs._live.values() if run.task is not None and not run.task.done()]
            if going and grace_s > 0:
                await asyncio.wait(going, timeout=grace_s)
            await runs.cancel_all()
            await asyncio.gather(pruner, return_exceptions=True)

    def live_in(self, colony: str) -> list[LiveRun]:
        """This process's runs of ``colony`` that have not ended, oldest first."""
        return [run for run in self._live.values() if run.record.colony == colony and not run.ended.is_set()]

    async def start(self, *, colony: str, kind: str, owner: str | None, request: dict[str, Any], breath: Breath,
                    release: Callable[[], Awaitable[None]],
                    undo: Callable[[], Awaitable[object]] | None = None) -> LiveRun:
        """Start ``breath`` as a run (module docstring); ``release`` runs once its task has ended, whatever ended it
        (the breath's place in admission and its colony); ``undo`` removes what it committed, for a cancel that asks
        for it."""
        record = RunRecord(id=f"run_{secrets.token_hex(12)}", colony=colony, kind=kind, owner=owner,
                           status="running", created=time.time(), ended=None, request=request, result=None,
                           cancel_requested=False, events=0)
        try:
            await self._log.start(record)
        except BaseException:
            await release()
            raise
        run = LiveRun(record, cascade=kind == "cascade", undo=undo)
        run.add("run", {"run": record.id, "colony": colony, "kind": kind})
        self._live[record.id] = run
        run.task = asyncio.create_task(self._drive(run, breath, release), name=f"harmonix-{record.id}")
        return run

    async def _drive(self, run: LiveRun, breath: Breath, release: Callable[[], Awaitable[None]]) -> None:
        """Run the breath, write its events as they come, watch the cancel flag, end the record."""
        writer = asyncio.create_task(self._write(run), name=f"harmonix-{run.record.id}-writer")
        watcher = asyncio.create_task(self._watch_cancel(run), name=f"harmonix-{run.record.id}-watcher")

        def hear(event: BreathEvent) -> None:
            run.add(*event_document(event, cascade=run.cascade))

        try:
            done, document = await breath(hear)
        except asyncio.CancelledError:
            undone = run.undoing and run.undo is not None
            if undone:
                assert run.undo is not None
                await asyncio.shield(run.undo())
            run.status, run.result = "cancelled", {"error": {"type": "Cancelled", "message": (
                "the run was cancelled to make way for another; everything it had written was removed" if undone else
                "the run was cancelled; what it had not committed was rolled back")}}
            run.add("error", {**run.result, "status": 499})
        except Exception as error:
            failed = error_document(error) if isinstance(error, HarmonixError) else {
                "error": {"type": "InternalError", "message": f"internal error ({type(error).__name__}; see the "
                                                              "server's log)"}}
            if not isinstance(error, HarmonixError):
                log.error("run %s failed", run.record.id, exc_info=error)
            run.status, run.result = "failed", failed
            run.add("error", {**failed, "status": http_status(error)})
        else:
            run.status, run.result = "done", document
            run.add("done", done)
        finally:
            watcher.cancel()
            try:
                await release()
            finally:
                run.ended.set()
                run.wake()
                await asyncio.gather(writer, watcher, return_exceptions=True)
                await asyncio.shield(self._log.end(run.record.id, run.status, run.result, time.time()))
                self._live.pop(run.record.id, None)  # its followers hold it; anyone else reads the run log

    async def _write(self, run: LiveRun) -> None:
        """Write the run's events in batches until it has ended and every event is written."""
        while True:
            ended = run.ended.is_set()
            if run.unwritten:
                batch, run.unwritten = run.unwritten, []
                await asyncio.shield(self._log.append(run.record.id, batch))
            if ended:
                return
            await asyncio.sleep(FLUSH_S)

    async def _watch_cancel(self, run: LiveRun) -> None:
        """Cancel the run when another process asks for it (the run log's flag), and tell the run log every
        ``HEARTBEAT_S`` that the run is alive (so a run whose process died stops counting as running)."""
        heard = time.monotonic()
        while True:
            await asyncio.sleep(self._poll_s)
            if (await self._log.get(run.record.id)).cancel_requested and run.task is not None:
                run.task.cancel()
                return
            if time.monotonic() - heard >= HEARTBEAT_S:
                await self._log.append(run.record.id, [])
                heard = time.monotonic()

    async def running_in(self, colony: str) -> list[str]:
        """The ids of the colony's runs in progress: this process's, then those other processes on the store are
        running (heard from within ``FRESH_S``), oldest first."""
        here = [run.record.id for run in self.live_in(colony)]
        elsewhere = [record.id for record in await self._log.running(colony, FRESH_S) if record.id not in here]
        return here + elsewhere

    def gate(self, colony: str) -> asyncio.Lock:
        """The lock that makes "is the colony breathing? then start" one step for the requests of this process
        (kept only while someone holds it, so idle colonies cost nothing)."""
        gate = self._gates.get(colony)
        if gate is None:
            gate = self._gates[colony] = asyncio.Lock()
        return gate

    async def cancel(self, run_id: str, *, undo: bool = False) -> RunRecord:
        """Cancel the run (module docstring); its record as it stands. With ``undo`` a run of this process also
        loses what it had committed (a breath that is interrupted leaves nothing)."""
        record = await self._log.get(run_id)
        live = self._live.get(run_id)
        if live is not None and live.task is not None:
            live.undoing = undo
            live.task.cancel()
            await asyncio.gather(live.task, return_exceptions=True)
        elif not record.finished:
            await self._log.request_cancel(run_id)
        return await self.record(run_id)

    async def record(self, run_id: str) -> RunRecord:
        """The run as it stands; a live run's status and events as this process knows them."""
        record = await self._log.get(run_id)
        live = self._live.get(run_id)
        if live is None:
            return record
        return RunRecord(id=record.id, colony=record.colony, kind=record.kind, owner=record.owner,
                         status=live.status if live.ended.is_set() else "running", created=record.created,
                         ended=record.ended, request=record.request, result=live.result,
                         cancel_requested=record.cancel_requested, events=len(live.events))

    async def follow(self, run_id: str, after: int = 0) -> AsyncIterator[RunEvent]:
        """The run's events numbered above ``after``, then the new ones as they happen, until it has ended."""
        live = self._live.get(run_id)
        if live is not None:
            while True:
                while after < len(live.events):
                    event = live.events[after]
                    after = event.seq
                    yield event
                if live.ended.is_set():
                    return
                await live.news(after)
        while True:
            finished = (await self._log.get(run_id)).finished
            for event in await self._log.events(run_id, after):
                after = event.seq
                yield event
            if finished:
                remaining = await self._log.events(run_id, after)
                for event in remaining:
                    yield event
                return
            await asyncio.sleep(self._poll_s)

    async def cancel_all(self) -> None:
        """Cancel every run of this process and wait for them (the server is stopping)."""
        tasks = [run.task for run in self._live.values() if run.task is not None and not run.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _prune(self) -> None:
        """Forget ended runs older than ``keep_s`` from the run log (every few minutes)."""
        while True:
            await asyncio.sleep(min(300.0, self._keep_s / 2))
            try:
                await self._log.prune(time.time() - self._keep_s)
            except HarmonixError as error:  # the store is away for a while: prune next time
                log.warning("could not prune old runs: %s", error)
