"""``harmonix bench crash``: a server killed with SIGKILL at random moments under load, restarted each time.
Is every breath a client saw finish still there, is every field whole, and is nothing left locked?

A real ``harmonix serve`` runs in a subprocess with a home of its own; ``clients`` clients in this process breathe
through it (streamed), client ``k`` on colony ``k mod colonies``, the standard prompts. ``--io`` puts Prose and Artist
on a loopback server that answers after a delay (:mod:`harmonix.lab.bench.delay_server`).

**A random moment, without sleeping.** Each round draws ``n`` uniformly from ``1..max_events`` and kills the server
the moment the clients have received their ``n``-th event of that round (any event: a stage, a token, artist, meta,
done), so kills land after a stage committed, in the middle of an LLM answer, between the hub's record and the
``done`` that announces it, while other breaths are anywhere in their own work. Then the server is started again on
the same home and the next round begins; a round whose clients finish no event before ``max_events`` is impossible
(they breathe until the kill).

**After each kill**, with no server running:

- *acknowledged*: every cascade whose ``done`` a client received (its colony, its id, its prompt) must be in the
  colony's history, with the same prompt: ``lost`` counts those that are not;
- *whole*: every field of every colony passes the audit (counts recomputed, SQLite's ``integrity_check`` and
  ``foreign_key_check``) and each organism's turns follow one another (:mod:`harmonix.lab.bench.integrity`);
- *unlocked*: a write transaction can begin on every field within ``UNLOCKED_S`` (a lock a dead process kept would
  make it wait; SQLite's locks die with their process, and so must every store's).

Figures: ``kills``, ``acknowledged``, ``lost`` (target 0), ``audit_errors`` and ``interleaved_turns`` (0),
``locked`` (fields found locked, 0), ``server_errors`` (5xx answers before a kill, 0), ``interrupted`` (breaths cut
by a kill: expected, and rolled back), ``restart_s`` (median seconds from start to ready).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from harmonix.config import Config
from harmonix.errors import FieldBusy
from harmonix.field import Field, Store, open_store, sqlite_url
from harmonix.field.steps import Begin, Rollback
from harmonix.lab.bench.integrity import violations_in
from harmonix.lab.bench.serve import server_args
from harmonix.lab.prompts import standard_prompts
from harmonix.organisms.base import HUB
from harmonix.progress import NO_PROGRESS, Progress
from harmonix.server.process import ServerProcess

UNLOCKED_S = 1.0
STREAM = {"accept": "text/event-stream"}


@dataclass(frozen=True, slots=True)
class Ack:
    """A cascade whose ``done`` a client received."""

    colony: str
    cascade: int
    prompt: str


@dataclass(frozen=True, slots=True)
class CrashBench:
    kills: int
    clients: int
    colonies: int
    io: bool
    acknowledged: int
    lost: int
    audit_errors: int
    interleaved_turns: int
    locked: int
    server_errors: int
    interrupted: int
    restart_s: float
    problems: list[str]


@dataclass
class Round:
    """One round's clients: events received so far, and the event that triggers the kill."""

    kill_at: int
    events: int = 0
    killed: asyncio.Event = field(default_factory=asyncio.Event)
    acks: list[Ack] = field(default_factory=list)
    server_errors: int = 0
    interrupted: int = 0

    def heard(self) -> None:
        self.events += 1
        if self.events >= self.kill_at:
            self.killed.set()


async def breathe(client: httpx.AsyncClient, url: str, colony: str, prompt: str, seed: int, round_: Round) -> None:
    """One streamed cascade; its ``done`` becomes an :class:`Ack`. A stream the kill cuts counts as interrupted."""
    try:
        async with aconnect_sse(client, "POST", f"{url}/v1/colonies/{colony}/cascades", headers=STREAM,
                                json={"prompt": prompt, "seed": seed}) as source:
            if source.response.status_code >= 500:
                round_.server_errors += 1
                return
            async for event in source.aiter_sse():
                if not event.data:
                    continue
                if event.event == "done":
                    round_.acks.append(Ack(colony, json.loads(event.data)["cascade"], prompt))
                elif event.event == "error" and json.loads(event.data).get("status", 500) >= 500:
                    round_.server_errors += 1
                round_.heard()
    except httpx.HTTPError:
        round_.interrupted += 1


async def history_of(store: Store, colony: str) -> dict[int, str | None]:
    """Cascade id -> prompt, for every cascade the colony's hub field holds."""
    async with Field.open(store, HUB, colony=colony, create=False, retention=None) as hub:
        dump = await hub.dump()
    prompts = {row[0]: row[2] for row in dump.disturbances}
    return {turn[0]: None if turn[2] is None else prompts.get(turn[2]) for turn in dump.turns}


async def locked_fields(url: str) -> list[str]:
    """Fields on which a write transaction cannot begin within ``UNLOCKED_S``."""
    locked = []
    async with open_store(url, lock_timeout_s=UNLOCKED_S) as store:
        for info in await store.colonies():
            for name in await store.field_names(info.name):
                try:
                    field_store = await store.open_field(info.name, name, create=False)
                except FieldBusy:  # opening a field writes too (its schema check), so a held lock can stop it here
                    locked.append(f"{info.name}/{name}")
                    continue
                try:
                    await field_store.run([Begin(write=True), Rollback()])
                except FieldBusy:
                    locked.append(f"{info.name}/{name}")
                finally:
                    await field_store.close()
    return locked


class Crasher:
    """The rounds of one run (module docstring)."""

    def __init__(self, home: Path, args: list[str], colonies: list[str], clients: int, max_events: int,
                 seed: int) -> None:
        self._home, self._args, self._colonies, self._clients = home, args, colonies, clients
        self._max_events = max_events
        self._rng = random.Random(seed)
        self._prompts = standard_prompts()
        self._sent = 0
        self.acks: list[Ack] = []
        self.restarts: list[float] = []
        self.server_errors = 0
        self.interrupted = 0

    async def start(self) -> ServerProcess:
        started = time.perf_counter()
        server = ServerProcess(self._home, self._args)
        await asyncio.to_thread(server.wait, server.ready, "ready")
        self.restarts.append(time.perf_counter() - started)
        return server

    async def round(self, client: httpx.AsyncClient) -> None:
        """Start the server, breathe until the drawn event, SIGKILL it."""
        server = await self.start()
        round_ = Round(kill_at=self._rng.randint(1, self._max_events))

        async def one_client(k: int) -> None:
            colony = self._colonies[k % len(self._colonies)]
            while not round_.killed.is_set():
                i = self._sent
                self._sent += 1
                await breathe(client, server.url, colony, self._prompts[i % len(self._prompts)], i, round_)

        clients = [asyncio.create_task(one_client(k)) for k in range(self._clients)]
        try:
            await round_.killed.wait()
            server.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(server.process.wait, 60)
            await asyncio.gather(*clients)
        finally:
            for task in clients:
                task.cancel()
            await asyncio.gather(*clients, return_exceptions=True)
            await asyncio.to_thread(server.stop, signal.SIGKILL)
        self.acks += round_.acks
        self.server_errors += round_.server_errors
        self.interrupted += round_.interrupted


@dataclass(frozen=True, slots=True)
class Checked:
    """What one check after a kill found."""

    lost: list[Ack]
    audit_errors: int
    interleaved_turns: int
    locked: list[str]
    problems: list[str]


async def check(url: str, acks: list[Ack]) -> Checked:
    """Every acknowledged cascade in its colony's history with its prompt, every field whole, none locked."""
    async with open_store(url) as store:
        histories = {colony: await history_of(store, colony) for colony in {ack.colony for ack in acks}}
    lost = [ack for ack in acks if histories[ack.colony].get(ack.cascade, "") != ack.prompt]
    found = await violations_in(url)
    locked = await locked_fields(url)
    problems = [f"lost: cascade {ack.cascade} of {ack.colony} ({ack.prompt!r}) was acknowledged" for ack in lost]
    return Checked(lost=lost, audit_errors=found.audit, interleaved_turns=found.interleaved, locked=locked,
                   problems=problems + list(found.found) + [f"locked: {name}" for name in locked])


async def _run(config: Config, kills: int, clients: int, colonies: int, io: bool, io_delay_s: float,
               max_events: int, seed: int, progress: Progress) -> CrashBench:
    from harmonix.lab.bench.delay_server import delayed_server_thread

    names = [f"crash-{k}" for k in range(colonies)]
    problems: list[str] = []
    lost: set[Ack] = set()
    audit_errors = interleaved = locked = 0
    with contextlib.ExitStack() as stack:
        if io:
            config = Config.load(config.home, llm_url=stack.enter_context(delayed_server_thread(io_delay_s)))
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="harmonix-bench-crash-"))) / "home"
        url = sqlite_url(home)
        async with open_store(url) as store:
            for name in names:
                await store.create_colony(name)
        crasher = Crasher(home, server_args(config), names, clients, max_events, seed)
        async with httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10)) as client:
            with progress.task("bench crash", kills) as task:
                for kill in range(kills):
                    await crasher.round(client)
                    checked = await check(url, crasher.acks)
                    problems += [f"after kill {kill + 1}: {problem}" for problem in checked.problems]
                    lost.update(checked.lost)
                    audit_errors += checked.audit_errors
                    interleaved += checked.interleaved_turns
                    locked += len(checked.locked)
                    task.advance(figure=f"{len(crasher.acks)} acknowledged")
    return CrashBench(kills=kills, clients=clients, colonies=colonies, io=io, acknowledged=len(crasher.acks),
                      lost=len(lost), audit_errors=audit_errors, interleaved_turns=interleaved, locked=locked,
                      server_errors=crasher.server_errors, interrupted=crasher.interrupted,
                      restart_s=statistics.median(crasher.restarts), problems=problems[:20])


def run_crash_bench(config: Config, kills: int = 20, clients: int = 4, colonies: int = 2, io: bool = False,
                    io_delay_s: float = 0.5, max_events: int = 1500, seed: int = 16,
                    progress: Progress = NO_PROGRESS) -> CrashBench:
    """The benchmark of the module docstring, with the LLM settings of ``config`` unless ``io``."""
    return asyncio.run(_run(config, kills, clients, colonies, io, io_delay_s, max_events, seed, progress))
