"""What a process loads once and every colony shares: the LLM engines, Sonnet's weights, HAiKU's bootstrap.

A colony owns only its fields; the heavy parts are per process. :class:`SharedEngines` hands each one out, loading it
the first time it is asked for (under a lock, so two colonies opening at once never load the same model twice) and
releasing everything when its ``async with`` block ends. It knows nothing of organisms: each organism asks for what
it needs by key (:meth:`SharedEngines.once`), or for the LLM of its role (:meth:`SharedEngines.llm`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from typing import Any

from harmonix.config import LLMChoice
from harmonix.engines.llm import EnginePool, LLMEngine

log = logging.getLogger(__name__)


class SharedEngines:
    """Engines shared by every colony of the process. ``async with SharedEngines.open(llms) as engines:``, where
    ``llms`` maps a role ("prose", "artist") to its :class:`~harmonix.config.LLMChoice`. Two roles with the
    same model (or server) get one engine."""

    def __init__(self, pool: EnginePool, llms: Mapping[str, LLMChoice]) -> None:
        self._pool = pool
        self._llms = dict(llms)
        self._loaded: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, llms: Mapping[str, LLMChoice]) -> AsyncIterator[SharedEngines]:
        async with EnginePool.open() as pool:
            yield cls(pool, llms)

    async def once(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """The value loaded under ``key``, calling ``load`` the first time only. A load that fails is not kept:
        the next caller tries again."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._loaded:
                self._loaded[key] = await load()
                log.debug("loaded %s", key)
            return self._loaded[key]

    async def llm(self, role: str) -> LLMEngine:
        """The shared LLM engine of ``role`` (one engine per model file or server, whatever the role)."""
        if role not in self._llms:
            raise KeyError(f"no LLM configured for {role!r}; configured: {sorted(self._llms)}")
        return await self._pool.engine(self._llms[role])

    def llm_choice(self, role: str) -> LLMChoice:
        return self._llms[role]
