"""``harmonix bench cascade [--io]``: what breathing in parallel buys, against what it could buy at best.

One hub per arm, each on a fresh home; ``repeats`` cascades per arm on the standard prompts, interleaved
(sequential, parallel, parallel, sequential, …), the same seeds in both arms. Figures are medians:

- ``sequential_s`` and ``parallel_s``: whole cascades; ``speedup = sequential_s / parallel_s``;
- the stages *alone* come from the sequential cascades, where each runs by itself: ``stage_s`` (wall) and
  ``stage_cpu_s`` (the process's CPU time during the stage, every thread included);
- ``ideal_s = max(slowest INHALE stage alone + Artist alone, sum of the stages' CPU-seconds / usable cores)``: no
  schedule beats the critical path, nor the CPU work spread over every core;
- ``ideal_speedup = sequential_s / ideal_s`` and ``efficiency = speedup / ideal_speedup`` (target >= 0.9).

``--io``: Prose and Artist use the ``openai`` backend against a loopback server of ours that answers after
``io_delay_s`` (:mod:`harmonix.bench.delay_server`), standing in for a remote GPU server: their stages cost waiting,
not local CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from harmonix.bench.timing import median
from harmonix.config import Config, cores
from harmonix.meta import ARTIST, INHALE, CascadeResult, MetaHarmonix
from harmonix.prompts import standard_prompts


@dataclass(frozen=True, slots=True)
class CascadeBench:
    io: bool
    repeats: int
    usable_cores: int
    sequential_s: float
    parallel_s: float
    speedup: float
    stage_s: dict[str, float]
    stage_cpu_s: dict[str, float]
    ideal_s: float
    ideal_speedup: float
    efficiency: float
    errors: int


async def _run(repeats: int, io: bool, io_delay_s: float) -> CascadeBench:
    from harmonix.bench.delay_server import delayed_server

    prompts = standard_prompts()
    sequential: list[CascadeResult] = []
    parallel: list[CascadeResult] = []
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(delayed_server(io_delay_s)) if io else None
        hubs = {}
        for arm in ("sequential", "parallel"):
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"harmonix-bench-{arm}-")))
            config = Config.load(home)
            if url is not None:
                config = replace(config, llm_url=url)
            hubs[arm] = await stack.enter_async_context(MetaHarmonix.open(config))
        for repeat in range(repeats):
            order = ("sequential", "parallel") if repeat % 2 == 0 else ("parallel", "sequential")
            for arm in order:
                result = await hubs[arm].cascade(prompts[repeat % len(prompts)], seed=repeat,
                                                 sequential=arm == "sequential")
                (sequential if arm == "sequential" else parallel).append(result)
    names = (*INHALE, ARTIST)
    stage_s = {name: median([r.timings[name] for r in sequential]) for name in names}
    stage_cpu_s = {name: median([getattr(r, name).cpu_seconds for r in sequential]) for name in names}
    sequential_s = median([r.timings["total"] for r in sequential])
    parallel_s = median([r.timings["total"] for r in parallel])
    usable = cores()
    ideal_s = max(max(stage_s[name] for name in INHALE) + stage_s[ARTIST], sum(stage_cpu_s.values()) / usable)
    speedup, ideal_speedup = sequential_s / parallel_s, sequential_s / ideal_s
    errors = sum(stage.error is not None for r in sequential + parallel for stage in r.stages)
    return CascadeBench(io=io, repeats=repeats, usable_cores=usable, sequential_s=sequential_s,
                        parallel_s=parallel_s, speedup=speedup, stage_s=stage_s, stage_cpu_s=stage_cpu_s,
                        ideal_s=ideal_s, ideal_speedup=ideal_speedup, efficiency=speedup / ideal_speedup,
                        errors=errors)


def run_cascade_bench(repeats: int = 5, io: bool = False, io_delay_s: float = 1.5) -> CascadeBench:
    return asyncio.run(_run(repeats, io, io_delay_s))
