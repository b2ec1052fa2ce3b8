"""``harmonix bench growth``: how a colony grows per cascade, with and without the retention policy, over a long
simulated life (10 000 cascades by default).

A real cascade costs seconds of generation; what grows is only what it writes. So this benchmark writes what
cascades write, without generating it: per simulated cascade, each organism's field gets a turn (the prompt as its
disturbance, its reply, HAiKU also a reflection, the turn's metrics row) and then hears the meta sentence, and the
hub's field gets its turn (the prompt, the four stage texts, the meta sentence, the record linking them), as
:mod:`harmonix.meta` writes them. The prompts are the standard prompts; the texts are drawn word by word from a
vocabulary of 20 000 words (stop words first, then CMUdict words in a seeded order) with Zipf frequencies (word of
rank ``r`` has weight ``1 / r``), at each organism's typical length. Independent draws make almost every trigram
new, more than real text does, so the unbounded arm's growth is an upper bound.

Two arms on two fresh homes, filled in alternating blocks of ``every`` cascades (a burst of load on the host hits
both): ``kept`` (each field keeps what :meth:`Retention.keeping` ``keep_turns`` says, the default policy) and
``unbounded`` (no retention). After each block, per arm:

- ``bytes``: the colony's size (every field file with its write-ahead log), ``texts`` and ``trigram_types`` summed
  over its fields;
- ``turn_ms``: the field work of one cascade's organism turns: for each organism, the median of ``samples`` timed
  turns (wrinkle, snapshot with the organism's own :class:`SnapshotSpec`, ingest, record, commit), summed over the
  four organisms. Generation is left out: it does not depend on the field's size.

Figures: ``bytes_per_cascade`` per arm over the second half of the run, ``(bytes[end] - bytes[half]) /
(cascades[end] - cascades[half])``; ``size_ratio = bytes[end] / bytes[half]`` and ``turn_ms_ratio =
turn_ms[end] / turn_ms[half]`` per arm: flat is 1.0.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harmonix.config import Retention
from harmonix.engines.memory import Memory
from harmonix.field import Field, SnapshotSpec, open_store, sqlite_url
from harmonix.lab.prompts import standard_prompts
from harmonix.organisms import artist, haiku, prose, sonnet
from harmonix.organisms.base import FIELDS, HUB, INHALE, SYNTHESIS
from harmonix.organisms.listening import lookup
from harmonix.progress import NO_PROGRESS, Progress
from harmonix.text import STOPWORDS
from harmonix.text.phonetics import lexicon

VOCABULARY = 20_000
WORDS = {"haiku": 12, "reflection": 12, "sonnet": 110, "prose": 90, SYNTHESIS: 160, "meta": 14}
"""Typical words per text (a haiku, HAiKU's reflection, a sonnet, a Prose paragraph, Artist's piece, a meta
sentence)."""
ARMS = ("kept", "unbounded")


def spec_for(organism: str, prompt: str, memory: Memory) -> SnapshotSpec:
    """The snapshot each organism reads for one turn (as each organism's ``snapshot_spec`` says)."""
    specs = {"haiku": haiku.snapshot_spec(prompt, memory), "sonnet": sonnet.snapshot_spec(prompt, memory),
             "prose": prose.snapshot_spec(lookup(prompt, memory)), SYNTHESIS: artist.snapshot_spec(prompt, memory)}
    return specs[organism]


class Writer:
    """Texts of Zipf-distributed words (module docstring), seeded."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        stop = sorted(STOPWORDS)
        rest = sorted(word for word in lexicon() if word.isalpha() and word not in STOPWORDS)
        rng.shuffle(rest)
        self._words = (stop + rest)[:VOCABULARY]
        self._cumulative = list(itertools.accumulate(1.0 / rank for rank in range(1, len(self._words) + 1)))
        self._rng = rng

    def text(self, kind: str) -> str:
        words = self._rng.choices(self._words, cum_weights=self._cumulative, k=WORDS[kind])
        return " ".join(words).capitalize() + "."


@dataclass(frozen=True, slots=True)
class Reading:
    """One arm after one block (module docstring)."""

    cascades: int
    bytes: int
    texts: int
    trigram_types: int
    turn_ms: float


@dataclass(frozen=True, slots=True)
class GrowthBench:
    cascades: int
    every: int
    keep_turns: int
    samples: int
    readings: dict[str, list[Reading]]
    bytes_per_cascade: dict[str, float]
    size_ratio: dict[str, float]
    turn_ms_ratio: dict[str, float]


class SimulatedColony:
    """One arm's five fields, written as cascades write them."""

    def __init__(self, fields: dict[str, Field], writer: Writer, memory: Memory) -> None:
        self.fields = fields
        self._writer = writer
        self._memory = memory
        self.cascades = 0

    async def cascade(self, prompt: str) -> None:
        """What one cascade writes (module docstring), without snapshots."""
        texts = {name: self._writer.text(name) for name in (*INHALE, SYNTHESIS)}
        sentence = self._writer.text("meta")
        for name, reply in texts.items():
            async with self.fields[name].turn() as turn:
                await turn.wrinkle(prompt)
                await turn.ingest(reply)
                if name == "haiku":
                    await turn.ingest(self._writer.text("reflection"), source="reflection")
                await turn.record(dissonance=0.9, temperature=1.0)
        for name in (*INHALE, SYNTHESIS):
            await self.fields[name].ingest(sentence, source="meta")
        async with self.fields[HUB].turn() as turn:
            await turn.wrinkle(prompt)
            ids = {name: (await turn.ingest(text, source=name)).text_id for name, text in texts.items()}
            ids["meta"] = (await turn.ingest(sentence)).text_id
            await turn.record(dissonance=0.9, texts=ids, timings={name: 1.0 for name in texts})
        self.cascades += 1

    async def timed_turn(self, organism: str, prompt: str, rng: random.Random) -> float:
        """Milliseconds of one organism turn's field work, snapshot included."""
        started = time.perf_counter()
        async with self.fields[organism].turn() as turn:
            await turn.wrinkle(prompt)
            await turn.snapshot(rng, spec_for(organism, prompt, self._memory))
            await turn.ingest(self._writer.text(organism))
            await turn.record(dissonance=0.9, temperature=1.0)
        return (time.perf_counter() - started) * 1000

    async def reading(self, prompt: str, samples: int, rng: random.Random) -> Reading:
        turn_ms = 0.0
        for organism in (*INHALE, SYNTHESIS):
            turn_ms += statistics.median([await self.timed_turn(organism, prompt, rng) for _ in range(samples)])
        stats = [await field.stats() for field in self.fields.values()]
        return Reading(cascades=self.cascades, bytes=sum(s.size_bytes for s in stats),
                       texts=sum(s.counts.texts for s in stats),
                       trigram_types=sum(s.counts.trigram_types for s in stats), turn_ms=turn_ms)


async def _open_arm(stack: contextlib.AsyncExitStack, home: Path, retention: Retention | None,
                    memory: Memory) -> SimulatedColony:
    store = await stack.enter_async_context(open_store(sqlite_url(home)))
    fields = {name: await stack.enter_async_context(Field.open(store, name, retention=retention)) for name in FIELDS}
    return SimulatedColony(fields, Writer(seed=1), memory)


def _ratios(readings: Sequence[Reading]) -> tuple[float, float, float]:
    """bytes per cascade, size ratio and turn-time ratio from the middle reading to the last (module docstring)."""
    half, end = readings[(len(readings) - 1) // 2], readings[-1]
    cascades = max(1, end.cascades - half.cascades)
    return (end.bytes - half.bytes) / cascades, end.bytes / half.bytes, end.turn_ms / half.turn_ms


async def _run(cascades: int, every: int, keep_turns: int, samples: int, progress: Progress) -> GrowthBench:
    prompts = standard_prompts()
    readings: dict[str, list[Reading]] = {arm: [] for arm in ARMS}
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="harmonix-bench-growth-") as directory:
        async with contextlib.AsyncExitStack() as stack:
            memory = Memory.load()
            arms = {"kept": await _open_arm(stack, Path(directory) / "kept", Retention.keeping(keep_turns), memory),
                    "unbounded": await _open_arm(stack, Path(directory) / "unbounded", None, memory)}
            with progress.task("bench growth", 2 * cascades) as task:
                for block in range(0, cascades, every):
                    for arm in (ARMS if (block // every) % 2 == 0 else ARMS[::-1]):
                        colony = arms[arm]
                        for i in range(block, min(cascades, block + every)):
                            await colony.cascade(prompts[i % len(prompts)])
                            task.advance()
                        reading = await colony.reading(prompts[block % len(prompts)], samples, rng)
                        readings[arm].append(reading)
                        task.advance(0, figure=f"{arm} {reading.bytes / 2**20:.0f} MiB {reading.turn_ms:.1f} ms")
    ratios = {arm: _ratios(readings[arm]) for arm in ARMS}
    return GrowthBench(cascades=cascades, every=every, keep_turns=keep_turns, samples=samples, readings=readings,
                       bytes_per_cascade={arm: r[0] for arm, r in ratios.items()},
                       size_ratio={arm: r[1] for arm, r in ratios.items()},
                       turn_ms_ratio={arm: r[2] for arm, r in ratios.items()})


def run_growth_bench(cascades: int = 10_000, every: int = 1000, keep_turns: int = 1000, samples: int = 5,
                     progress: Progress = NO_PROGRESS) -> GrowthBench:
    """The benchmark of the module docstring."""
    return asyncio.run(_run(cascades, every, keep_turns, samples, progress))
