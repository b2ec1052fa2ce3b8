"""Test doubles behind the organism protocol, with real fields: for the hub's guarantees without the models."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from harmonix.colony import Harmonix
from harmonix.config import Config
from harmonix.field import Field, RowLedger, Store, ensure_colony
from harmonix.meta import ARTIST, MetaHarmonix
from harmonix.organisms.base import FIELDS, HUB, Stimulus
from harmonix.organisms.haiku import Haiku


@dataclass(frozen=True)
class DoubleReply:
    text: str
    dissonance: float

    def details(self) -> dict[str, Any]:
        return {}


class Double:
    """A test double behind the organism protocol: a real field and a real turn, a scripted answer, an optional
    pause while "generating", or a stall that never ends."""

    def __init__(self, name: str, field: Field, *, pause_s: float = 0.0, stall: bool = False) -> None:
        self.name, self._field, self.pause_s, self.stall = name, field, pause_s, stall
        self.stalled = asyncio.Event()
        """Set once a turn has begun to stall (inside its transaction): the readiness signal tests wait for."""

    @property
    def field(self) -> Field:
        return self._field

    async def respond(self, stimulus: Stimulus) -> DoubleReply:
        async with self._field.turn(stimulus.ledger) as turn:
            await turn.wrinkle(stimulus.prompt)
            await turn.snapshot(random.Random(stimulus.seed))
            if self.stall:
                self.stalled.set()
                await asyncio.Event().wait()
            await asyncio.sleep(self.pause_s)
            heard = " and ".join(sorted(stimulus.voices)) or "nothing yet"
            text = f"The {self.name} answers with seed {stimulus.seed % 97} after hearing {heard}."
            await turn.ingest(text)
            await turn.record(dissonance=0.5)
        return DoubleReply(text, 0.5)

    async def hear(self, text: str, source: str, ledger: RowLedger | None = None) -> None:
        await self._field.ingest(text, source=source, ledger=ledger)


@contextlib.asynccontextmanager
async def hub_with_doubles(config: Config, *, stalled: str | None = None, pause_s: float = 0.01,
                           timeout_s: float = 60) -> AsyncIterator[tuple[MetaHarmonix, Store]]:
    """Real HAiKU, doubles for the others (a real field each), and the store that holds them."""
    async with Harmonix.open(config) as harmonix, contextlib.AsyncExitStack() as stack:
        await ensure_colony(harmonix.store, config.colony)
        fields = {name: await stack.enter_async_context(Field.open(harmonix.store, name)) for name in FIELDS}
        organisms: dict[str, Any] = {"haiku": await Haiku.build(fields["haiku"], harmonix.engines, config)}
        for name in ("sonnet", "prose", ARTIST):
            organisms[name] = Double(name, fields[name], pause_s=pause_s, stall=name == stalled)
        yield MetaHarmonix(organisms, fields[HUB], timeout_s=timeout_s), harmonix.store


