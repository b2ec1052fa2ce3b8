"""``harmonix bench soak``: a long run against a real server. Does anything grow that should not, and does every
field stay whole?

A real ``harmonix serve`` runs in a subprocess on a loopback port with a fresh home; ``clients`` clients in this
process breathe ``cascades`` cascades through it over HTTP with Server-Sent Events, client ``k`` on colony
``k mod colonies``, the standard prompts with seed ``i`` for cascade ``i``. ``--io`` puts Prose and Artist on a
loopback OpenAI-compatible server that answers after ``io_delay_s`` (:mod:`harmonix.lab.bench.delay_server`): the
server's own code, fields and streams are then what the run loads, not the LLM.

**Phases.** A warm-up of one window of cascades; every client then finishes its cascade and closes its
connection, and the *baseline* is read with the server idle. Then the remaining cascades, a *window* read each
``window`` cascades while the load goes on; then the clients finish and the *end* is read, idle again. Every reading
comes from the server's ``/metrics`` (resident memory, open file descriptors, asyncio tasks in its event loop) and
from ``GET /v1/colonies/{id}`` (each field's size).

**Figures** (targets in the README):

- ``rss_growth_ratio = rss[end] / rss[baseline]``;
- ``rss_slope_mb_per_cascade``: the least-squares slope of resident memory against cascades over the windows after
  the warm-up's, ``b = sum((c_i - c̄)(r_i - r̄)) / sum((c_i - c̄)^2)`` for window ``i`` read after ``c_i`` cascades
  at ``r_i`` MiB; and ``rss_slope_range``, the least and greatest slope between two successive windows,
  ``(r_{i+1} - r_i) / (c_{i+1} - c_i)``. A warm-up shows as successive slopes falling towards 0; a leak as all of
  them above 0 and alike. The ratio alone cannot tell them apart in a short run;
- ``fd_delta = fds[end] - fds[baseline]`` and ``task_delta = tasks[end] - tasks[baseline]``: both back to their
  baseline is 0;
- ``p50_drift_ratio``: the median latency (request sent to ``done`` received) of the last window over that of the
  first window after the warm-up (the warm-up's own window holds the cold start);
- ``server_errors``: answers with a 5xx status or an ``error`` event of one, and requests that got no answer;
- ``violations``: after the server stopped, audit problems plus organism turns that overlapped
  (:mod:`harmonix.lab.bench.integrity`);
- ``field_growth_per_cascade``: what each field gains per cascade of its colony in bytes, texts and distinct
  trigrams, from the end of the warm-up to the last window: ``(size[last] - size[warm-up])`` summed over the
  colonies, divided by the cascades in between (of all colonies).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from harmonix.config import Config
from harmonix.field import sqlite_url
from harmonix.lab.bench.integrity import violations_in
from harmonix.lab.bench.serve import Timed, running_server, streamed_cascade
from harmonix.lab.prompts import standard_prompts
from harmonix.progress import NO_PROGRESS, Progress, Tracker

LOST = 599
"""The status recorded for a request that got no answer at all (the connection failed or the stream ended)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """The server at one moment: resident memory (MiB), open file descriptors, asyncio tasks."""

    rss_mb: float
    open_fds: int
    tasks: int


@dataclass(frozen=True, slots=True)
class FieldSize:
    """One field's size: bytes (its file and write-ahead log), texts and distinct trigrams."""

    bytes: int
    texts: int
    trigram_types: int


@dataclass(frozen=True, slots=True)
class Window:
    """After ``cascades`` cascades: the server, the median latency of the window's cascades, each field's size
    (by ``"colony/field"``)."""

    cascades: int
    server: Reading
    p50_s: float
    fields: dict[str, FieldSize]


@dataclass(frozen=True, slots=True)
class SoakBench:
    cascades: int
    clients: int
    colonies: int
    window: int
    io: bool
    keep_turns: int
    baseline: Reading
    end: Reading
    windows: list[Window]
    rss_growth_ratio: float
    rss_slope_mb_per_cascade: float
    rss_slope_range: tuple[float, float]
    p50_drift_ratio: float
    fd_delta: int
    task_delta: int
    server_errors: int
    rejections: int
    violations: int
    audit_errors: int
    interleaved_turns: int
    field_growth_per_cascade: dict[str, dict[str, float]]


def metric(text: str, name: str) -> float:
    """One sample of a Prometheus exposition (``name value`` on a line of its own)."""
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    if match is None:
        raise RuntimeError(f"the server's /metrics has no {name}")
    return float(match.group(1))


class Soak:
    """The clients of one run and what they saw (module docstring)."""

    def __init__(self, url: str, colonies: list[str], clients: int, window: int, task: Tracker) -> None:
        self._url, self._colonies, self._clients = url, colonies, clients
        self._window, self._task = window, task
        self._prompts = standard_prompts()
        self.started = 0
        self.results: list[Timed] = []
        self.windows: list[Window] = []
        self._sampling: list[asyncio.Task[None]] = []

    async def reading(self, client: httpx.AsyncClient) -> Reading:
        """The server's memory, file descriptors and tasks, from its ``/metrics``."""
        text = (await client.get(f"{self._url}/metrics")).text
        return Reading(rss_mb=metric(text, "process_resident_memory_bytes") / 2**20,
                       open_fds=int(metric(text, "process_open_fds")),
                       tasks=int(metric(text, "harmonix_event_loop_tasks")))

    async def idle_reading(self) -> Reading:
        """A reading of the idle server, each request on a connection of its own: read again while the count of
        file descriptors still falls (the server closing the connections the clients just closed)."""
        previous = None
        while True:
            async with httpx.AsyncClient(timeout=httpx.Timeout(60)) as client:
                current = await self.reading(client)
            if previous is not None and current.open_fds >= previous.open_fds:
                return current
            previous = current

    async def field_sizes(self, client: httpx.AsyncClient) -> dict[str, FieldSize]:
        """Each field's size, by ``"colony/field"``."""
        sizes: dict[str, FieldSize] = {}
        for colony in self._colonies:
            answer = await client.get(f"{self._url}/v1/colonies/{colony}")
            answer.raise_for_status()
            sizes |= {f"{colony}/{name}": FieldSize(bytes=stats["size_bytes"], texts=stats["counts"]["texts"],
                                                    trigram_types=stats["counts"]["trigram_types"])
                      for name, stats in answer.json()["fields"].items()}
        return sizes

    async def breathe(self, until: int, *, windows: bool) -> None:
        """Every client breathes until ``until`` cascades have started, then finishes its own; with ``windows``, a
        window is read each ``window`` cascades, while the others go on; without, one window at the end. The
        clients' connections are closed when they are done."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10)) as client:
            await self._breathe(client, until, windows)

    async def _breathe(self, client: httpx.AsyncClient, until: int, windows: bool) -> None:
        async def one_client(k: int) -> None:
            colony = self._colonies[k % len(self._colonies)]
            while self.started < until:
                i = self.started
                self.started += 1
                try:
                    timed = await streamed_cascade(client, self._url, colony,
                                                   self._prompts[i % len(self._prompts)], i)
                except httpx.HTTPError:
                    timed = Timed(0.0, None, LOST)
                self.results.append(timed)
                self._task.advance(figure=f"{timed.seconds:.1f} s")
                if windows and len(self.results) % self._window == 0:
                    self._sampling.append(asyncio.create_task(self._sample(client, len(self.results))))

        await asyncio.gather(*(one_client(k) for k in range(self._clients)))
        if not windows:
            self._sampling.append(asyncio.create_task(self._sample(client, len(self.results))))
        await asyncio.gather(*self._sampling)

    async def _sample(self, client: httpx.AsyncClient, done: int) -> None:
        latest = [t.seconds for t in self.results[done - self._window:done] if t.status == 200]
        self.windows.append(Window(cascades=done, server=await self.reading(client),
                                   p50_s=statistics.median(latest) if latest else float("nan"),
                                   fields=await self.field_sizes(client)))


def rss_slope(windows: list[Window]) -> tuple[float, tuple[float, float]]:
    """The least-squares slope of resident memory (MiB) per cascade over ``windows``, and the least and greatest
    slope between two successive ones (module docstring); at least two windows."""
    if len(windows) < 2:
        raise ValueError("a slope needs two windows")
    cascades = [float(w.cascades) for w in windows]
    rss = [w.server.rss_mb for w in windows]
    slope = statistics.linear_regression(cascades, rss).slope
    steps = [(r1 - r0) / (c1 - c0) for c0, c1, r0, r1 in zip(cascades, cascades[1:], rss, rss[1:], strict=False)]
    return slope, (min(steps), max(steps))


def _growth(first: Window, last: Window) -> dict[str, dict[str, float]]:
    """What each field gains per cascade of its colony, from window ``first`` to ``last`` (module docstring)."""
    cascades = last.cascades - first.cascades
    totals: dict[str, dict[str, float]] = {}
    for key, size in last.fields.items():
        before = first.fields.get(key, FieldSize(0, 0, 0))
        name = key.split("/", 1)[1]
        total = totals.setdefault(name, {"bytes": 0.0, "texts": 0.0, "trigram_types": 0.0})
        for measure in total:
            total[measure] += getattr(size, measure) - getattr(before, measure)
    return {name: {measure: value / cascades for measure, value in total.items()}
            for name, total in sorted(totals.items())}


async def _run(config: Config, cascades: int, clients: int, colonies: int, window: int, io: bool,
               io_delay_s: float, keep_turns: int | None, progress: Progress) -> SoakBench:
    from harmonix.lab.bench.delay_server import delayed_server_thread

    names = [f"soak-{k}" for k in range(colonies)]
    env = {} if keep_turns is None else {"HARMONIX_KEEP_TURNS": str(keep_turns)}
    async with contextlib.AsyncExitStack() as stack:
        if io:
            config = Config.load(config.home, llm_url=stack.enter_context(delayed_server_thread(io_delay_s)))
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="harmonix-bench-soak-"))) / "home"
        with running_server(config, home, env=env) as server:
            async with httpx.AsyncClient(timeout=httpx.Timeout(60)) as client:
                for name in names:
                    (await client.post(f"{server.url}/v1/colonies", json={"name": name})).raise_for_status()
            with progress.task("bench soak", cascades) as task:
                soak = Soak(server.url, names, clients, window, task)
                await soak.breathe(window, windows=False)
                baseline = await soak.idle_reading()
                await soak.breathe(cascades, windows=True)
                end = await soak.idle_reading()
        found = await violations_in(sqlite_url(home))
    windows = sorted(soak.windows, key=lambda w: w.cascades)
    warm, first, last = windows[0], windows[1], windows[-1]
    answered = [t.status for t in soak.results]
    slope, slope_range = rss_slope(windows[1:])
    return SoakBench(
        cascades=cascades, clients=clients, colonies=colonies, window=window, io=io,
        keep_turns=keep_turns if keep_turns is not None else config.keep_turns, baseline=baseline, end=end,
        windows=windows, rss_growth_ratio=end.rss_mb / baseline.rss_mb, rss_slope_mb_per_cascade=slope,
        rss_slope_range=slope_range,
        p50_drift_ratio=last.p50_s / first.p50_s,
        fd_delta=end.open_fds - baseline.open_fds, task_delta=end.tasks - baseline.tasks,
        server_errors=sum(status >= 500 for status in answered), rejections=sum(status == 429 for status in answered),
        violations=found.total, audit_errors=found.audit, interleaved_turns=found.interleaved,
        field_growth_per_cascade=_growth(warm, last))


def run_soak_bench(config: Config, cascades: int = 1000, clients: int = 4, colonies: int = 2, window: int = 100,
                   io: bool = False, io_delay_s: float = 0.5, keep_turns: int | None = None,
                   progress: Progress = NO_PROGRESS) -> SoakBench:
    """The benchmark of the module docstring, with the LLM settings of ``config`` unless ``io``."""
    return asyncio.run(_run(config, cascades, clients, colonies, window, io, io_delay_s, keep_turns, progress))
