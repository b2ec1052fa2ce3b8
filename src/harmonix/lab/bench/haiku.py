"""``harmonix bench haiku``: how long HAiKU takes to compose, next to markovify on the same text, in one run.

- ``ms_per_haiku``: the median time of :func:`harmonix.organisms.haiku.compose` in real turns (all candidates, the
  selection and the reflection; the field transaction excluded, as the target says), over ``turns`` turns of the
  standard prompt set on a fresh field, after ``warmup`` turns that load the dictionaries.
- ``turn_ms``: the median of whole turns (wrinkle, snapshot, compose, ingest, record) for reference.
- ``markovify_ms_per_sentence``: the median time of ``markovify.Text.make_sentence()`` with a state size of 2 over
  the same text HAiKU's bootstrap chain was counted from (the core-vocabulary runs of its corpus, one run a sentence),
  ``None`` attempts included. markovify is the anchor: a mature order-2 generator without a syllable search.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harmonix.colony import open_organism
from harmonix.config import Config
from harmonix.lab.bench.timing import median
from harmonix.lab.prompts import standard_prompts
from harmonix.organisms.haiku import Haiku
from harmonix.progress import NO_PROGRESS, Progress, Tracker


@dataclass(frozen=True, slots=True)
class HaikuBench:
    turns: int
    ms_per_haiku: float
    turn_ms: float
    markovify_ms_per_sentence: float
    markovify_sentences: int
    markovify_failures: int

    @property
    def target_met(self) -> bool:
        """The issue's target: a finished haiku in at most 10 ms."""
        return self.ms_per_haiku <= 10.0


async def _haiku_times(turns: int, warmup: int, task: Tracker) -> tuple[list[float], list[float]]:
    prompts = standard_prompts()
    compose_ms, turn_ms = [], []
    with tempfile.TemporaryDirectory(prefix="harmonix-bench-haiku-") as home:
        async with open_organism(Config.load(Path(home)), "haiku") as haiku:
            assert isinstance(haiku, Haiku)
            for i in range(warmup + turns):
                started = time.perf_counter()
                reply = await haiku.answer(prompts[i % len(prompts)], seed=i)
                if i >= warmup:
                    turn_ms.append((time.perf_counter() - started) * 1000)
                    compose_ms.append(reply.compose_ms)
                task.advance()
    return compose_ms, turn_ms


def _markovify_times(sentences: int, seed: int) -> tuple[list[float], int]:
    import markovify

    from harmonix.lab.training.haiku_bootstrap import bootstrap_layers, core_vocabulary, runs

    vocabulary = core_vocabulary()
    parsed = [run for works in bootstrap_layers().values() for run in runs(works, vocabulary)]
    model = markovify.Text(None, state_size=2, parsed_sentences=parsed)
    random.seed(seed)  # markovify draws from the global random module: seed it for a repeatable run
    times, failures = [], 0
    for _ in range(sentences):
        started = time.perf_counter()
        sentence = model.make_sentence()
        times.append((time.perf_counter() - started) * 1000)
        failures += sentence is None
    return times, failures


def run_haiku_bench(turns: int = 200, warmup: int = 20, sentences: int = 500, seed: int = 0,
                    progress: Progress = NO_PROGRESS) -> HaikuBench:
    with progress.task("bench haiku", warmup + turns) as task:
        compose_ms, turn_ms = asyncio.run(_haiku_times(turns, warmup, task))
    markovify_ms, failures = _markovify_times(sentences, seed)
    return HaikuBench(turns=turns, ms_per_haiku=median(compose_ms), turn_ms=median(turn_ms),
                      markovify_ms_per_sentence=median(markovify_ms), markovify_sentences=sentences,
                      markovify_failures=failures)
