"""``harmonix experiment memory``: does a colony's field shape what it says turns later?

A field organism speaks from its field, and what it heard is in the field; if the field shapes the voice, a colony
that heard about the sea should answer a question with no subject differently from one that heard about the
desert. The experiment isolates that:

- **Themes** come in pairs (A, B) far apart, three prompts each (a prompt file, :mod:`harmonix.lab.prompts`; themes pair
  in file order; the shipped set is ``data/prompts/memory.txt``, and any other file can be given).
- For each pair, two **fresh colonies** in a temporary home hear the three prompts of A and of B, prompt ``j`` with
  seed ``j`` in both: the same seeds, so only what they heard differs.
- Then each colony hears ``gap`` **unrelated prompts** (the file's ``between`` theme, the same ones with the same seeds
  for both) and breathes on a **neutral probe** with next to no content word ("Continue."): the probe gives the
  reply no subject, so only the field can give it one. Every probe runs on its own fork of the colony
  (:meth:`~harmonix.field.store.Store.fork_colony`), so probes do not hear each other; the gaps accumulate on the
  one colony (gap 3 is gap 1 and two more prompts).

The **history effect** of one organism for one pair and probe, with ``r_A``, ``r_B`` its replies to the probe in
the colony that heard A and in the one that heard B, ``A``, ``B`` the themes' three prompts read as one text, and
``cos`` the judge's cosine similarity (:mod:`harmonix.lab.judge`, a model no organism runs):

    effect = ½ [(cos(r_A, A) − cos(r_B, A)) + (cos(r_B, B) − cos(r_A, B))]

positive when each reply leans to the theme its colony heard; 0 when the replies are interchangeable. An organism's
effect at a gap is the mean over pairs and probes with a 95 % percentile bootstrap interval
(:func:`harmonix.lab.judge.summarize`). The gap series shows whether memory fades: the effect after 6 unrelated prompts
should be smaller than after 1. The Artist is scored on its whole piece, as ``harmonix eval`` scores the cascade.

**Alone** (``organisms`` a part of the colony, ``--organisms prose``): each named organism breathes on its own turn
(:meth:`~harmonix.colony.Colony.turn`) instead of the colony's cascade: no hub, no exhale, so its field hears only
the prompts and its own replies, and an Artist alone has no voices to weave. A quicker instrument for working on one
organism (a Prose turn is a fraction of a cascade); the figures that count are the whole colony's.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harmonix.colony import Colony, Harmonix
from harmonix.config import Config
from harmonix.errors import InvalidArgument
from harmonix.lab.judge import Influence, Judge, summarize
from harmonix.lab.prompts import Prompt, read_prompts
from harmonix.meta import CascadeResult
from harmonix.organisms.base import ORGANISMS
from harmonix.progress import NO_PROGRESS, Progress

PROBES = ("Continue.", "Tell me more.")
GAPS = (0, 1, 3, 6)
BETWEEN = "between"
BLOCK = 3
FILLER_SEED = 100
PROBE_SEED = 1000
ProbeKey = tuple[int, str]
"""(gap, probe)."""


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    prompts: tuple[str, ...]

    @property
    def text(self) -> str:
        """The theme as the judge reads it: its prompts as one text."""
        return " ".join(self.prompts)


@dataclass(frozen=True, slots=True)
class Probed:
    """What one organism said to one probe after one gap, in the colony that heard A and in the one that heard B."""

    pair: int
    probe: str
    gap: int
    organism: str
    after_a: str
    after_b: str


@dataclass(frozen=True, slots=True)
class Effect:
    """One organism's history effect after ``gap`` unrelated prompts (module docstring)."""

    organism: str
    gap: int
    effect: Influence


@dataclass(frozen=True, slots=True)
class MemoryExperiment:
    pairs: tuple[tuple[str, str], ...]
    probes: tuple[str, ...]
    gaps: tuple[int, ...]
    between: tuple[str, ...]
    effects: tuple[Effect, ...]
    examples: tuple[Probed, ...]
    cascades: int
    """Breaths: cascades, or each alone organism's turns counted once per prompt."""
    organisms: tuple[str, ...] = ORGANISMS
    alone: bool = False
    """True when the named organisms breathed alone (module docstring), not in the colony's cascade."""


def themes_of(prompts: Sequence[Prompt]) -> tuple[list[tuple[Theme, Theme]], list[str]]:
    """The pairs of themes (in file order) and the ``between`` prompts of a prompt file. Every theme needs at least
    :data:`BLOCK` prompts; an odd theme out is refused rather than dropped."""
    grouped: dict[str, list[str]] = {}
    for prompt in prompts:
        grouped.setdefault(prompt.theme, []).append(prompt.text)
    between = grouped.pop(BETWEEN, [])
    themes = [Theme(name, tuple(texts[:BLOCK])) for name, texts in grouped.items()]
    short = [theme.name or "(no theme)" for theme in themes if len(theme.prompts) < BLOCK]
    if short:
        raise InvalidArgument(f"every theme needs {BLOCK} prompts; too few in: {', '.join(short)}")
    if len(themes) < 2 or len(themes) % 2:
        raise InvalidArgument(f"themes pair in file order, so their number must be even and at least 2; "
                              f"found {len(themes)}")
    return [(themes[i], themes[i + 1]) for i in range(0, len(themes), 2)], between


def said(result: CascadeResult, organism: str) -> str:
    return getattr(result, organism).text or ""


async def breathe(colony: Colony, prompt: str, seed: int, alone: Sequence[str]) -> dict[str, str]:
    """What each organism said to ``prompt``: in the colony's cascade, or on turns of their own for the ``alone``
    ones (module docstring; empty: the cascade)."""
    if not alone:
        result = await colony.cascade(prompt, seed=seed)
        return {organism: said(result, organism) for organism in ORGANISMS}
    return {organism: (await colony.turn(organism, prompt, seed=seed)).text or "" for organism in alone}


async def probe_colony(harmonix: Harmonix, name: str, theme: Theme, between: Sequence[str], gaps: Sequence[int],
                       probes: Sequence[str], alone: Sequence[str] = ()) -> tuple[dict[ProbeKey, dict[str, str]], int]:
    """Colony ``name`` hears ``theme``, then for each gap (ascending) the unrelated prompts up to it, and each probe
    on a fork of its own. Returns what each organism said to each (gap, probe) and the number of breaths."""
    breathed = 0
    async with harmonix.colony(name) as colony:
        for seed, prompt in enumerate(theme.prompts):
            await breathe(colony, prompt, seed, alone)
            breathed += 1
    replies: dict[ProbeKey, dict[str, str]] = {}
    heard = 0
    for gap in sorted(gaps):
        async with harmonix.colony(name, create=False) as colony:
            for index in range(heard, gap):
                await breathe(colony, between[index], FILLER_SEED + index, alone)
                breathed += 1
        heard = gap
        for number, probe in enumerate(probes):
            fork = f"{name}-g{gap}-p{number}"
            await harmonix.store.fork_colony(name, fork)
            async with harmonix.colony(fork, create=False) as colony:
                replies[(gap, probe)] = await breathe(colony, probe, PROBE_SEED + number, alone)
                breathed += 1
    return replies, breathed


def history_effects(judge: Judge, pairs: Sequence[tuple[Theme, Theme]], probed: Sequence[Probed],
                    seed: int = 0) -> list[Effect]:
    """Each organism's effect per gap (module docstring's formula), bootstrapped over pairs and probes."""
    theme_vectors = judge.embed([theme.text for pair in pairs for theme in pair])
    replies_a = judge.embed([p.after_a for p in probed])
    replies_b = judge.embed([p.after_b for p in probed])
    values: dict[tuple[str, int], list[float]] = {}
    for index, p in enumerate(probed):
        a, b = theme_vectors[2 * p.pair], theme_vectors[2 * p.pair + 1]
        r_a, r_b = replies_a[index], replies_b[index]
        effect = 0.5 * ((np.dot(r_a, a) - np.dot(r_b, a)) + (np.dot(r_b, b) - np.dot(r_a, b)))
        values.setdefault((p.organism, p.gap), []).append(float(effect))
    return [Effect(organism, gap, summarize(found, seed)) for (organism, gap), found in values.items()]


async def run_memory(base: Config, judge: Judge, themes: Path | None = None, *, pairs: int | None = None,
                     gaps: Sequence[int] = GAPS, probes: Sequence[str] = PROBES,
                     organisms: Sequence[str] = ORGANISMS, progress: Progress = NO_PROGRESS) -> MemoryExperiment:
    """The experiment on the themes of ``themes`` (default: the shipped set), its first ``pairs`` pairs; with fewer
    than every organism, those breathe alone (module docstring)."""
    unknown = sorted(set(organisms) - set(ORGANISMS))
    if unknown or not organisms:
        raise InvalidArgument(f"organisms are among {', '.join(ORGANISMS)}; got {', '.join(organisms) or 'none'}")
    named = tuple(organism for organism in ORGANISMS if organism in organisms)
    alone = () if named == ORGANISMS else named
    theme_pairs, between = themes_of(read_prompts(themes, shipped="memory"))
    theme_pairs = theme_pairs[:pairs] if pairs else theme_pairs
    if max(gaps) > len(between):
        raise InvalidArgument(f"a gap of {max(gaps)} needs as many '{BETWEEN}' prompts; the file has {len(between)}")
    probed: list[Probed] = []
    breathed = 0
    with tempfile.TemporaryDirectory(prefix="harmonix-memory-") as home, \
            progress.task("experiment memory", 2 * len(theme_pairs)) as task:
        config = dataclasses.replace(base, home=Path(home))
        async with Harmonix.open(config) as harmonix:
            for index, (a, b) in enumerate(theme_pairs):
                after_a, count_a = await probe_colony(harmonix, f"pair{index}-a", a, between, gaps, probes, alone)
                task.advance(figure=f"{a.name}")
                after_b, count_b = await probe_colony(harmonix, f"pair{index}-b", b, between, gaps, probes, alone)
                task.advance(figure=f"{b.name}")
                breathed += count_a + count_b
                probed += [Probed(index, probe, gap, organism, after_a[(gap, probe)][organism],
                                  after_b[(gap, probe)][organism])
                           for gap in gaps for probe in probes for organism in named]
    examples = tuple(p for p in probed if p.pair == 0 and p.gap == min(gaps) and p.probe == probes[0])
    return MemoryExperiment(pairs=tuple((a.name, b.name) for a, b in theme_pairs), probes=tuple(probes),
                            gaps=tuple(sorted(gaps)), between=tuple(between[:max(gaps)]),
                            effects=tuple(history_effects(judge, theme_pairs, probed)), examples=examples,
                            cascades=breathed, organisms=named, alone=bool(alone))


def markdown(result: MemoryExperiment, command: str) -> str:
    pairs = ", ".join(f"{a} / {b}" for a, b in result.pairs)
    counted = f"{len(result.pairs)} {'pair' if len(result.pairs) == 1 else 'pairs'}"
    breaths = (f"breaths, {', '.join(result.organisms)} each on turns alone (no hub, no exhale)" if result.alone
               else "cascades")
    lines = ["# Memory: does what a colony heard shape what it says later?", "", f"Reproduce with: `{command}`", "",
             f"{counted} of themes ({pairs}); probes {', '.join(repr(p) for p in result.probes)}; "
             f"{result.cascades} {breaths}. History effect (module docstring of `harmonix.lab.experiments.memory`) "
             f"after 0..{max(result.gaps)} unrelated prompts, mean [95 % interval over pairs and probes]:", "",
             "| organism | " + " | ".join(f"after {gap} between" for gap in result.gaps) + " |",
             "|---|" + "---|" * len(result.gaps)]
    found = {(e.organism, e.gap): e.effect for e in result.effects}
    for organism in result.organisms:
        cells = [f"{found[(organism, gap)].mean:+.3f} [{found[(organism, gap)].low:+.3f}, "
                 f"{found[(organism, gap)].high:+.3f}]" for gap in result.gaps]
        lines.append(f"| {organism} | " + " | ".join(cells) + " |")
    a, b = result.pairs[0]
    lines += ["", f"## The replies to {result.probes[0]!r} after {a} and after {b}", ""]
    for example in result.examples:
        lines += [f"**{example.organism}** after {a}:", "", *quoted(example.after_a), "",
                  f"**{example.organism}** after {b}:", "", *quoted(example.after_b), ""]
    return "\n".join(lines).rstrip() + "\n"


def quoted(text: str) -> list[str]:
    return [f"> {line}" if line else ">" for line in (text or "(nothing)").splitlines()]
