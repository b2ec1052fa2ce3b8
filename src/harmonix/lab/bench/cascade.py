"""``harmonix bench cascade [--io]``: what breathing in parallel buys, against what it could buy at best.

One hub per arm, each on a fresh home; ``repeats`` cascades per arm on the standard prompts, interleaved
(sequential, parallel, parallel, sequential, …). Repeat *i* gives both arms the same prompt and seed, so the two
cascades of a repeat do the same work, back to back: every ratio is taken inside a repeat, and the figure reported is
the median over repeats (ratios of medians would mix prompts of different lengths and the host's drift).

- ``sequential_s`` and ``parallel_s``: whole cascades (medians); per repeat ``speedup = sequential / parallel``;
- the stages *alone* come from the sequential cascade, where each runs by itself: ``stage_s`` (wall) and
  ``stage_cpu_s`` (the process's CPU time during the stage, every thread included), reported as medians;
- per repeat ``ideal = max(slowest INHALE stage alone + Artist alone, sum of the stages' CPU-seconds / usable
  cores)``: no schedule beats the critical path, nor the CPU work spread over every core;
- per repeat ``ideal_speedup = sequential / ideal`` and ``efficiency = speedup / ideal_speedup = ideal / parallel``
  (target >= 0.9), reported with its range over the repeats.

``--io``: Prose and Artist use the ``openai`` backend against a loopback server of ours that answers after
``io_delay_s`` (:mod:`harmonix.lab.bench.delay_server`), standing in for a remote GPU server: their stages cost waiting,
not local CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from harmonix.colony import Harmonix
from harmonix.config import Config, cores
from harmonix.lab.bench.timing import median, paired_ratios, span
from harmonix.lab.prompts import standard_prompts
from harmonix.meta import ARTIST, INHALE, CascadeResult
from harmonix.progress import NO_PROGRESS, Progress


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
    efficiency_range: tuple[float, float]
    errors: int


async def _run(repeats: int, io: bool, io_delay_s: float, config: Config | None, progress: Progress) -> CascadeBench:
    from harmonix.lab.bench.delay_server import delayed_server

    prompts = standard_prompts()
    sequential: list[CascadeResult] = []
    parallel: list[CascadeResult] = []
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(delayed_server(io_delay_s)) if io else None
        colonies = {}
        for arm in ("sequential", "parallel"):
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"harmonix-bench-{arm}-")))
            arm_config = Config.load(home, llm_url=url) if config is None or url else replace(config, home=home)
            harmonix = await stack.enter_async_context(Harmonix.open(arm_config))
            colonies[arm] = await stack.enter_async_context(harmonix.colony())
        task = stack.enter_context(progress.task(f"bench cascade{' --io' if io else ''}", repeats))
        for repeat in range(repeats):
            order = ("sequential", "parallel") if repeat % 2 == 0 else ("parallel", "sequential")
            for arm in order:
                result = await colonies[arm].cascade(prompts[repeat % len(prompts)], seed=repeat,
                                                     sequential=arm == "sequential")
                (sequential if arm == "sequential" else parallel).append(result)
            task.advance(figure=f"{parallel[-1].timings['total']:.2f} s")
    names = (*INHALE, ARTIST)
    usable = cores()
    ideals = [_ideal_s(result, usable) for result in sequential]
    sequential_totals = [r.timings["total"] for r in sequential]
    parallel_totals = [r.timings["total"] for r in parallel]
    efficiencies = paired_ratios(ideals, parallel_totals)
    errors = sum(stage.error is not None for r in sequential + parallel for stage in r.stages)
    return CascadeBench(io=io, repeats=repeats, usable_cores=usable, sequential_s=median(sequential_totals),
                        parallel_s=median(parallel_totals),
                        speedup=median(paired_ratios(sequential_totals, parallel_totals)),
                        stage_s={name: median([r.timings[name] for r in sequential]) for name in names},
                        stage_cpu_s={name: median([getattr(r, name).cpu_seconds for r in sequential])
                                     for name in names},
                        ideal_s=median(ideals), ideal_speedup=median(paired_ratios(sequential_totals, ideals)),
                        efficiency=median(efficiencies), efficiency_range=span(efficiencies), errors=errors)


def _ideal_s(sequential: CascadeResult, usable_cores: int) -> float:
    """The shortest a parallel cascade doing this sequential cascade's work could take (module docstring)."""
    critical_path = max(sequential.timings[name] for name in INHALE) + sequential.timings[ARTIST]
    cpu_work = sum(getattr(sequential, name).cpu_seconds for name in (*INHALE, ARTIST))
    return max(critical_path, cpu_work / usable_cores)


def run_cascade_bench(repeats: int = 5, io: bool = False, io_delay_s: float = 1.5, config: Config | None = None,
                      progress: Progress = NO_PROGRESS) -> CascadeBench:
    """The benchmark (module docstring), each arm on a fresh home with the LLM settings of ``config`` (default: the
    environment's); ``io`` replaces the LLM by the loopback delay server."""
    return asyncio.run(_run(repeats, io, io_delay_s, config, progress))
