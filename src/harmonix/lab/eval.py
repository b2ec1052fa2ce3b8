"""``harmonix eval``: the standing quality report of each organism, on fresh fields, with fixed seeds.

Every organism answers ``count`` prompts of a prompt set (the standard set by default, cycled in order), prompt ``i``
with seed ``i``, on a new field in a temporary home, one conversation each: the user's own fields are never touched
and a run is reproducible. Per organism:

- **echo** (:func:`harmonix.metrics.echo`): mean over valid replies, the share of *optimal* turns (a valid reply with
  echo < 0.2, among all replies), and the number of *invalid* replies (no content word; reported apart, never as 0);
- **prompt influence** (:mod:`harmonix.lab.judge`, the ``eval`` extra): how much closer each reply is to its own prompt
  than to the others, by an embedding model the organisms never use, with its 95 % interval; and the *lagged
  influence* at k = 0..3, how much of the prompt k turns back a reply still carries (the run is one conversation);
- **dissonance**: its mean and standard deviation over the turns, and the share of turns at 0.99 or more (an
  observer that never moves would sit at 1);
- **meta-talk** (:func:`harmonix.metatalk.meta_talk`): the share of replies that talk about their task or persona;
- **form**: HAiKU, the share of haiku of exactly 5-7-5 syllables made only of CMUdict words; Sonnet, the shares of
  sonnets with 14 lines and with the full ABAB CDCD EFEF GG scheme, and of lines with 9-11 syllables;
- **distinct-2** over all replies (:func:`harmonix.metrics.distinct_n`);
- **copy rate**: the share of replies with a run of consecutive corpus words of the organism's limit (HAiKU 6
  words of its bootstrap corpus, Sonnet 8 words of Shakespeare's works, Prose 8 words of its genesis and of the
  long-term memory), checked against the corpus itself;
- **latency**: the median seconds of a whole turn;
- **fluency** (:mod:`harmonix.lab.fluency`, with ``--fluency``): the mean nll per token of the replies and their order
  gain, by Gemma-3-270M base, a second judge no organism runs by default; beside them the same figures for
  references read by the same judge in the same run (:func:`reference_texts`): Shakespeare's sonnets for Sonnet,
  three-line excerpts of the bootstrap's poems for HAiKU, and the chatbot (below) for Prose and Artist;
- **planting** (with ``--fluency``): the mean nll of Sonnet's lines that open on a word of the lean and of Prose's
  sentence that does, each read alone, against the organism's other lines (sentences), and the gap between them:
  a planted word the line cannot carry shows as a gap above 0.

The **cascade** (``cascade`` in ``--organisms``) is scored on the Artist's piece, the breath's final word, and adds
the mean ``global_resonance``, the Artist's provenance (mean share of its words quoted from each voice and its own),
the number of failed stages, and each organism's dissonance spread within the cascades. The **chatbot** is the
reference Harmonix is not: the same LLM answering each prompt as a plain assistant (the prompt in its messages).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from harmonix.colony import Harmonix, open_organism
from harmonix.config import Config
from harmonix.lab.fluency import Fluency, FluencyJudge
from harmonix.lab.judge import FAR, LAGS, Influence, Judge
from harmonix.lab.prompts import Prompt
from harmonix.metatalk import meta_talk, meta_talk_rate
from harmonix.metrics import distinct_n, echo, is_optimal
from harmonix.organisms.base import plain
from harmonix.progress import NO_PROGRESS, Progress, Tracker
from harmonix.text import is_known, sentences, syllables, tokenize

ORGANISMS = ("haiku", "sonnet", "prose", "cascade", "chatbot")
HIGH_DISSONANCE = 0.99


@dataclass(frozen=True, slots=True)
class Spread:
    """How an observer's dissonance moved over a run: mean, standard deviation, share of turns at 0.99 or more."""

    mean: float
    std: float
    high_share: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(mean=statistics.fmean(values), std=statistics.pstdev(values),
                   high_share=sum(value >= HIGH_DISSONANCE for value in values) / len(values))


@dataclass(frozen=True, slots=True)
class Replies:
    """What an evaluator gathered: the texts, their seconds, dissonances, copies, and its own figures."""

    texts: list[str]
    seconds: list[float]
    dissonances: list[float]
    copied: int
    form: dict[str, float] = field(default_factory=dict)
    spreads: dict[str, Spread | None] = field(default_factory=dict)
    planted: tuple[list[str], list[str]] | None = None
    """The lines (Sonnet) or sentences (Prose) that open on a lean word, and the organism's other ones."""


@dataclass(frozen=True, slots=True)
class Planting:
    """The fluency of what opens on a planted lean word against the organism's other lines or sentences: each
    read alone by the fluency judge, mean nll with its 95 % interval, and ``gap = planted - others``."""

    planted: Influence
    others: Influence
    gap: float
    count: int


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
    influence: Influence | None
    lagged: dict[int, Influence] | None
    dissonance: Spread | None
    meta_talk: float
    form: dict[str, float] = field(default_factory=dict)
    spreads: dict[str, Spread | None] = field(default_factory=dict)
    fluency: Fluency | None = None
    planting: Planting | None = None


REFERENCE_LINES = 3


def reference_texts(count: int, seed: int = 0) -> dict[str, list[str]]:
    """``count`` texts of each fluency reference (module docstring), drawn with ``seed``: whole sonnets of
    Shakespeare's, and runs of :data:`REFERENCE_LINES` consecutive lines of the poems HAiKU's bootstrap was counted
    from (the length of a haiku)."""
    from harmonix.lab.corpora import shakespeare_works
    from harmonix.lab.training.haiku_bootstrap import bootstrap_layers

    rng = random.Random(seed)
    sonnets = [block for work in shakespeare_works() if work.name == "sonnets"
               for block in work.text.split("\n\n") if len(block.splitlines()) == 14]
    excerpts = []
    for work in bootstrap_layers()["poems"]:
        for stanza in work.text.split("\n\n"):
            lines = [line for line in stanza.splitlines() if line.strip()]
            excerpts += ["\n".join(lines[i:i + REFERENCE_LINES]) for i in range(0, len(lines) - REFERENCE_LINES + 1,
                                                                          REFERENCE_LINES)]
    return {"shakespeare's sonnets": rng.sample(sonnets, min(count, len(sonnets))),
            "the bootstrap's poems": rng.sample(excerpts, min(count, len(excerpts)))}


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


def summarize(organism: str, prompts: Sequence[str], replies: Replies, judge: Judge | None,
              fluency: FluencyJudge | None = None) -> OrganismEval:
    """The figures every organism shares (module docstring) from its replies."""
    texts = replies.texts
    echoes = [echo(text, prompt) for text, prompt in zip(texts, prompts, strict=True)]
    valid = [value for value in echoes if value is not None]
    return OrganismEval(
        organism=organism,
        replies=len(texts),
        echo_mean=statistics.mean(valid) if valid else None,
        optimal_share=sum(is_optimal(value) for value in echoes) / len(echoes),
        invalid=len(echoes) - len(valid),
        distinct_2=distinct_n(texts, 2),
        copy_rate=replies.copied / len(texts),
        latency_median_s=statistics.median(replies.seconds),
        influence=judge.influence(texts, prompts) if judge is not None and len(texts) > 1 else None,
        lagged=judge.lagged(texts, prompts) if judge is not None and len(texts) > 2 * FAR + 1 else None,
        dissonance=Spread.of(replies.dissonances),
        meta_talk=meta_talk_rate(texts),
        form=replies.form,
        spreads=replies.spreads,
        fluency=fluency.fluency(texts) if fluency is not None and any(text.split() for text in texts) else None,
        planting=planting(fluency, *replies.planted) if fluency is not None and replies.planted else None,
    )


def planting(fluency: FluencyJudge, planted: Sequence[str], others: Sequence[str]) -> Planting | None:
    """:class:`Planting` of the units, ``None`` unless both sides hold one."""
    planted, others = [u for u in planted if u.split()], [u for u in others if u.split()]
    if not planted or not others:
        return None
    mine, theirs = fluency.fluency(planted).nll, fluency.fluency(others).nll
    return Planting(planted=mine, others=theirs, gap=mine.mean - theirs.mean, count=len(planted))


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


async def eval_haiku(config: Config, prompts: Sequence[str], task: Tracker) -> Replies:
    from harmonix.lab.training.haiku_bootstrap import bootstrap_layers
    from harmonix.organisms.haiku import BUDGETS, Haiku

    async with open_organism(config, "haiku") as organism:
        assert isinstance(organism, Haiku)
        haiku = organism
        replies, seconds = await _answers(lambda prompt, seed: haiku.answer(prompt, seed=seed), prompts, task)
    windows = corpus_windows((work.text for works in bootstrap_layers().values() for work in works), 6)
    texts = [reply.text for reply in replies]
    strict = sum(tuple(sum(syllables(w) for w in line.split()) for line in reply.lines) == BUDGETS
                 and all(is_known(w) for w in tokenize(reply.text)) for reply in replies)
    return Replies(texts, seconds, [reply.dissonance for reply in replies], sum(copies(t, windows, 6) for t in texts),
                   {"strict_5_7_5": strict / len(replies)})


async def eval_sonnet(config: Config, prompts: Sequence[str], task: Tracker) -> Replies:
    from harmonix.lab.corpora import shakespeare_works
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
        "phases_seen": float(len({reply.phase for reply in replies})),
    }
    copied = sum(any(copies(line, windows, 8) for line in reply.lines) for reply in replies)
    planted = ([line for r in replies for i, line in enumerate(r.lines) if i in r.planted],
               [line for r in replies for i, line in enumerate(r.lines) if i not in r.planted])
    return Replies([reply.text for reply in replies], seconds, [reply.dissonance for reply in replies], copied, form,
                   planted=planted)


def meta_talk_attempts(replies: Sequence[Any]) -> float:
    """The share of a Prose's attempts (kept or rejected) that talked about its task or itself: what the model
    does before the guard (:mod:`harmonix.organisms.prose`) keeps such a reply out of the field."""
    attempts = sum(reply.attempts for reply in replies)
    talked = sum(why.startswith("talks about its task") for reply in replies for why in reply.rejected)
    return (talked + sum(meta_talk(reply.text) is not None for reply in replies)) / attempts if attempts else 0.0


async def eval_prose(config: Config, prompts: Sequence[str], task: Tracker) -> Replies:
    from harmonix.engines.memory import Memory
    from harmonix.organisms.prose import Prose, genesis

    async with open_organism(config, "prose") as organism:
        assert isinstance(organism, Prose)
        prose = organism
        replies, seconds = await _answers(lambda prompt, seed: prose.answer(prompt, seed=seed), prompts, task)
    windows = corpus_windows([*genesis(), *Memory.load().texts], 8)
    texts = [reply.text for reply in replies]
    form = {"retried_turns": sum(reply.attempts > 1 for reply in replies) / len(replies),
            "meta_talk_in_attempts": meta_talk_attempts(replies),
            "memories_per_turn_mean": statistics.mean(reply.memories for reply in replies),
            "tokens_per_s": statistics.median(reply.tokens_per_s for reply in replies)}
    cut = [(reply, sentences(reply.text)) for reply in replies]
    planted = ([parts[0] for reply, parts in cut if reply.first and parts],
               [part for reply, parts in cut for part in (parts[1:] if reply.first else parts)])
    return Replies(texts, seconds, [reply.dissonance for reply in replies], sum(copies(t, windows, 8) for t in texts),
                   form, planted=planted)


async def eval_cascade(config: Config, prompts: Sequence[str], task: Tracker) -> Replies:
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
    spreads = {stage: Spread.of([d for r in results if (d := getattr(r, stage).dissonance) is not None])
               for stage in ("haiku", "sonnet", "prose", "artist")}
    resonances = [r.meta.global_resonance for r in results if r.meta.global_resonance is not None]
    spreads["global_resonance"] = Spread.of(resonances)
    artist = [r.artist.dissonance for r in results if r.artist.dissonance is not None]
    return Replies([r.artist.text or "" for r in results], seconds, artist, 0, form, spreads)


CHATBOT_SYSTEM = "You are a helpful assistant. Answer in one short paragraph."


async def eval_chatbot(config: Config, prompts: Sequence[str], task: Tracker) -> Replies:
    """The reference: the same LLM as Prose answering each prompt directly (module docstring)."""
    from harmonix.engines.llm import Sampling
    from harmonix.engines.shared import SharedEngines
    from harmonix.organisms.prose import MAX_TOKENS

    async with SharedEngines.open({"prose": config.llm("prose")}) as engines:
        engine = await engines.llm("prose")

        async def answer(prompt: str, seed: int) -> str:
            messages = [{"role": "system", "content": CHATBOT_SYSTEM}, {"role": "user", "content": prompt}]
            return (await engine.chat(messages, Sampling(max_tokens=MAX_TOKENS, temperature=0.7, seed=seed))).text

        texts, seconds = await _answers(answer, prompts, task)
    return Replies([" ".join(text.split()) for text in texts], seconds, [], 0)


EVALUATORS: dict[str, Callable[[Config, Sequence[str], Tracker], Awaitable[Replies]]] = {
    "haiku": eval_haiku,
    "sonnet": eval_sonnet,
    "prose": eval_prose,
    "cascade": eval_cascade,
    "chatbot": eval_chatbot,
}


async def run_eval(prompts: Sequence[Prompt], organisms: Sequence[str], count: int,
                   progress: Progress = NO_PROGRESS, config: Config | None = None,
                   judge: Judge | None = None, fluency: FluencyJudge | None = None) -> list[OrganismEval]:
    """Evaluate each organism on ``count`` prompts (cycled), each on a fresh field in a temporary home (with the
    LLM and compute settings of ``config``, default: from the environment); ``judge`` scores prompt influence,
    ``fluency`` the fluency."""
    texts = [prompts[i % len(prompts)].text for i in range(count)]
    results = []
    for organism in organisms:
        with tempfile.TemporaryDirectory(prefix=f"harmonix-eval-{organism}-") as home, \
                progress.task(f"eval {organism}", count) as task:
            fresh = replace(config, home=Path(home)) if config is not None else Config.load(Path(home))
            replies = await EVALUATORS[organism](fresh, texts, task)
        results.append(summarize(organism, texts, replies, judge, fluency))
    return results


def _figure(name: str, value: float) -> str:
    if name in ("failed_stages", "phases_seen"):
        return str(int(value))
    if name.endswith("_mean") or name.endswith("per_s"):
        return f"{value:.3f}"
    return f"{value:.1%}"


def _influence(value: Mapping[str, Any] | None) -> str:
    return "n/a" if value is None else f"{value['mean']:+.3f} [{value['low']:+.3f}, {value['high']:+.3f}]"


def _spread(value: Mapping[str, Any] | None) -> str:
    if value is None:
        return "n/a"
    return f"{value['mean']:.2f} ± {value['std']:.2f} ({value['high_share']:.0%} ≥ 0.99)"


def _table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["| organism | replies | echo mean | optimal | invalid | prompt influence [95 % CI] | dissonance "
             "(mean ± sd, share ≥ 0.99) | meta-talk | distinct-2 | copy rate | latency (median s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        echo_mean = "n/a" if r["echo_mean"] is None else f"{r['echo_mean']:.4f}"
        distinct = "n/a" if r["distinct_2"] is None else f"{r['distinct_2']:.3f}"
        lines.append(f"| {r['organism']} | {r['replies']} | {echo_mean} | {r['optimal_share']:.1%} | {r['invalid']} "
                     f"| {_influence(r['influence'])} | {_spread(r['dissonance'])} | {r['meta_talk']:.1%} "
                     f"| {distinct} | {r['copy_rate']:.1%} | {r['latency_median_s']:.3f} |")
    return lines


def _lags(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The lagged influence of each organism (module docstring), one column per lag."""
    judged = [r for r in results if r.get("lagged")]
    if not judged:
        return []
    lines = ["Lagged influence: the prompt k turns back against prompts more than "
             f"{FAR} turns away (mean [95 % CI]).", "",
             "| organism | " + " | ".join(f"k = {lag}" for lag in LAGS) + " |", "|---|" + "---|" * len(LAGS)]
    for r in judged:
        cells = [_influence(r["lagged"].get(lag, r["lagged"].get(str(lag)))) for lag in LAGS]
        lines.append(f"| {r['organism']} | " + " | ".join(cells) + " |")
    return ["", *lines]


def _fluency(results: Sequence[Mapping[str, Any]], references: Mapping[str, Any] | None) -> list[str]:
    """Each organism's fluency and the references' (module docstring), in one table."""
    rows = [(r["organism"], r["fluency"]) for r in results if r.get("fluency")]
    rows += [(f"*{name}* (reference)", value) for name, value in (references or {}).items()]
    if not rows:
        return []
    lines = ["", "Fluency by Gemma-3-270M base (`harmonix.lab.fluency`): nll per token (lower: likelier) and order "
             "gain (the nll of the words shuffled within each line minus the text's; higher: the order carries more "
             "sense), mean [95 % CI].", "", "| texts | nll | order gain |", "|---|---|---|"]
    lines += [f"| {name} | {_influence(value['nll'])} | {_influence(value['order_gain'])} |" for name, value in rows]
    planted = [(r["organism"], r["planting"]) for r in results if r.get("planting")]
    if planted:
        lines += ["", "Planting: the nll of the lines (sentences) that open on a lean word, each read alone, against "
                  "the organism's other ones (mean [95 % CI]; gap = planted - others).", "",
                  "| organism | planted | nll planted | nll others | gap |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {value['count']} | {_influence(value['planted'])} | {_influence(value['others'])} "
                  f"| {value['gap']:+.3f} |" for name, value in planted]
    return lines


def _details(results: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        figures = ", ".join(f"{name.replace('_', ' ')}: {_figure(name, value)}" for name, value in r["form"].items())
        spreads = "; ".join(f"{name} dissonance {_spread(value)}" for name, value in r["spreads"].items())
        lines.append(f"- **{r['organism']}**: " + "; ".join(part for part in (figures, spreads) if part))
    return lines


def markdown_report(results: Sequence[OrganismEval], command: str, before: Mapping[str, Any] | None = None,
                    references: Mapping[str, Fluency] | None = None) -> str:
    """The report ``--report`` writes: one table of the shared figures, one line of form figures per organism; with
    ``before`` (an earlier ``harmonix eval --json`` document, its ``label`` saying what it measured) the same for
    it, to compare."""
    now = [plain(r) for r in results]
    lines = ["# Evaluation", "", f"Reproduce with: `{command}`", "", *_table(now), *_lags(now),
             *_fluency(now, plain(references) if references else None), "", *_details(now)]
    if before is not None:
        lines += ["", f"## Before: {before.get('label', 'an earlier run')}", "", *_table(before["results"]),
                  *_lags(before["results"]), *_fluency(before["results"], before.get("fluency_references")), "",
                  *_details(before["results"])]
    return "\n".join(lines) + "\n"
