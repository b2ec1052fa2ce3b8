"""What every route of the server shares: the service and metrics of a request, the requesting owner, the error
shapes for the OpenAPI document, JSON's integers, and waiting for work unless the client goes away."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictInt
from starlette.types import Receive

from harmonix.errors import BreathInProgress, HarmonixError, ServiceBusy, Unauthorized
from harmonix.server.auth import ApiKeys
from harmonix.server.metrics import ServerMetrics
from harmonix.service import ColonyService

T = TypeVar("T")


def _whole_number(value: object) -> object:
    """``1484.0`` as ``1484``: any other value as it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


JsonInt = Annotated[StrictInt, BeforeValidator(_whole_number)]
"""An integer as JSON Schema defines one (documented as ``"type": "integer"``): a number with no fraction, so
``1484.0`` is taken as ``1484`` (schemathesis sends it, and so may any JSON encoder); ``1484.5``, ``"1484"`` and
``true`` are still refused."""


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    message: str


class ErrorDocument(BaseModel):
    model_config = ConfigDict(extra="allow")  # a failed turn adds its stage
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorDocument} for status in (401, 404, 413, 422, 429, 500, 503, 504)}


def error_headers(error: HarmonixError) -> dict[str, str]:
    """The headers an error's answer carries: ``Retry-After`` (whole seconds, at least 1) when the server is busy,
    ``WWW-Authenticate`` when a key is missing or unknown, ``X-Harmonix-Run`` naming the run in progress when a
    breath that asked to be refused meanwhile is."""
    if isinstance(error, ServiceBusy):
        return {"Retry-After": str(max(1, math.ceil(error.retry_after_s)))}
    if isinstance(error, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, BreathInProgress):
        return {"X-Harmonix-Run": error.run}
    return {}


def service_of(request: Request) -> ColonyService:
    service: ColonyService = request.app.state.service
    return service


def metrics_of(request: Request) -> ServerMetrics:
    metrics: ServerMetrics = request.app.state.metrics
    return metrics


def owner(request: Request, authorization: Annotated[str | None, Header()] = None) -> str | None:
    """The requesting owner (from the API key), or ``None`` on a server without keys."""
    keys: ApiKeys = request.app.state.settings.keys
    try:
        return keys.owner(authorization)
    except Unauthorized:
        metrics_of(request).rejections.labels("unauthorized").inc()
        raise


Owner = Annotated[str | None, Depends(owner)]


async def until_done_or_gone(request: Request, work: Awaitable[T]) -> T | None:
    """``work``'s result, or ``None`` when the client disconnected first (then ``work`` is cancelled and awaited:
    its uncommitted turns have rolled back when this returns)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request.receive))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        return None
    finally:
        for pending in (task, gone):
            if not pending.done():
                pending.cancel()
        await asyncio.gather(task, gone, return_exceptions=True)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
