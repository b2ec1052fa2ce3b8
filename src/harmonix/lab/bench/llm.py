"""``harmonix bench llm``: a GGUF model (the embedded one, or ``--model``) through our engine, in one run (run it on
an idle machine).

All arms generate exactly ``TOKENS`` tokens (end-of-sequence ignored) for the same chat request, on one loaded
model with ``threads`` llama.cpp threads and ``parallel`` slots. Each repeat measures every arm once, in rotating
order, back to back; a ratio is taken inside each repeat and the reported ratio is the median of those per-repeat
ratios, with their range. Pairing matters here: this shared host's speed drifts by 10-15 % over minutes, and a ratio
of two medians taken at different moments mixes that drift into the figure.

- ``tokens_per_s_single``: one request through :class:`~harmonix.engines.llm.LlamaCppEngine` (median).
- ``batched_speedup`` = median over repeats of (time of ``parallel`` requests one after another) / (time of the
  same requests at once): what continuous batching over ``n_parallel`` slots buys (target >= 1.3).
- ``engine_overhead_ratio`` = median over repeats of our engine's tokens/s / calling
  ``xllamacpp.Server.handle_chat_completions`` directly, unstreamed, on the same server with the same request
  (target >= 0.95): what streaming, the slot semaphore and the thread hop cost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from harmonix.engines.llm import LlamaCppEngine, LlamaCppSettings, Sampling, embedded_model_path
from harmonix.lab.bench.timing import median, paired_ratios, span
from harmonix.progress import NO_PROGRESS, Progress

TOKENS = 128
MESSAGES = [{"role": "system", "content": "You are Prose, a quiet voice that writes from memory."},
            {"role": "user", "content": "Fragments of your memory:\nthe kettle hums\na train counts its carriages\n\n"
                                        "Write the paragraph."}]


@dataclass(frozen=True, slots=True)
class LLMBench:
    repeats: int
    threads: int
    parallel: int
    tokens_per_request: int
    tokens_per_s_single: float
    tokens_per_s_direct: float
    engine_overhead_ratio: float
    engine_overhead_ratio_range: tuple[float, float]
    serial_seconds: float
    concurrent_seconds: float
    batched_speedup: float
    batched_speedup_range: tuple[float, float]


def _sampling(seed: int) -> Sampling:
    return Sampling(max_tokens=TOKENS, temperature=0.8, seed=seed, extra={"ignore_eos": True})


async def _run(repeats: int, threads: int, parallel: int, model: Path | None, progress: Progress) -> LLMBench:
    settings = LlamaCppSettings(model or embedded_model_path(), n_parallel=parallel, threads=threads)
    async with LlamaCppEngine.open(settings) as engine:
        await engine.chat(MESSAGES, _sampling(0))  # warm-up
        samples: dict[str, list[float]] = {"single": [], "direct": [], "serial": [], "concurrent": []}
        with progress.task("bench llm", repeats) as task:
            for repeat in range(repeats):
                await _repeat(engine, repeat, parallel, samples)
                task.advance(figure=f"{samples['single'][-1]:.0f} tok/s")
    single, direct, serial, concurrent = (samples[k] for k in ("single", "direct", "serial", "concurrent"))
    overheads, speedups = paired_ratios(single, direct), paired_ratios(serial, concurrent)
    return LLMBench(repeats=repeats, threads=threads, parallel=parallel, tokens_per_request=TOKENS,
                    tokens_per_s_single=median(single), tokens_per_s_direct=median(direct),
                    engine_overhead_ratio=median(overheads), engine_overhead_ratio_range=span(overheads),
                    serial_seconds=median(serial), concurrent_seconds=median(concurrent),
                    batched_speedup=median(speedups), batched_speedup_range=span(speedups))


async def _repeat(engine: LlamaCppEngine, repeat: int, parallel: int, samples: dict[str, list[float]]) -> None:
    """One repeat: every arm once, back to back, in an order that rotates with the repeat."""
    direct_request = {"messages": MESSAGES, **_sampling(repeat).request(llamacpp=True)}

    async def ours() -> None:
        generation = await engine.chat(MESSAGES, _sampling(repeat))
        samples["single"].append(generation.tokens / generation.seconds)

    async def raw() -> None:  # llama.cpp's own call on the engine's server, on purpose: the baseline
        started = time.perf_counter()
        answer = await asyncio.to_thread(engine._server.handle_chat_completions, direct_request)
        samples["direct"].append(answer["usage"]["completion_tokens"] / (time.perf_counter() - started))

    async def one_after_another() -> None:
        started = time.perf_counter()
        for i in range(parallel):
            await engine.chat(MESSAGES, _sampling(repeat * 10 + i))
        samples["serial"].append(time.perf_counter() - started)

    async def at_once() -> None:
        started = time.perf_counter()
        await asyncio.gather(*(engine.chat(MESSAGES, _sampling(repeat * 10 + i)) for i in range(parallel)))
        samples["concurrent"].append(time.perf_counter() - started)

    arms = [ours, raw, one_after_another, at_once]
    for arm in arms[repeat % 4:] + arms[: repeat % 4]:
        await arm()


def run_llm_bench(repeats: int = 7, threads: int = 2, parallel: int = 4, model: Path | None = None,
                  progress: Progress = NO_PROGRESS) -> LLMBench:
    return asyncio.run(_run(repeats, threads, parallel, model, progress))
