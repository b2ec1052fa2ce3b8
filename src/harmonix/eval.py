"""``harmonix eval``: the standing quality report of each organism, on fresh fields, with fixed seeds.

Every organism answers ``count`` prompts of a prompt set (the standard set by default, cycled in order), prompt ``i``
with seed ``i``, on a new field in a temporary home: the user's own fields are never touched and a run is
reproducible. Per organism:

- **echo** (:func:`harmonix.metrics.echo`): mean over valid replies, the share of *optimal* turns (a valid reply with
  echo < 0.2, among all replies), and the number of *invalid* replies (no content word; reported apart, never as 0);
- **form**: HAiKU, the share of haiku of exactly 5-7-5 syllables made only of CMUdict words; Sonnet, the shares of
  sonnets with 14 lines and with the full ABAB CDCD EFEF GG scheme, and of lines with 9-11 syllables;
- **distinct-2** over all replies (:func:`harmonix.metrics.distinct_n`);
- **copy rate**: the share of replies with a run of consecutive corpus words of the organism's limit (HAiKU 6
  words of its bootstrap corpus, Sonnet 8 words of Shakespeare's works, Prose 8 words of its genesis), checked
  against the corpus itself;
- **latency**: the median seconds of a whole turn.

The **cascade** (``cascade`` in ``--organisms``) is scored on the Artist's piece, the breath's final word, and adds
the mean ``global_resonance``, the Artist's provenance (mean share of its words quoted from each voice and its own)
and the number of failed stages.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from harmonix.colony import Harmonix, open_organism
from harmonix.config import Config
from harmonix.metrics import distinct_n, echo, is_optimal
from harmonix.progress import NO_PROGRESS, Progress, Tracker
from harmonix.prompts import Prompt
from harmonix.text import is_known, syllables, tokenize

ORGANISMS = ("haiku", "sonnet", "prose", "cascade")


@dataclass(frozen=True, slots=True)
class OrganismEval:
    organism: str
    replies: int
    echo_mean: float | None
    optimal_share: float
    invalid: int
    distinct_2: float | None
    copy_rate: float
    latency_median_s: float
    form: dict[str, float] = field(default_factory=dict)


def corpus_windows(texts: Iterable[str], n: int) -> set[tuple[str, ...]]:
    """Every window of ``n`` consecutive tokens of each text."""
    windows: set[tuple[str, ...]] = set()
    for text in texts:
        tokens = tokenize(text)
        windows.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return windows


def copies(text: str, windows: set[tuple[str, ...]], n: int) -> bool:
    """True if ``text`` holds ``n`` consecutive tokens that are a window of the corpus."""
    tokens = tokenize(text)
    return any(tuple(tokens[i : i + n]) in windows for i in range(len(tokens) - n + 1))


def summarize(organism: str, prompts: Sequence[str], texts: Sequence[str], seconds: Sequence[float],
              copied: int, form: dict[str, float]) -> OrganismEval:
    """The figures every organism shares (module docstring) from its replies."""
    echoes = [echo(text, prompt) for text, prompt in zip(texts, prompts, strict=True)]
    valid = [value for value in echoes if value is not None]
    return OrganismEval(
        organism=organism,
        replies=len(texts),
        echo_mean=statistics.mean(valid) if valid else None,
        optimal_share=sum(is_optimal(value) for value in echoes) / len(echoes),
        invalid=len(echoes) - len(valid),
        distinct_2=distinct_n(texts, 2),
        copy_rate=copied / len(texts),
        latency_median_s=statistics.median(seconds),
        form=form,
    )


Reply = TypeVar("Reply")


async def _answers(answer: Callable[[str, int], Awaitable[Reply]], prompts: Sequence[str], task: Tracker,
                   ) -> tuple[list[Reply], list[float]]:
    replies, seconds = [], []
    for i, prompt in enumerate(prompts):
        started = time.perf_counter()
        replies.append(await answer(prompt, i))
        seconds.append(time.perf_counter() - started)
        task.advance(figure=f"{seconds[-1]:.2f} s")
    return replies, seconds


async def eval_haiku(config: Config, prompts: Sequence[str], task: Tracker) -> OrganismEval:
    from harmonix.organisms.haiku import BUDGETS, Haiku
    from harmonix.training.haiku_bootstrap import bootstrap_layers

    async with open_organism(config, "haiku") as organism:
        assert isinstance(organism, Haiku)
        haiku = organism
        replies, seconds = await _answers(lambda prompt, seed: haiku.answer(prompt, seed=seed), prompts, task)
    windows = corpus_windows((work.text for works in bootstrap_layers().values() for work in works), 6)
    texts = [reply.text for reply in replies]
    strict = sum(tuple(sum(syllables(w) for w in line.split()) for line in reply.lines) == BUDGETS
                 and all(is_known(w) for w in tokenize(reply.text)) for reply in replies)
    return summarize("haiku", prompts, texts, seconds, sum(copies(t, windows, 6) for t in texts),
                     {"strict_5_7_5": strict / len(replies)})


async def eval_sonnet(config: Config, prompts: Sequence[str], task: Tracker) -> OrganismEval:
    from harmonix.corpora import shakespeare_works
    from harmonix.organisms.sonnet import SCHEME, Sonnet

    async with open_organism(config, "sonnet") as organism:
        assert isinstance(organism, Sonnet)
        sonnet = organism
        replies, seconds = await _answers(lambda prompt, seed: sonnet.answer(prompt, seed=seed), prompts, task)
    windows = corpus_windows((work.text for work in shakespeare_works()), 8)
    lines = [line for reply in replies for line in reply.lines]
    form = {
        "fourteen_lines": sum(len(r.lines) == 14 for r in replies) / len(replies),
        "full_scheme": sum(r.rhyme_scheme == SCHEME for r in replies) / len(replies),
        "lines_9_to_11_syllables": sum(9 <= sum(syllables(w) for w in tokenize(line)) <= 11
                                       for line in lines) / len(lines),
        "lines_copying_8_words": sum(copies(line, windows, 8) for line in lines) / len(lines),
        "lines_of_dictionary_words": sum(all(map(is_known, tokenize(line))) for line in lines) / len(lines),
    }
    texts = [reply.text for reply in replies]
    copied = sum(any(copies(line, windows, 8) for line in reply.lines) for reply in replies)
    return summarize("sonnet", prompts, texts, seconds, copied, form)


async def eval_prose(config: Config, prompts: Sequence[str], task: Tracker) -> OrganismEval:
    from harmonix.organisms.prose import Prose, genesis

    async with open_organism(config, "prose") as organism:
        assert isinstance(organism, Prose)
        prose = organism
        replies, seconds = await _answers(lambda prompt, seed: prose.answer(prompt, seed=seed), prompts, task)
    windows = corpus_windows(genesis(), 8)
    texts = [reply.text for reply in replies]
    return summarize("prose", prompts, texts, seconds, sum(copies(t, windows, 8) for t in texts),
                     {"retried_turns": sum(reply.attempts > 1 for reply in replies) / len(replies)})


async def eval_cascade(config: Config, prompts: Sequence[str], task: Tracker) -> OrganismEval:
    from harmonix.organisms.artist import ArtistReply

    async with Harmonix.open(config) as harmonix, harmonix.colony() as colony:
        results, seconds = await _answers(lambda prompt, seed: colony.cascade(prompt, seed=seed), prompts, task)
    pieces = [r.artist.reply for r in results if isinstance(r.artist.reply, ArtistReply)]
    form = {
        "global_resonance_mean": statistics.mean(r.meta.global_resonance or 0.0 for r in results),
        **{f"artist_share_{source}": statistics.mean(p.shares[source] for p in pieces) if pieces else 0.0
           for source in ("haiku", "sonnet", "prose", "artist")},
        "failed_stages": float(sum(stage.error is not None for r in results for stage in r.stages)),
        "meta_sentences": sum(r.meta.sentence is not None for r in results) / len(results),
    }
    texts = [r.artist.text or "" for r in results]
    return summarize("cascade", prompts, texts, seconds, 0, form)


EVALUATORS: dict[str, Callable[[Config, Sequence[str], Tracker], Awaitable[OrganismEval]]] = {
    "haiku": eval_haiku,
    "sonnet": eval_sonnet,
    "prose": eval_prose,
    "cascade": eval_cascade,
}


async def run_eval(prompts: Sequence[Prompt], organisms: Sequence[str], count: int,
                   progress: Progress = NO_PROGRESS, config: Config | None = None) -> list[OrganismEval]:
    """Evaluate each organism on ``count`` prompts (cycled), each on a fresh field in a temporary home (with the
    LLM and compute settings of ``config``, default: from the environment)."""
    texts = [prompts[i % len(prompts)].text for i in range(count)]
    results = []
    for organism in organisms:
        with tempfile.TemporaryDirectory(prefix=f"harmonix-eval-{organism}-") as home, \
                progress.task(f"eval {organism}", count) as task:
            fresh = replace(config, home=Path(home)) if config is not None else Config.load(Path(home))
            results.append(await EVALUATORS[organism](fresh, texts, task))
    return results


def _figure(name: str, value: float) -> str:
    if name == "failed_stages":
        return str(int(value))
    if name.endswith("_mean"):
        return f"{value:.3f}"
    return f"{value:.1%}"


def markdown_report(results: Sequence[OrganismEval], command: str) -> str:
    """The report ``--report`` writes: one table of the shared figures, one line of form figures per organism."""
    lines = ["# Evaluation", "", f"Reproduce with: `{command}`", "",
             "| organism | replies | echo mean | optimal | invalid | distinct-2 | copy rate | latency (median s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        echo_mean = "n/a" if r.echo_mean is None else f"{r.echo_mean:.4f}"
        distinct = "n/a" if r.distinct_2 is None else f"{r.distinct_2:.3f}"
        lines.append(f"| {r.organism} | {r.replies} | {echo_mean} | {r.optimal_share:.1%} | {r.invalid} | {distinct} "
                     f"| {r.copy_rate:.1%} | {r.latency_median_s:.3f} |")
    lines.append("")
    for r in results:
        figures = ", ".join(f"{name.replace('_', ' ')}: {_figure(name, value)}" for name, value in r.form.items())
        lines.append(f"- **{r.organism}**: {figures}")
    return "\n".join(lines) + "\n"
