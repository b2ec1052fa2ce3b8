"""``harmonix bench serve``: what serving costs, and what many clients at once buy, against a real server.

A real ``harmonix serve`` runs in a subprocess on a loopback port with a fresh home; the load comes from this process
over HTTP with Server-Sent Events (``httpx``), every arm on the same prompts and seeds (the standard prompts, prompt
``i`` with seed ``i``). On a Linux host (the server's CPU time and memory are read from ``/proc``).

- **Paired overhead.** ``repeats`` times, in alternating order, the same cascade runs on a hub in this process and
  through the server (one client; two fresh colonies that receive the same prompts, so their fields evolve alike):
  ``server_overhead_ratio`` is the median over repeats of (latency through HTTP+SSE, request sent to ``done``
  received) / (latency of ``cascade()`` in this process). ``first_event_s`` is the median time from request to the
  first ``stage`` event.
- **Throughput.** ``cascades`` cascades with one client on one colony, then the same cascades with four clients on
  four colonies (each client its own colony, the prompts dealt round-robin): ``cascades_per_s_1`` and
  ``cascades_per_s_4``, ``concurrency_gain = cascades_per_s_4 / cascades_per_s_1``, p50 and p95 latency at four
  clients, and 429 rejections.
- **The physical limit.** No schedule runs more cascades a second than the machine's cores can pay for with the CPU
  work those cascades actually cost: ``ideal_cascades_per_s = usable cores / cpu_s_per_cascade_4``, where
  ``cpu_s_per_cascade_4`` is the server process's CPU time (every thread) per cascade during the four-client arm.
  Since that arm's wall time is at least its CPU time divided by the cores, ``throughput_efficiency =
  cascades_per_s_4 / ideal_cascades_per_s`` is the share of the cores the server kept busy, and no honest run
  exceeds 1. An earlier ideal used the one-client arm's CPU per cascade (``cpu_s_per_cascade_1``), where each
  cascade runs alone; it read 1.10 in one run, because four concurrent requests batched in one llama.cpp replica
  cost less CPU than four alone. That comparison is still reported: ``batching_saving = cpu_s_per_cascade_1 /
  cpu_s_per_cascade_4`` (above 1: concurrency removed work, not only idle time) and ``throughput_vs_alone =
  cascades_per_s_4 / (usable cores / cpu_s_per_cascade_1)``.
- **Memory.** ``rss_mb_per_colony``: the server's resident memory after opening ``colonies`` more colonies (each
  created and read, so its five fields are open), minus before, divided by ``colonies``.
- **Integrity.** After the server stops, every field of every colony is audited and each organism's turns checked
  strictly sequential: ``violations`` counts what is wrong (must be 0).
- **Many processes** (``--database postgresql://… --processes N``): every server, and the in-process hub of the
  paired arm (on a colony of its own), use that database. After the arms above, ``N - 1`` more servers start on
  it and the same four clients run the same cascades again on fresh colonies, each client sending its ``i``-th
  request to server ``(client + i) mod N``: every colony is served by every process in turn, so each organism's
  turns alternate between processes and stay sequential only through PostgreSQL's locks. ``cascades_per_s_spread``
  is that arm's throughput and ``process_gain = cascades_per_s_spread / cascades_per_s_4`` (the same load on one
  process). The processes share this machine's cores, so the gain shows what a second process costs or buys here,
  not what a second machine would; ``violations`` then covers every colony of the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from harmonix.colony import Harmonix
from harmonix.config import Config, cores, public_location
from harmonix.errors import InvalidArgument
from harmonix.field import sqlite_url
from harmonix.field.store import POSTGRES_SCHEMES
from harmonix.lab.bench.integrity import violations_in
from harmonix.lab.bench.timing import median, paired_ratios, span
from harmonix.lab.prompts import standard_prompts
from harmonix.progress import NO_PROGRESS, Progress, Tracker
from harmonix.server.process import ServerProcess, running

CLIENTS = 4


@dataclass(frozen=True, slots=True)
class ServeBench:
    repeats: int
    cascades: int
    usable_cores: int
    inprocess_s: float
    http_s: float
    server_overhead_ratio: float
    server_overhead_ratio_range: tuple[float, float]
    first_event_s: float
    cascades_per_s_1: float
    cascades_per_s_4: float
    concurrency_gain: float
    latency_p50_s: float
    latency_p95_s: float
    rejections: int
    server_errors: int
    cpu_s_per_cascade_1: float
    cpu_s_per_cascade_4: float
    ideal_cascades_per_s: float
    throughput_efficiency: float
    batching_saving: float
    throughput_vs_alone: float
    colonies_opened: int
    rss_mb_per_colony: float
    violations: int
    store: str
    processes: int
    cascades_per_s_spread: float | None
    process_gain: float | None


@contextlib.contextmanager
def running_server(config: Config, home: Path, *extra: str,
                   env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """``harmonix serve`` on a free loopback port with ``home`` and the LLM settings of ``config``, ready (``env``:
    more environment variables for it)."""
    with running(home, server_args(config, *extra), env=env) as server:
        yield server


def server_args(config: Config, *extra: str) -> list[str]:
    """The arguments of ``harmonix serve`` that give it the LLM settings of ``config``, after ``extra``."""
    llm = config.llm("prose")
    return [*extra, *(["--llm-url", llm.url] if llm.url else ["--model", str(llm.model)] if llm.model else [])]


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float
    first_event_s: float | None
    status: int


async def streamed_cascade(client: httpx.AsyncClient, url: str, colony: str, prompt: str, seed: int) -> Timed:
    """One cascade through the server, streamed: total seconds, seconds to the first ``stage`` event, status."""
    started = time.perf_counter()
    first = None
    async with aconnect_sse(client, "POST", f"{url}/v1/colonies/{colony}/cascades",
                            json={"prompt": prompt, "seed": seed}, headers={"accept": "text/event-stream"}) as source:
        if source.response.status_code != 200:
            await source.response.aread()
            return Timed(time.perf_counter() - started, None, source.response.status_code)
        async for event in source.aiter_sse():
            if event.event == "stage" and first is None:
                first = time.perf_counter() - started
            if event.event in ("done", "error"):
                status = 200 if event.event == "done" else int(json.loads(event.data).get("status", 500))
                return Timed(time.perf_counter() - started, first, status)
    return Timed(time.perf_counter() - started, first, 599)


async def _paired(config: Config, server: ServerProcess, client: httpx.AsyncClient, repeats: int, prompts: list[str],
                  task: Tracker) -> tuple[list[float], list[float], list[float]]:
    """The paired arm (module docstring): in-process and HTTP latencies per repeat, and first-event times."""
    inprocess, http, first = [], [], []
    await client.post(f"{server.url}/v1/colonies", json={"name": "paired"})
    async with Harmonix.open(config) as harmonix, harmonix.colony(config.colony) as colony:
        for i in range(repeats):
            prompt = prompts[i % len(prompts)]
            order = ("here", "there") if i % 2 == 0 else ("there", "here")
            for arm in order:
                if arm == "here":
                    started = time.perf_counter()
                    await colony.cascade(prompt, seed=i)
                    inprocess.append(time.perf_counter() - started)
                else:
                    timed = await streamed_cascade(client, server.url, "paired", prompt, i)
                    http.append(timed.seconds)
                    if timed.first_event_s is not None:
                        first.append(timed.first_event_s)
            task.advance(figure=f"{http[-1] / inprocess[-1]:.3f}")
    return inprocess, http, first


async def _throughput(server: ServerProcess, client: httpx.AsyncClient, prompts: list[str], clients: int,
                      task: Tracker) -> tuple[float, list[Timed]]:
    """``len(prompts)`` cascades by ``clients`` clients, each on its own colony; the wall time and each result."""
    colonies = [f"load-{clients}-{k}" for k in range(clients)]
    for name in colonies:
        await client.post(f"{server.url}/v1/colonies", json={"name": name})
    queues: list[list[tuple[int, str]]] = [[] for _ in range(clients)]
    for i, prompt in enumerate(prompts):
        queues[i % clients].append((i, prompt))
    results: list[Timed] = []

    async def one_client(colony: str, work: list[tuple[int, str]]) -> None:
        for seed, prompt in work:
            results.append(await streamed_cascade(client, server.url, colony, prompt, seed))
            task.advance()

    started = time.perf_counter()
    await asyncio.gather(*(one_client(colony, work) for colony, work in zip(colonies, queues, strict=True)))
    return time.perf_counter() - started, results


async def _memory(server: ServerProcess, client: httpx.AsyncClient, colonies: int, task: Tracker) -> float:
    """MiB of resident memory per extra open colony (module docstring)."""
    await client.get(f"{server.url}/v1/colonies/default")  # one colony open first: what every colony shares is paid
    before = server.rss_mb()
    for k in range(colonies):
        name = f"memory-{k}"
        await client.post(f"{server.url}/v1/colonies", json={"name": name})
        answer = await client.get(f"{server.url}/v1/colonies/{name}")
        answer.raise_for_status()
        task.advance()
    return (server.rss_mb() - before) / colonies


async def _spread(servers: list[ServerProcess], client: httpx.AsyncClient, prompts: list[str], clients: int,
                  task: Tracker) -> tuple[float, list[Timed]]:
    """``len(prompts)`` cascades by ``clients`` clients, each on its own colony, request ``i`` of client ``k`` sent
    to server ``(k + i) mod len(servers)``; the wall time and each result."""
    colonies = [f"spread-{clients}-{k}" for k in range(clients)]
    for name in colonies:
        await client.post(f"{servers[0].url}/v1/colonies", json={"name": name})
    queues: list[list[tuple[int, str]]] = [[] for _ in range(clients)]
    for i, prompt in enumerate(prompts):
        queues[i % clients].append((i, prompt))
    results: list[Timed] = []

    async def one_client(k: int, colony: str, work: list[tuple[int, str]]) -> None:
        for n, (seed, prompt) in enumerate(work):
            server = servers[(k + n) % len(servers)]
            results.append(await streamed_cascade(client, server.url, colony, prompt, seed))
            task.advance()

    started = time.perf_counter()
    await asyncio.gather(*(one_client(k, colony, work)
                           for k, (colony, work) in enumerate(zip(colonies, queues, strict=True))))
    return time.perf_counter() - started, results


async def _run(config: Config, repeats: int, cascades: int, colonies: int, processes: int,
               progress: Progress) -> ServeBench:
    prompts = standard_prompts()
    load = [prompts[i % len(prompts)] for i in range(cascades)]
    database = config.database
    spread_s: float | None = None
    with tempfile.TemporaryDirectory(prefix="harmonix-bench-serve-") as directory:
        home = Path(directory) / "served"
        # in-process on a colony of its own: "paired" in a home of its own, or "paired-here" in the shared database
        here = replace(config, home=Path(directory) / "here", colony="paired" if database is None else "paired-here")
        store = database if database is not None else sqlite_url(home)
        shared = ("--database", database) if database is not None else ()
        limits = ("--max-active", "8", "--max-waiting", "4", "--max-open-colonies", str(colonies + 16))
        with running_server(config, home, *shared, *limits) as server:
            async with httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10)) as client:
                with progress.task("bench serve: paired", repeats) as task:
                    inprocess, http, first = await _paired(here, server, client, repeats, prompts, task)
                with progress.task("bench serve: 1 client", cascades) as task:
                    cpu_before = server.cpu_seconds()
                    alone_s, alone = await _throughput(server, client, load, 1, task)
                    cpu_per_cascade = (server.cpu_seconds() - cpu_before) / cascades
                with progress.task(f"bench serve: {CLIENTS} clients", cascades) as task:
                    cpu_before = server.cpu_seconds()
                    together_s, together = await _throughput(server, client, load, CLIENTS, task)
                    cpu_per_cascade_4 = (server.cpu_seconds() - cpu_before) / cascades
                spread: list[Timed] = []
                if processes > 1:
                    with contextlib.ExitStack() as more, \
                            progress.task(f"bench serve: {CLIENTS} clients, {processes} processes", cascades) as task:
                        servers = [server] + [more.enter_context(running_server(config, Path(directory) / f"p{n}",
                                                                                *shared, *limits))
                                              for n in range(1, processes)]
                        spread_s, spread = await _spread(servers, client, load, CLIENTS, task)
                with progress.task("bench serve: colonies", colonies) as task:
                    per_colony = await _memory(server, client, colonies, task)
        violations = (await violations_in(store)).total
    overheads = paired_ratios(http, inprocess)
    latencies = sorted(t.seconds for t in together if t.status == 200)
    rate_1, rate_4 = cascades / alone_s, cascades / together_s
    rate_spread = None if spread_s is None else cascades / spread_s
    usable = cores()
    ideal = usable / cpu_per_cascade_4
    answered = alone + together + spread
    return ServeBench(
        repeats=repeats, cascades=cascades, usable_cores=usable, inprocess_s=median(inprocess), http_s=median(http),
        server_overhead_ratio=median(overheads), server_overhead_ratio_range=span(overheads),
        first_event_s=median(first), cascades_per_s_1=rate_1, cascades_per_s_4=rate_4,
        concurrency_gain=rate_4 / rate_1, latency_p50_s=median(latencies),
        latency_p95_s=statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0],
        rejections=sum(t.status == 429 for t in answered),
        server_errors=sum(t.status >= 500 for t in answered), cpu_s_per_cascade_1=cpu_per_cascade,
        cpu_s_per_cascade_4=cpu_per_cascade_4, ideal_cascades_per_s=ideal, throughput_efficiency=rate_4 / ideal,
        batching_saving=cpu_per_cascade / cpu_per_cascade_4, throughput_vs_alone=rate_4 * cpu_per_cascade / usable,
        colonies_opened=colonies,
        rss_mb_per_colony=per_colony, violations=violations, store=public_location(store), processes=processes,
        cascades_per_s_spread=rate_spread, process_gain=None if rate_spread is None else rate_spread / rate_4)


def run_serve_bench(config: Config, repeats: int = 7, cascades: int = 8, colonies: int = 100, processes: int = 1,
                    progress: Progress = NO_PROGRESS) -> ServeBench:
    """The benchmark of the module docstring, with the LLM and database settings of ``config``; ``processes`` > 1
    needs a PostgreSQL database (:class:`InvalidArgument` otherwise)."""
    if processes > 1 and (config.database is None or not config.database.startswith(POSTGRES_SCHEMES)):
        raise InvalidArgument("--processes needs --database postgresql://…: several processes share colonies only "
                              "through PostgreSQL")
    return asyncio.run(_run(config, repeats, cascades, colonies, processes, progress))
