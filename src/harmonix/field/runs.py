"""Runs: every breath a server runs, named and kept with its events where its colony lives, so that a client can ask
how it went, cancel it, or rejoin its stream through any server process that shares the store.

A *run* is one breath (a cascade, or one organism's turn) of one colony. Its record says what it is (``kind``, the
request), who asked (``owner``), how it stands (``status``: ``running``, then ``done``, ``failed`` or
``cancelled``), when it began and ended, the result document once it has one, and whether someone asked for it to
be cancelled. Its *events* are the breath's stream as it was sent: numbered 1, 2, … in the order they happened
(the number is the event's SSE id), each a name and a JSON document.

**Who writes.** Only the process that runs a breath writes its record and events, in order; it numbers the events
itself, so appending is one insert of a batch. Any process reads them. Cancelling is a flag any process may set and
the running process watches (:meth:`RunLog.request_cancel`).

**For how long.** Runs are kept for a bounded time after they end (:meth:`RunLog.prune`, called by the server), and
go with their colony when it is removed.

The two backends keep runs beside their colonies: the SQLite home in one file, ``HOME/runs.db``; PostgreSQL in the
``runs`` and ``run_events`` tables of its schema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

RUNNING = "running"
ENDED = ("done", "failed", "cancelled")
RUN_STATUSES = (RUNNING, *ENDED)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as its store keeps it (module docstring). ``request`` is what was asked (prompt, seed, organism, the
    client's options); ``result`` the done document or the error document once it ended."""

    id: str
    colony: str
    kind: str
    owner: str | None
    status: str
    created: float
    ended: float | None
    request: dict[str, Any]
    result: dict[str, Any] | None
    cancel_requested: bool
    events: int

    @property
    def finished(self) -> bool:
        return self.status in ENDED


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One event of a run's stream: its number (the SSE id), its name and its data."""

    seq: int
    name: str
    data: dict[str, Any]

    def encoded(self) -> tuple[int, str, str]:
        return self.seq, self.name, json.dumps(self.data, ensure_ascii=False, allow_nan=False)


class RunLog(Protocol):
    """Where a store keeps its runs (module docstring)."""

    async def start(self, run: RunRecord) -> None:
        """Record a new run (its status ``running``)."""
        ...

    async def append(self, run_id: str, events: Sequence[RunEvent]) -> None:
        """Add events, numbered by the writer, after those already kept (none: the writer says it is alive)."""
        ...

    async def end(self, run_id: str, status: str, result: dict[str, Any] | None, ended: float) -> None:
        """Record how the run ended (``done``, ``failed`` or ``cancelled``) and its result document."""
        ...

    async def get(self, run_id: str) -> RunRecord:
        """The run, or :class:`~harmonix.errors.RunNotFound`."""
        ...

    async def events(self, run_id: str, after: int = 0, limit: int = 1000) -> list[RunEvent]:
        """Up to ``limit`` of the run's events numbered above ``after``, in order."""
        ...

    async def running(self, colony: str, fresh_within_s: float) -> list[RunRecord]:
        """The colony's runs still running whose writer was heard from (an append, even an empty one) within the last
        ``fresh_within_s`` seconds, oldest first: a run whose process died stops counting."""
        ...

    async def request_cancel(self, run_id: str) -> None:
        """Ask for the run to be cancelled (the process running it watches for this)."""
        ...

    async def prune(self, ended_before: float) -> int:
        """Forget the runs that ended before ``ended_before`` (a Unix time), with their events; how many went."""
        ...

    async def forget_colony(self, colony: str) -> None:
        """Forget every run of a colony that is being removed."""
        ...
