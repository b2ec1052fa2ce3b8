"""One breath over HTTP, from admission to release: what the native routes and the OpenAI-compatible route both do
around a colony's cascade or turn, written once.

1. :meth:`AdmittedBreath.admit`: everything the breath needs before it starts (a valid prompt, loaded engines, a
   colony the requester may see, a place in admission, the colony open:
   :meth:`~harmonix.service.ColonyService.admitted`), before a byte of the answer is sent, so that a refusal is
   still a status (404, 422, 429, 503); a refusal for load is counted in the metrics;
2. :meth:`AdmittedBreath.run`: the work under the request's deadline (504 past it), heard by the metrics (each stage
   as it ends, and the request's outcome: ok, error, deadline or cancelled, and its seconds);
3. the answer, streamed by the route (its stream calls :meth:`AdmittedBreath.release` when it ends) or waited for
   by :meth:`AdmittedBreath.answer` while the client is still there (``None`` when it left: the work was cancelled
   and what it had not committed rolled back);
4. :meth:`AdmittedBreath.release`: what admission held, given back once, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from fastapi import Request

from harmonix.colony import Colony
from harmonix.documents import http_status
from harmonix.errors import HarmonixError, ServiceBusy
from harmonix.meta import BreathEvent, BreathListener, StageEvent
from harmonix.server.shared import metrics_of, service_of, until_done_or_gone

T = TypeVar("T")

Work = Callable[[Colony, BreathListener], Awaitable[T]]
"""A breath's work: a cascade or a turn of the admitted colony, its events told to the listener."""


class AdmittedBreath:
    """One admitted breath of one request (module docstring). Made by :meth:`admit`."""

    def __init__(self, request: Request, kind: str, colony: Colony,
                 admitted: contextlib.AbstractAsyncContextManager[Colony], started: float) -> None:
        self._request = request
        self.kind = kind
        self.colony = colony
        self._admitted: contextlib.AbstractAsyncContextManager[Colony] | None = admitted
        self._started = started

    @classmethod
    async def admit(cls, request: Request, kind: str, colony: str, owner: str | None, prompt: str,
                    organisms: Sequence[str]) -> AdmittedBreath:
        """Admit a breath of ``kind`` ("cascade" or "turn") on ``organisms`` of ``colony``, or raise the error that
        says why not (step 1)."""
        metrics = metrics_of(request)
        admitted = service_of(request).admitted(kind, colony, owner, prompt, organisms)
        started = time.monotonic()
        try:
            opened = await admitted.__aenter__()
        except ServiceBusy:
            metrics.rejections.labels("busy").inc()
            metrics.requests.labels(kind, "rejected").inc()
            raise
        return cls(request, kind, opened, admitted, started)

    async def run(self, work: Work[T], listener: BreathListener | None = None) -> T:
        """Do ``work`` under the deadline, the metrics hearing it (step 2); ``listener`` hears its events too."""
        metrics = metrics_of(self._request)

        def hear(event: BreathEvent) -> None:
            if isinstance(event, StageEvent):
                metrics.stage(event.stage)
            if listener is not None:
                listener(event)

        outcome = "error"
        try:
            async with service_of(self._request).deadline():
                result = await work(self.colony, hear)
            outcome = "ok"
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except HarmonixError as error:
            outcome = "deadline" if http_status(error) == 504 else "error"
            raise
        finally:
            metrics.requests.labels(self.kind, outcome).inc()
            metrics.request_seconds.labels(self.kind).observe(time.monotonic() - self._started)

    async def answer(self, work: Work[T]) -> T | None:
        """``work``'s result once it is done, or ``None`` when the client went away first; released either way."""
        try:
            return await until_done_or_gone(self._request, self.run(work))
        finally:
            await self.release()

    async def release(self) -> None:
        """Give back what admission held (step 4); a second call does nothing."""
        admitted, self._admitted = self._admitted, None
        if admitted is not None:
            await admitted.__aexit__(None, None, None)

