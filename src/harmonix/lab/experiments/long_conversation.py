"""``harmonix experiment long-conversation``: does a colony stay alive over a long conversation?

A field is a crystal that grows around what it says: an organism that keeps taking its own words back could narrow
to a few phrases over a long conversation. One colony, on a fresh home, breathes ``cascades`` times (the standard
prompts in order, cycled; cascade ``i`` with seed ``i``). Per organism (HAiKU, Sonnet, Prose, and Artist's *own*
lines, its quotations left out):

- *distinct-2* (:func:`harmonix.metrics.distinct_n`) over its first ``WINDOW`` replies and over its last
  ``WINDOW``, and their ratio (alive: at least ``ALIVE_RATIO``);
- its most *recurring own 4-gram*: for every word 4-gram, the share of its replies that hold it; the largest share
  and the 4-gram (alive: at most ``MAX_RECURRING``);
- its mean echo of the prompt.

And for the whole conversation: failed stages, and Prose's meta-talk: the share of its attempts (kept or rejected)
that talked about its task or itself, and the share of its kept replies that do (the guard keeps this at 0).
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harmonix.colony import Harmonix
from harmonix.config import Config
from harmonix.lab.eval import meta_talk_attempts
from harmonix.lab.prompts import standard_prompts
from harmonix.meta import CascadeResult
from harmonix.metatalk import meta_talk_rate
from harmonix.metrics import distinct_n, echo
from harmonix.organisms.artist import ARTIST, ArtistReply
from harmonix.organisms.base import ORGANISMS
from harmonix.organisms.prose import ProseReply
from harmonix.progress import NO_PROGRESS, Progress
from harmonix.text import ngrams, tokenize

WINDOW = 20
ALIVE_RATIO = 0.8
MAX_RECURRING = 0.05


@dataclass(frozen=True, slots=True)
class Life:
    """How one organism's replies changed over the conversation (module docstring)."""

    organism: str
    replies: int
    distinct_2_first: float | None
    distinct_2_last: float | None
    ratio: float | None
    recurring_4gram: str | None
    recurring_share: float
    echo_mean: float | None

    @property
    def alive(self) -> bool:
        return self.ratio is not None and self.ratio >= ALIVE_RATIO and self.recurring_share <= MAX_RECURRING


@dataclass(frozen=True, slots=True)
class LongConversation:
    cascades: int
    failed_stages: int
    prose_meta_talk_in_attempts: float
    prose_meta_talk_kept: float
    seconds_per_cascade_median: float
    lives: tuple[Life, ...]


def most_recurring(texts: Sequence[str], n: int = 4) -> tuple[str | None, float]:
    """The word n-gram held by the largest share of ``texts`` (each text counted once), and that share."""
    held: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        held.update(set(ngrams(tokenize(text), n)))
    if not held:
        return None, 0.0
    gram, count = min(held.items(), key=lambda item: (-item[1], item[0]))
    return " ".join(gram), count / len(texts)


def life(organism: str, texts: Sequence[str], prompts: Sequence[str]) -> Life:
    first, last = distinct_n(texts[:WINDOW], 2), distinct_n(texts[-WINDOW:], 2)
    gram, share = most_recurring(texts)
    echoes = [value for text, prompt in zip(texts, prompts, strict=True) if (value := echo(text, prompt)) is not None]
    return Life(organism=organism, replies=len(texts), distinct_2_first=first, distinct_2_last=last,
                ratio=last / first if first and last is not None else None, recurring_4gram=gram,
                recurring_share=share, echo_mean=statistics.mean(echoes) if echoes else None)


def own_text(organism: str, result: CascadeResult) -> str | None:
    """What ``organism`` itself said in a cascade: Artist's own lines only, the others' whole text."""
    stage = getattr(result, organism)
    if organism == ARTIST and isinstance(stage.reply, ArtistReply):
        return "\n".join(span.text for span in stage.reply.spans if span.source == ARTIST)
    return stage.text


async def run_long_conversation(cascades: int, base: Config, progress: Progress = NO_PROGRESS) -> LongConversation:
    prompts = standard_prompts()
    results: list[CascadeResult] = []
    seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="harmonix-long-") as home, \
            progress.task("experiment long-conversation", cascades) as task:
        config = dataclasses.replace(base, home=Path(home))
        async with Harmonix.open(config) as harmonix, harmonix.colony() as colony:
            for i in range(cascades):
                started = time.perf_counter()
                results.append(await colony.cascade(prompts[i % len(prompts)], seed=i))
                seconds.append(time.perf_counter() - started)
                task.advance(figure=f"{seconds[-1]:.1f} s")
    lives = []
    for organism in ORGANISMS:
        said = [(text, result.prompt) for result in results if (text := own_text(organism, result))]
        lives.append(life(organism, [text for text, _ in said], [prompt for _, prompt in said]))
    prose = [reply for result in results if isinstance(reply := result.prose.reply, ProseReply)]
    return LongConversation(
        cascades=cascades,
        failed_stages=sum(stage.error is not None for result in results for stage in result.stages),
        prose_meta_talk_in_attempts=meta_talk_attempts(prose),
        prose_meta_talk_kept=meta_talk_rate([reply.text for reply in prose]),
        seconds_per_cascade_median=statistics.median(seconds),
        lives=tuple(lives),
    )


def markdown(result: LongConversation, command: str) -> str:
    lines = ["# A long conversation", "", f"Reproduce with: `{command}`", "",
             f"{result.cascades} cascades in one colony; {result.failed_stages} failed stages; Prose's meta-talk: "
             f"{result.prose_meta_talk_in_attempts:.1%} of its attempts, {result.prose_meta_talk_kept:.1%} of its "
             f"kept replies; median {result.seconds_per_cascade_median:.1f} s per cascade.", "",
             f"| organism | replies | distinct-2 first {WINDOW} | distinct-2 last {WINDOW} | ratio (≥ {ALIVE_RATIO}) "
             f"| most recurring own 4-gram | in replies (≤ {MAX_RECURRING:.0%}) | echo mean | alive |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result.lives:
        def number(value: float | None, form: str = ".3f") -> str:
            return "n/a" if value is None else format(value, form)

        lines.append(f"| {r.organism} | {r.replies} | {number(r.distinct_2_first)} | {number(r.distinct_2_last)} "
                     f"| {number(r.ratio, '.2f')} | {r.recurring_4gram or 'n/a'} | {r.recurring_share:.1%} "
                     f"| {number(r.echo_mean)} | {'yes' if r.alive else 'no'} |")
    return "\n".join(lines) + "\n"
