"""A client of ``harmonix serve``: what ``harmonix ask --server`` and ``harmonix chat --server`` speak.

It asks for a breath with ``Accept: text/event-stream`` and hands each event to its caller as it arrives (so a
terminal can draw each organism's panel the moment it finishes), then returns the whole cascade document, the same
shape ``harmonix ask --json`` prints locally. The server's errors come back as the same error classes
(:mod:`harmonix.errors`) a local run raises, so the command line gives them the same exit status.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from harmonix import errors
from harmonix.errors import HarmonixError, ServerUnreachable, ServiceBusy
from harmonix.organisms.base import SYNTHESIS

EventHandler = Callable[[str, dict[str, Any]], None]
CONNECT_TIMEOUT_S = 10.0


def error_from(document: Any, status: int) -> HarmonixError:
    """The error a server's error document names, as its class (a plain :class:`HarmonixError` when unknown)."""
    body = document.get("error", {}) if isinstance(document, dict) else {}
    name, message = str(body.get("type", "")), str(body.get("message", f"HTTP {status}"))
    cls = getattr(errors, name, None)
    if cls is ServiceBusy:
        return ServiceBusy(message, 1.0)
    if isinstance(cls, type) and issubclass(cls, HarmonixError) and cls.__init__ is Exception.__init__:
        return cls(message)
    return HarmonixError(f"{name or 'error'} (HTTP {status}): {message}")


class RemoteColony:
    """One colony on a server. Open with ``async with RemoteColony.open(url, key, colony) as colony:``; the colony
    is created on the server if it has none of that name yet."""

    def __init__(self, client: httpx.AsyncClient, name: str) -> None:
        self._client, self.name = client, name

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, api_key: str | None, name: str) -> AsyncIterator[RemoteColony]:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(None, connect=CONNECT_TIMEOUT_S)
        async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout) as client:
            colony = cls(client, name)
            try:
                await colony._ensure()
            except httpx.TransportError as error:
                raise ServerUnreachable(f"the Harmonix server {url} does not answer: {type(error).__name__}") from None
            yield colony

    async def _ensure(self) -> None:
        found = await self._client.get(f"/v1/colonies/{self.name}")
        if found.status_code == 404:
            created = await self._client.post("/v1/colonies", json={"name": self.name})
            if created.status_code not in (201, 409):
                raise error_from(_json(created), created.status_code)
        elif found.status_code != 200:
            raise error_from(_json(found), found.status_code)

    async def cascade(self, prompt: str, *, seed: int | None = None,
                      on_event: EventHandler | None = None) -> dict[str, Any]:
        """One breath; each event goes to ``on_event`` as it arrives; returns the cascade document."""
        body: dict[str, Any] = {"prompt": prompt} | ({"seed": seed} if seed is not None else {})
        try:
            return await self._breathe(body, on_event)
        except httpx.TransportError as error:
            raise ServerUnreachable(f"the Harmonix server went away during the breath: {type(error).__name__}") \
                from None

    async def _breathe(self, body: dict[str, Any], on_event: EventHandler | None) -> dict[str, Any]:
        document: dict[str, Any] = {"prompt": body["prompt"], "seed": body.get("seed")}
        async with aconnect_sse(self._client, "POST", f"/v1/colonies/{self.name}/cascades", json=body) as source:
            response = source.response
            if response.status_code != 200:
                await response.aread()
                raise error_from(_json(response), response.status_code)
            async for event in source.aiter_sse():
                if not event.data:  # a keep-alive comment after an event: httpx-sse hands it over as an empty event
                    continue
                data = json.loads(event.data)
                if on_event is not None:
                    on_event(event.event, data)
                if event.event in ("stage", "artist"):
                    document[data["organism"] if event.event == "stage" else SYNTHESIS] = data
                elif event.event == "meta":
                    document["meta"] = {key: value for key, value in data.items() if key != "cascade"}
                elif event.event == "done":
                    document |= {"seed": data["seed"], "timings": data["timings"], "cascade": data["cascade"]}
                    return document
                elif event.event == "error":
                    raise error_from(data, int(data.get("status", 500)))
        raise HarmonixError("the server ended the stream before the breath was done")

    async def stats(self) -> list[dict[str, Any]]:
        """Every field's stats document."""
        response = await self._client.get(f"/v1/colonies/{self.name}")
        if response.status_code != 200:
            raise error_from(_json(response), response.status_code)
        return list(response.json().get("fields", {}).values())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}
