"""HAiKU: the weightless organism. Strict 5-7-5 from its own field.

Maximum constraint: no trained weights, a core vocabulary of about 500 words (``data/haiku/core_vocabulary.txt``),
three lines of exactly 5, 7 and 5 syllables by CMUdict. HAiKU never seeds from the prompt. The prompt *wrinkles* its
field (its trigrams and words are counted as heard; how foreign it is to the field sets the temperature; what it calls
up in the field bends the walk) and HAiKU answers from the field.

**The field HAiKU walks** is two layers:

- the *bootstrap*: trigram counts of public-domain poetry restricted to the core vocabulary (built by
  ``harmonix train haiku``, shipped as ``data/haiku/bootstrap.json.gz``; loaded once per process, never mutated),
  poems at weight 1 and Shakespeare's plays at ``LAYER_WEIGHTS["plays"]`` (their verse multiplies the paths, their
  dialogue must not set the tone);
- its *field*: what it has said and heard, its ``FIELD_TRIGRAMS`` most frequent trigrams and the trigrams
  of the prompt it is answering, each weighing ``OWN_WEIGHT * log2(1 + own) + HEARD_WEIGHT * log2(1 + heard)`` on
  top of its bootstrap count (saturating: a path walked a hundred times is not a hundred times heavier). A trigram
  joins only when all three of its words are *admitted*: in the core vocabulary, or met at least ``ADMIT_AFTER``
  times by the field and known to CMUdict.

**Habituation.** An organism tires of what it has just said: during the walk, a bigram used ``k`` times in HAiKU's
last ``HABIT_MEMORY`` haiku has its transition weight multiplied by ``HABITUATION ** k``. Long-term, what HAiKU says
reinforces its field; short-term, it does not repeat itself. Measured over 500 haiku of the standard prompts:
distinct-2 0.622 with habituation, 0.504 without (``HABITUATION = 1``).

**Listening** (:mod:`harmonix.organisms.listening`). The prompt's dissonance ``d`` with HAiKU's field and the shared
memory sets the temperature; the words the prompt calls up (what its words mean, and what the memory associates with
them) that are in HAiKU's core vocabulary form its *lean*, the strongest weighing 1; the prompt's words that are
HAiKU's own words too weigh 1 as well (:meth:`~harmonix.organisms.listening.Listening.walking_lean`: HAiKU only ever
steps on words of its own vocabulary, so "sea" in a haiku is HAiKU's word, called up, never the user's sentence).
The walk leans towards them (each word's transition weight times ``exp(LEAN_STRENGTH * weight)``),
``LEANING_OPENINGS`` candidates open on one of them (a pair of the bootstrap ending in it, drawn by weight), and
:func:`score` rewards a haiku that carries them, choosing among ``CANDIDATES`` walks. Only one prompt word counts
towards the choice, and the echo penalty keeps the prompt's words few: over the standard prompts the mean echo is
about 0.08 (docs/eval.md).

**What it remembers.** Its field: every prompt's trigrams count as heard and weigh into the walk, and its reflection
opens candidates of the next turn. HAiKU listens to the present prompt alone
(:func:`~harmonix.organisms.listening.listen` with ``recall=False``): letting earlier prompts linger in its lean too, as
Sonnet, Prose and Artist do, lowered the share of images in its chosen haiku from 0.269 to 0.237 over 60 standard turns
(its choice then chased what earlier prompts called up) and distinct-2 over 500 from 0.583 to 0.576. A prompt that names
no subject ("Tell me more.") is the exception: listening then leans on the prompts heard before it, for HAiKU as for the
others, so only then does its snapshot carry them (``HEARD_TURNS`` disturbances). How much its field carries is measured
by ``harmonix experiment memory`` (docs/results/evaluation.md, "Memory"): one probe after three prompts of a theme,
+0.032 [-0.002, +0.065] at ``bbb984a`` (+0.038 [+0.008, +0.069] one run earlier, at ``75b5146``; -0.015 at ``5bb0ffe``)
on five pairs of themes, +0.041 [+0.010, +0.072] on ten at ``5a0a852``, +0.042 [+0.005, +0.078] on the ten at
``e4445a3`` (docs/experiments/memory-opener.md). How it fades, on the ten at ``fb9da4f`` (memory-decay.md): +0.047
[+0.015, +0.079] one probe after the block, +0.047 [+0.014, +0.080] after one unrelated prompt, +0.008 [-0.023,
+0.041] after six.

**One turn**, all under HAiKU's field lock and in one transaction (:meth:`Haiku.answer`):

1. wrinkle the field with the prompt;
2. snapshot it and listen: dissonance ``d``, the lean, the pulse, and the temperature
   ``T = T_LOW + (T_HIGH - T_LOW) * d`` (:mod:`harmonix.observer`);
3. compose off the event loop: ``CANDIDATES`` walks of exactly 5-7-5 syllables (:mod:`harmonix.engines.markov`),
   each rejected if any six consecutive words copy the bootstrap corpus, then the best by :func:`score`;
4. reflect: the inner voice, one more haiku walked from a state that ends in a word of the prompt HAiKU knows, i.e.
   what it heard thought over in its own words, ingested as ``source="reflection"``; the next turn's first
   ``THOUGHT_OPENINGS`` candidates begin where this thought began;
5. ingest its own haiku and record the turn's metrics.

**Why a reflection, and no rings.** HAiKU never seeds its answer from the prompt's sentence; without an inner voice
a prompt would leave no trace after its own turn. The reflection carries the *theme* of a prompt, in HAiKU's own
vocabulary, into the next turn, where ``THOUGHT_OPENINGS`` candidates start from it and the scorer decides whether
one wins (with fewer, the lean of the new prompt outweighed it). Its effect
is measured by ``tests/test_haiku.py::test_reflection_carries_the_theme_into_the_next_turn``: with the same prompts
and seeds, the share of a haiku's content words taken from the *previous* prompt is higher with reflection than
without, while echo of the current prompt stays low. A first design, a reflection along the least-travelled paths
meant to keep HAiKU diverse, measured *lower* distinct-2 (0.623 against 0.647 without it, 500 haiku) once
habituation was in place, so it was replaced. The ancestors' "rings of expansion" wrote to tables their generator
never read; none of them is here, because nothing stays that has no measured effect.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import json
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from harmonix.config import Config
from harmonix.engines.markov import Habituation, MarkovChain, State, Walk, Walker
from harmonix.engines.memory import Memory
from harmonix.errors import CompositionFailed
from harmonix.field import SELF_SOURCE, Field, FieldSnapshot, RowLedger, SnapshotSpec
from harmonix.metrics import echo
from harmonix.observer import Pulse, pulse, temperature
from harmonix.organisms.base import FieldOrganism, Stimulus, reply_details
from harmonix.organisms.listening import HEARD_TURNS, Listening, listen, lookup, subject_of
from harmonix.text import STOPWORDS, content_words, is_known, syllables, tokenize, trigrams, validate_text

if TYPE_CHECKING:
    from harmonix.engines.shared import SharedEngines

NAME = "haiku"
BUDGETS = (5, 7, 5)
CANDIDATES = 32
ATTEMPTS_PER_CANDIDATE = 4
ADMIT_AFTER = 3
OWN_WEIGHT = 1.0
HEARD_WEIGHT = 0.5
FIELD_TRIGRAMS = 1024
HABIT_MEMORY = 256
HABITUATION = 0.25
LAYER_WEIGHTS = {"poems": 1.0, "plays": 0.25}
FRESHNESS_MEMORY = 8
T_LOW, T_HIGH = 0.6, 1.1
LEAN_STRENGTH = 2.5
LEANING_OPENINGS = CANDIDATES // 2
THOUGHT_OPENINGS = CANDIDATES // 2
REFLECTION_TEMPERATURE = 1.0
REFLECTION_SOURCE = "reflection"
# The sections of the vocabulary file that hold images (the rest join and move them).
NON_IMAGERY_SECTIONS = ("joining words", "qualities", "doing and being")


# --- the bootstrap: vocabulary and poetry, loaded once per process -------------------------------------------------


def read_vocabulary(text: str) -> dict[str, frozenset[str]]:
    """Section name -> words. A comment line names the section of the word lines after it (up to a colon)."""
    sections: dict[str, set[str]] = {}
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            current = stripped.lstrip("# ").split(":")[0]
        elif stripped:
            sections.setdefault(current, set()).update(stripped.split())
    return {name: frozenset(words) for name, words in sections.items()}


@dataclass(frozen=True)
class Bootstrap:
    """The immutable base layer: core vocabulary, imagery words, the bootstrap chain and its copy windows."""

    vocabulary: frozenset[str]
    imagery: frozenset[str]
    words: frozenset[str]
    chain: MarkovChain
    copy_hashes: frozenset[str]
    copy_window: int
    states_ending_in: Mapping[str, tuple[State, ...]]


def _data(name: str) -> bytes:
    return resources.files("harmonix").joinpath("data", "haiku", name).read_bytes()


def load_bootstrap() -> Bootstrap:
    """The packaged vocabulary and bootstrap field, each layer weighted by ``LAYER_WEIGHTS``. A process loads it
    once (:meth:`Haiku.build` through :class:`~harmonix.engines.shared.SharedEngines`) and every colony shares it."""
    sections = read_vocabulary(_data("core_vocabulary.txt").decode("utf-8"))
    vocabulary = frozenset().union(*sections.values())
    imagery = frozenset().union(*(words for name, words in sections.items() if name not in NON_IMAGERY_SECTIONS))
    document = json.loads(gzip.decompress(_data("bootstrap.json.gz")))
    weights = [LAYER_WEIGHTS[layer] for layer in document["layers"]]

    def weigh(counts: Sequence[int]) -> float:
        return sum(w * n for w, n in zip(weights, counts, strict=True))

    chain = MarkovChain.from_counts(((w1, w2, w3, weigh(counts)) for w1, w2, w3, *counts in document["trigrams"]),
                                    ((w1, w2, weigh(counts)) for w1, w2, *counts in document["starts"]))
    states_ending_in: dict[str, list[State]] = {}
    for state in sorted(chain.transitions):
        states_ending_in.setdefault(state[1], []).append(state)
    return Bootstrap(vocabulary=vocabulary, imagery=imagery, words=frozenset(document["words"]), chain=chain,
                     copy_hashes=frozenset(document["copy_hashes"]), copy_window=document["copy_window"],
                     states_ending_in={word: tuple(states) for word, states in states_ending_in.items()})


def copies_corpus(words: Sequence[str], bootstrap: Bootstrap) -> bool:
    """True if any ``copy_window`` (6) consecutive words of ``words`` occur in the bootstrap corpus."""
    n = bootstrap.copy_window
    return any(_window_hash(words[i : i + n]) in bootstrap.copy_hashes for i in range(len(words) - n + 1))


def _window_hash(words: Sequence[str]) -> str:
    return hashlib.blake2b(" ".join(words).encode(), digest_size=8).hexdigest()


# --- the chain of one turn -----------------------------------------------------------------------------------------


def admitted_words(snapshot: FieldSnapshot, bootstrap: Bootstrap) -> frozenset[str]:
    """Core vocabulary plus the words the field has met at least ``ADMIT_AFTER`` times that CMUdict knows."""
    heard_enough = {w.word for w in snapshot.words if w.count >= ADMIT_AFTER and is_known(w.word)}
    return bootstrap.vocabulary | heard_enough


def turn_chain(prompt: str, snapshot: FieldSnapshot, bootstrap: Bootstrap) -> MarkovChain:
    """Bootstrap chain + the field's trigrams over admitted words (weights in the module docstring), with the
    opening pairs of its recent texts as extra openings. The prompt's trigrams count as heard once."""
    admitted = admitted_words(snapshot, bootstrap)
    field_counts = {t.words: (t.own, t.heard) for t in snapshot.trigrams}
    for trigram in trigrams(tokenize(prompt)):
        field_counts.setdefault(trigram, (0, 1))
    rows = [(w1, w2, w3, OWN_WEIGHT * math.log2(1 + own) + HEARD_WEIGHT * math.log2(1 + heard))
            for (w1, w2, w3), (own, heard) in field_counts.items()
            if w1 in admitted and w2 in admitted and w3 in admitted]
    openings = []
    for text in snapshot.recent:
        tokens = tokenize(text.body)
        if len(tokens) >= 2 and tokens[0] in admitted and tokens[1] in admitted:
            openings.append((tokens[0], tokens[1], 1.0))
    return bootstrap.chain.with_delta(MarkovChain.from_counts(rows, openings))


@functools.lru_cache(maxsize=4 * HABIT_MEMORY)
def _bigrams(body: str) -> tuple[tuple[str, str], ...]:
    """The bigrams of a text (memoized: the same recent haiku are read on every turn)."""
    tokens = tokenize(body)
    return tuple(zip(tokens, tokens[1:], strict=False))


def habituation(snapshot: FieldSnapshot) -> Habituation:
    """``k * log(HABITUATION)`` for each bigram used ``k`` times in HAiKU's recent haiku, by previous word."""
    used: Counter[tuple[str, str]] = Counter()
    for text in snapshot.recent:
        if text.source == SELF_SOURCE:
            used.update(_bigrams(text.body))
    habits: dict[str, dict[str, float]] = {}
    for (previous, word), k in used.items():
        habits.setdefault(previous, {})[word] = k * math.log(HABITUATION)
    return habits


# --- choosing among candidates -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A finished walk and its chain log-probability per word."""

    walk: Walk
    log_probability: float

    @property
    def lines(self) -> tuple[tuple[str, ...], ...]:
        return self.walk.lines

    @property
    def words(self) -> tuple[str, ...]:
        return self.walk.words

    @property
    def text(self) -> str:
        return "\n".join(" ".join(line) for line in self.lines)


def score(candidate: Candidate, *, fluency: float, prompt: str, recent_words: frozenset[str],
          bootstrap: Bootstrap, listening: Listening) -> float:
    """How good a haiku a candidate is, in [-0.3, 2.8]. A weighted sum of features, each in [0, 1] but ``leaning``:

    - ``imagery`` (0.35): share of its words that are images (nature, time, body, light, sound);
    - ``endings`` (0.30): share of its lines ending on a word of three letters or more (the search already keeps
      function words from ending a line; this prefers "stone" to "me");
    - ``leaning`` (0.60): :meth:`~harmonix.organisms.listening.Listening.choosing` of its words, at most 3 (three
      strong words the prompt called up, or one and a word of the prompt, or more weaker ones): how much of what the
      prompt called up it carries;
    - ``freshness`` (0.25): ``1 - Jaccard`` of its content words and those of HAiKU's last ``FRESHNESS_MEMORY`` haiku;
    - ``fluency`` (0.10): its chain log-probability per word, rescaled to [0, 1] across the candidates;

    minus ``0.3 * echo(candidate, prompt)``: HAiKU answers from its field, not with the user's words.
    """
    words = candidate.words
    imagery = sum(word in bootstrap.imagery for word in words) / len(words)
    endings = sum(line[-1] not in STOPWORDS and len(line[-1]) >= 3 for line in candidate.lines) / len(candidate.lines)
    mine = set(content_words(words))
    union = mine | recent_words
    freshness = 1.0 - len(mine & recent_words) / len(union) if union else 1.0
    echoed = echo(candidate.text, prompt) or 0.0
    leaning = min(3.0, listening.choosing(words))
    return 0.35 * imagery + 0.30 * endings + 0.60 * leaning + 0.25 * freshness + 0.10 * fluency - 0.3 * echoed


@dataclass(frozen=True, slots=True)
class Composition:
    """The chosen haiku, how many candidates it beat, its score, and the reflection (if one could be walked)."""

    chosen: Candidate
    candidates: int
    score: float
    reflection: Candidate | None


def closes_line(word: str) -> bool:
    """A haiku line may end on a content word only, never on "the", "of", "and" …"""
    return word not in STOPWORDS


def compose(prompt: str, snapshot: FieldSnapshot, bootstrap: Bootstrap, listening: Listening,
            rng: np.random.Generator, t: float, *, reflect: bool = True) -> Composition:
    """Walk ``CANDIDATES`` haiku from the turn's chain, choose the best, and walk a reflection. Pure CPU work."""
    chain = turn_chain(prompt, snapshot, bootstrap)
    lean = listening.walking_lean(bootstrap.vocabulary.__contains__)
    walker = Walker(chain, temperature=t, rng=rng, habituation=habituation(snapshot),
                    lean={word: LEAN_STRENGTH * weight for word, weight in lean.items()})

    def accept(words: tuple[str, ...]) -> bool:
        return not copies_corpus(words, bootstrap)

    found: dict[tuple[str, ...], Candidate] = {}
    thought = _last_thought(snapshot, chain)
    for attempt in range(CANDIDATES * ATTEMPTS_PER_CANDIDATE):
        if len(found) == CANDIDATES:
            break
        opening = (thought if attempt < THOUGHT_OPENINGS and thought is not None else
                   _leaning_opening(lean, bootstrap, chain, rng)
                   if THOUGHT_OPENINGS <= attempt < THOUGHT_OPENINGS + LEANING_OPENINGS else None)
        opening = opening or chain.draw_opening(t, rng)
        walk = walker.walk(BUDGETS, syllables, opening, closes_line=closes_line, accept=accept)
        if walk is not None and walk.words not in found:
            found[walk.words] = Candidate(walk, chain.log_probability(walk.words) / len(walk.words))
    if not found:
        raise CompositionFailed("HAiKU's field has no path of 5-7-5 syllables left to walk")
    candidates = list(found.values())
    low = min(c.log_probability for c in candidates)
    high = max(c.log_probability for c in candidates)
    own_recent = [text for text in snapshot.recent if text.source == SELF_SOURCE][:FRESHNESS_MEMORY]
    recent = frozenset(word for text in own_recent for word in content_words(tokenize(text.body)))
    scored = [(score(c, fluency=(c.log_probability - low) / (high - low) if high > low else 1.0, prompt=prompt,
                     recent_words=recent, bootstrap=bootstrap, listening=listening), c) for c in candidates]
    best_score, best = max(scored, key=lambda pair: pair[0])
    reflection = _reflect(prompt, best, walker, bootstrap, admitted_words(snapshot, bootstrap)) if reflect else None
    return Composition(chosen=best, candidates=len(candidates), score=best_score, reflection=reflection)


def _leaning_opening(lean: Mapping[str, float], bootstrap: Bootstrap, chain: MarkovChain,
                     rng: np.random.Generator) -> State | None:
    """A pair of the bootstrap ending in a word of ``lean`` (drawn by weight) that the chain walks on from;
    ``None`` when the lean holds no such word."""
    words = sorted(word for word in lean if word in bootstrap.states_ending_in)
    if not words:
        return None
    weights = np.array([lean[word] for word in words])
    word = words[int(rng.choice(len(words), p=weights / weights.sum()))]
    states = [state for state in bootstrap.states_ending_in[word] if chain.successors(state) is not None]
    return states[int(rng.integers(len(states)))] if states else None


def _reflect(prompt: str, answer: Candidate, walker: Walker, bootstrap: Bootstrap,
             admitted: frozenset[str]) -> Candidate | None:
    """The inner voice: a haiku HAiKU walks from a state ending in a word of the prompt it knows, i.e. what it
    heard, thought over in its own words. ``None`` when the prompt holds no such word or no walk is found."""
    known = sorted({word for word in content_words(tokenize(prompt)) if word in admitted}
                   & bootstrap.states_ending_in.keys())
    if not known:
        return None
    rng = walker.rng
    states = bootstrap.states_ending_in[known[int(rng.integers(len(known)))]]
    for index in rng.permutation(len(states))[:ATTEMPTS_PER_CANDIDATE]:
        walk = walker.walk(BUDGETS, syllables, states[index], closes_line=closes_line,
                           accept=lambda words: not copies_corpus(words, bootstrap) and words != answer.words)
        if walk is not None:
            return Candidate(walk, walker.chain.log_probability(walk.words) / len(walk.words))
    return None


def _last_thought(snapshot: FieldSnapshot, chain: MarkovChain) -> State | None:
    """Where HAiKU's last reflection began (its first two words), if the chain can walk on from there."""
    for text in snapshot.recent:
        if text.source == REFLECTION_SOURCE:
            tokens = tokenize(text.body)
            state = (tokens[0], tokens[1])
            return state if chain.successors(state) is not None else None
    return None


# --- the organism --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HaikuReply:
    """One answer: the haiku and the observer's numbers for this turn."""

    text: str
    lines: tuple[str, ...]
    syllables: tuple[int, ...]
    dissonance: float
    temperature: float
    pulse: Pulse
    seed: int
    candidates: int
    score: float
    reflection: str | None
    compose_ms: float

    def details(self) -> dict[str, Any]:
        return reply_details(self)


def snapshot_spec(prompt: str, memory: Memory) -> SnapshotSpec:
    """What HAiKU reads of its field for one turn: its recent texts (habituation, freshness), its strongest
    trigrams, the words it has met often enough to admit, and the words listening needs (the prompt's and their
    associates')."""
    return SnapshotSpec(recent=HABIT_MEMORY, random=0, trigrams=FIELD_TRIGRAMS, words=4096, word_floor=ADMIT_AFTER,
                        disturbances=0 if subject_of(prompt) else HEARD_TURNS,
                        lookup=lookup(prompt, memory))


@dataclass(frozen=True, slots=True)
class Thought:
    """Everything HAiKU decides in a turn from its snapshot: the observer's numbers and the composition."""

    dissonance: float
    pulse: Pulse
    temperature: float
    composition: Composition
    compose_ms: float

    def writes(self) -> list[tuple[str, str]]:
        """The texts the turn stores, with their sources: the haiku, then the reflection if there is one."""
        own = [(self.composition.chosen.text, SELF_SOURCE)]
        reflection = self.composition.reflection
        return own + ([(reflection.text, REFLECTION_SOURCE)] if reflection is not None else [])

    def metrics(self) -> dict[str, float | int]:
        """The turn's metrics row (besides dissonance and temperature)."""
        return {"novelty": self.pulse.novelty, "arousal": self.pulse.arousal, "entropy": self.pulse.entropy,
                "candidates": self.composition.candidates, "score": self.composition.score,
                "compose_ms": round(self.compose_ms, 3)}


def think(prompt: str, snapshot: FieldSnapshot, bootstrap: Bootstrap, memory: Memory, rng: random.Random, *,
          reflect: bool = True) -> Thought:
    """Listen (dissonance, lean), observe (pulse, temperature) and compose. Pure CPU work, no field access: the
    async turn runs it off the event loop, the lock-isolation experiment from its own threads."""
    listening = listen(prompt, snapshot, memory, can_say=bootstrap.vocabulary.__contains__, recall=False)
    in_prompt = Counter(tokenize(prompt))
    beat = pulse(prompt, is_new=lambda w: w not in bootstrap.words and snapshot.lookup[w].count - in_prompt[w] <= 0)
    d = listening.dissonance
    t = temperature(d, T_LOW, T_HIGH)
    started = time.perf_counter()
    composition = compose(prompt, snapshot, bootstrap, listening, np.random.default_rng(rng.getrandbits(64)), t,
                          reflect=reflect)
    return Thought(d, beat, t, composition, (time.perf_counter() - started) * 1000)


class Haiku(FieldOrganism):
    """The organism, built around its field by a colony (:meth:`build`); then
    ``reply = await haiku.answer(prompt)``."""

    def __init__(self, field: Field, bootstrap: Bootstrap, memory: Memory, *, reflect: bool) -> None:
        self._field = field
        self._bootstrap = bootstrap
        self._memory = memory
        self._reflect = reflect

    @staticmethod
    async def prepare(engines: SharedEngines, config: Config) -> tuple[Bootstrap, Memory]:
        """The bootstrap and the memory, loaded once per process and shared by every colony's HAiKU."""
        bootstrap: Bootstrap = await engines.once(NAME, lambda: asyncio.to_thread(load_bootstrap))
        return bootstrap, await Memory.shared(engines)

    @classmethod
    async def build(cls, field: Field, engines: SharedEngines, config: Config, *, reflect: bool = True) -> Haiku:
        """HAiKU on ``field``, walking the shared bootstrap, listening with the shared memory."""
        bootstrap, memory = await cls.prepare(engines, config)
        return cls(field, bootstrap, memory, reflect=reflect)

    name = NAME

    async def respond(self, stimulus: Stimulus) -> HaikuReply:
        """The organism protocol (:mod:`harmonix.organisms.base`): answer the cascade's prompt."""
        return await self.answer(stimulus.prompt, seed=stimulus.seed, ledger=stimulus.ledger)

    async def answer(self, prompt: str, *, seed: int | None = None, ledger: RowLedger | None = None) -> HaikuReply:
        """One turn (module docstring). Bad prompts raise :class:`~harmonix.errors.InvalidText`, field unchanged."""
        validate_text(prompt, what="prompt")
        seed = secrets.randbits(63) if seed is None else seed
        rng = random.Random(seed)
        async with self._field.turn(ledger) as turn:
            await turn.wrinkle(prompt)
            snapshot = await turn.snapshot(rng, snapshot_spec(prompt, self._memory))
            thought = await asyncio.to_thread(think, prompt, snapshot, self._bootstrap, self._memory, rng,
                                              reflect=self._reflect)
            for text, source in thought.writes():
                await turn.ingest(text, source=source, seed=seed)
            await turn.record(dissonance=thought.dissonance, temperature=thought.temperature, **thought.metrics())
        haiku, reflection = thought.composition.chosen, thought.composition.reflection
        return HaikuReply(
            text=haiku.text,
            lines=tuple(" ".join(line) for line in haiku.lines),
            syllables=tuple(sum(syllables(word) for word in line) for line in haiku.lines),
            dissonance=thought.dissonance,
            temperature=thought.temperature,
            pulse=thought.pulse,
            seed=seed,
            candidates=thought.composition.candidates,
            score=thought.composition.score,
            reflection=None if reflection is None else reflection.text,
            compose_ms=thought.compose_ms,
        )
