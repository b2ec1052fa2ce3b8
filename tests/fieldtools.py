"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest


def fingerprint(path: Path) -> str:
    """A hash of everything in a database file: equal fingerprints mean an unchanged field."""
    conn = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


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

    async def cancel_inside(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` as a task, cancel it once it is inside the stalled call, and see the cancellation."""
        task = asyncio.create_task(coroutine)
        await asyncio.to_thread(self._entered.wait, 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    def release(self) -> None:
        """Let the held call finish, and put the real function back."""
        self._released.set()
        self._monkeypatch.setattr(self._module, self._name, self._real)
