"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from harmonix.colony import Harmonix
from harmonix.config import Config
from harmonix.field import Field, FieldAudit, Store, audit_field, ensure_colony, open_store

DEFAULT = "default"


async def fingerprint(store: Store, name: str, colony: str = DEFAULT) -> str:
    """A hash of every row of a field (read in one transaction): equal fingerprints mean an unchanged field."""
    async with Field.open(store, name, colony=colony, create=False) as field:
        dump = await field.dump()
    return hashlib.sha256(json.dumps(dump.rows(), sort_keys=True).encode()).hexdigest()


async def fingerprints(store: Store, names: tuple[str, ...], colony: str = DEFAULT) -> dict[str, str]:
    return {name: await fingerprint(store, name, colony) for name in names}


async def audit(store: Store, name: str, colony: str = DEFAULT) -> FieldAudit:
    return await audit_field(store, colony, name)


class Stall:
    """Holds every call of ``module.name`` (a function run off the event loop) until :meth:`release`, so a test can
    cancel a turn while the turn is inside it: ``await stall.cancel_inside(coroutine)``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
        self._entered, self._released = threading.Event(), threading.Event()
        self._monkeypatch, self._module, self._name = monkeypatch, module, name
        self._real: Callable[..., Any] = getattr(module, name)

        def stalled(*args: Any, **kwargs: Any) -> Any:
            self._entered.set()
            self._released.wait(30)
            return self._real(*args, **kwargs)

        monkeypatch.setattr(module, name, stalled)

    async def entered(self) -> None:
        """Wait until a call is inside the stalled function (the readiness signal, not a sleep)."""
        if not await asyncio.to_thread(self._entered.wait, 30):
            raise TimeoutError(f"nothing called {self._name} within 30 s")

    async def cancel_inside(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` as a task, cancel it once it is inside the stalled call, and see the cancellation."""
        task = asyncio.create_task(coroutine)
        await self.entered()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    def release(self) -> None:
        """Let the held call finish, and put the real function back."""
        self._released.set()
        self._monkeypatch.setattr(self._module, self._name, self._real)


@contextlib.asynccontextmanager
async def opened(config: Config, cls: Any, **options: Any) -> AsyncIterator[tuple[Any, Store]]:
    """An organism of class ``cls`` on its field of the configured colony, alone in this process (as
    ``harmonix haiku`` runs it), and the store that holds the field. ``options`` go to ``cls.build``."""
    async with Harmonix.open(config, cascades=False) as harmonix:
        await ensure_colony(harmonix.store, config.colony)
        async with Field.open(harmonix.store, cls.name, colony=config.colony) as field:
            yield await cls.build(field, harmonix.engines, config, **options), harmonix.store


async def audit_in(config: Config, name: str) -> FieldAudit:
    """The audit of field ``name`` of the configured colony, through a store of its own."""
    async with open_store(config.store_url) as store:
        return await audit_field(store, config.colony, name)


async def fingerprint_in(config: Config, name: str) -> str:
    async with open_store(config.store_url) as store:
        return await fingerprint(store, name, config.colony)
