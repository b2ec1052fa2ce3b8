"""Streamed answers: Server-Sent Events from a breath as it happens, and the lifecycle every stream shares.

**A breath's events** (the native routes, :class:`RunStream`). First ``run`` (the run's id, colony and kind:
:mod:`harmonix.server.runs`); then, for a cascade, a ``stage`` event for each of HAiKU, Sonnet and Prose the moment
it finishes (in finishing order), ``token`` events while Prose and Artist write, ``settled`` events as a piece of
their text comes to stand (:class:`~harmonix.meta.SettledEvent`), ``artist`` when Artist has woven its
piece, ``meta`` after the exhale, then ``done`` with the timings and ids, or ``error`` (``{error: {type, message},
status}``) if the breath could not finish. One organism's turn streams its ``token`` and ``settled`` events, its
``stage`` and ``done``. Every event has an ``id``, its number in the run (1, 2, …), which a client that rejoins
sends back as ``Last-Event-ID``; a comment line (``: ping``) goes out whenever nothing else has for ``ping_s``
seconds (15 by default), so proxies keep the stream open.

**The lifecycle of a stream of work** (:class:`WorkStream`, the OpenAI route). The work (a breath) runs in a task of
its own and hands what it produces to the stream through a queue. If the client goes away, the stream is cancelled
and so is the work (its uncommitted turns roll back); either way the response waits for the work's task to end and
only then releases what the request held (its place in admission, its colony), so the server never counts a breath
as gone while it is still rolling back. A run (:class:`RunStream`) lives apart from its stream: the stream follows
it, and cancels it when its client goes away only if the request asked for that.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from harmonix.documents import error_document, http_status
from harmonix.errors import HarmonixError
from harmonix.field.runs import RunEvent
from harmonix.organisms.base import plain
from harmonix.server.runs import Runs

log = logging.getLogger(__name__)
PING_S = 15.0
PING = b": ping\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True, slots=True)
class Progress:
    """Something the work produced on its way (a breath's event)."""

    item: Any


@dataclass(frozen=True, slots=True)
class Finished:
    """The work's result."""

    result: Any


@dataclass(frozen=True, slots=True)
class Failed:
    """The work's error, as an error document and its HTTP status."""

    document: dict[str, Any]
    status: int


Outcome = Progress | Finished | Failed
Work = Callable[[Callable[[Any], None]], Awaitable[Any]]
"""Does the work, handing what it produces on its way to the callable it is given; returns its result."""


def failure(error: Exception) -> Failed:
    """A failed work's document: a Harmonix error as such, anything else as an internal error (logged here, with its
    traceback, and never shown to the client)."""
    if isinstance(error, HarmonixError):
        return Failed(error_document(error), http_status(error))
    log.error("a streamed request failed", exc_info=error)
    return Failed({"error": {"type": "InternalError",
                             "message": f"internal error ({type(error).__name__}; see the server's log)"}}, 500)


class WorkStream(StreamingResponse):
    """A response streamed while ``work`` runs (the lifecycle of the module docstring). ``render`` turns each
    outcome into bytes to send; the stream ends after the result or the error. ``release`` runs once the work's
    task has ended, however the response ended."""

    def __init__(self, work: Work, render: Callable[[Outcome], bytes], *, release: Callable[[], Awaitable[None]],
                 ping_s: float = PING_S, media_type: str = "text/event-stream") -> None:
        self._work, self._render, self._release, self._ping_s = work, render, release, ping_s
        self._queue: asyncio.Queue[Outcome] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        super().__init__(self._stream(), media_type=media_type, headers=HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            await self._release()

    async def _run(self) -> None:
        try:
            result = await self._work(lambda item: self._queue.put_nowait(Progress(item)))
        except Exception as error:  # reported to the client as an error event, not lost
            self._queue.put_nowait(failure(error))
        else:
            self._queue.put_nowait(Finished(result))

    async def _stream(self) -> AsyncIterator[bytes]:
        self._task = asyncio.create_task(self._run(), name="harmonix-streamed-work")
        while True:
            try:
                outcome = await asyncio.wait_for(self._queue.get(), self._ping_s)
            except TimeoutError:
                yield PING
                continue
            chunk = self._render(outcome)
            if chunk:
                yield chunk
            if not isinstance(outcome, Progress):
                return


class RunStream(StreamingResponse):
    """A run's events as Server-Sent Events (:mod:`harmonix.server.runs`): those numbered above ``after``, then the
    new ones as they happen, until the run has ended, with a ``: ping`` whenever nothing else went out for
    ``ping_s`` seconds. With ``cancel_on_disconnect`` a client that goes away before the end cancels the run (the
    default for the request that started it; a client that rejoins never cancels by leaving).
    ``on_first_stage`` is told how long the first ``stage`` event took from the stream's start."""

    def __init__(self, runs: Runs, run_id: str, *, after: int = 0, cancel_on_disconnect: bool,
                 ping_s: float = PING_S, headers: dict[str, str] | None = None,
                 on_first_stage: Callable[[float], None] | None = None) -> None:
        self._runs, self._run_id, self._after = runs, run_id, after
        self._cancel_on_disconnect, self._ping_s, self._on_first_stage = cancel_on_disconnect, ping_s, on_first_stage
        self._ended = False
        super().__init__(self._stream(), media_type="text/event-stream", headers={**HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._cancel_on_disconnect and not self._ended:
                await self._runs.cancel(self._run_id)

    async def _stream(self) -> AsyncIterator[bytes]:
        started = time.monotonic()
        events = self._runs.follow(self._run_id, self._after).__aiter__()
        upcoming: asyncio.Task[RunEvent] | None = None
        try:
            while True:
                upcoming = upcoming or asyncio.ensure_future(events.__anext__())
                done, _ = await asyncio.wait({upcoming}, timeout=self._ping_s)
                if not done:
                    yield PING
                    continue
                try:
                    event = upcoming.result()
                except StopAsyncIteration:
                    self._ended = True
                    return
                upcoming = None
                if event.name == "stage" and self._on_first_stage is not None:
                    self._on_first_stage(time.monotonic() - started)
                    self._on_first_stage = None
                yield sse(event.name, event.data, event.seq)
        finally:
            if upcoming is not None:
                upcoming.cancel()
                await asyncio.gather(upcoming, return_exceptions=True)


def sse(event: str, data: dict[str, Any], event_id: int) -> bytes:
    """One event in the text/event-stream format (the JSON is on one line: no newline can split it)."""
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(plain(data), ensure_ascii=False)}\n\n".encode()
