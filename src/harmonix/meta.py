"""MetaHarmonix: the hub. One breath of the system per prompt, a *cascade*.

**INHALE.** HAiKU, Sonnet and Prose answer the prompt at the same time, each in its own turn under its own field lock
(``--sequential``: one after another, for comparison). Each has a timeout (``timeout_s``); an organism that fails or
times out is reported with its ``error``, its turn is rolled back so its field is unchanged, and the others answer
regardless. Then the Artist weaves whatever arrived.

**EXHALE**, under the hub's cascade lock (so exhales never interleave; inhales of other cascades go on):

- the *meta sentence*: an order-2 Markov walk (:meth:`harmonix.engines.markov.Walker.sentence`) over the trigrams of
  this cascade's outputs, cut into sentences with an end marker, from a sentence opening to a sentence end, 8 to 20
  words, and not a sentence any one organism already said whole: a sentence born of the combined field of this turn
  (tokens are lowercase; the sentence gets its capital and the pronoun "I" back);
- the metrics: each organism's dissonance; ``global_resonance = mean(1 - d)`` over the organisms that answered;
  ``field_entropy`` = normalised Shannon entropy of the content words of all this cascade's outputs
  (:func:`harmonix.observer.normalized_entropy`);
- the *reverse wave*: every organism hears the meta sentence (:meth:`~harmonix.organisms.base.Organism.hear`,
  ``source="meta"``, each an atomic operation under its own lock), and the cascade is recorded in the hub's own
  field (``meta``), with the ids of every row the breath wrote in every field (its ``rows``), so that it can be
  forgotten whole later (:func:`harmonix.colony.forget_breath`).

The hub sees organisms only through their protocol (:mod:`harmonix.organisms.base`); a colony
(:mod:`harmonix.colony`) builds them and hands them over. A stage that fails keeps its error's type
(:class:`StageError`), so a surface can tell "LLM busy" from "timed out" from "bad input".

Cascades may overlap freely: each organism's turns still follow one another strictly in its own field.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harmonix.engines.markov import MarkovChain, Walker
from harmonix.errors import HarmonixError
from harmonix.field import Field, RowLedger, TurnView, WrittenRows
from harmonix.observer import normalized_entropy
from harmonix.organisms.base import HUB, INHALE, SYNTHESIS, Organism, Reply, Stimulus
from harmonix.text import content_words, tokenize, trigrams, validate_text

log = logging.getLogger(__name__)

ARTIST = SYNTHESIS
META_SOURCE = "meta"
SENTENCE_END = "</s>"
SENTENCE_WORDS = (8, 20)
SENTENCE_ATTEMPTS = 40
DEFAULT_TIMEOUT_S = 180.0
ERROR_CHARS = 200
_SENTENCE_SPLIT = re.compile(r"[.!?;:]+|\n")


@dataclass(frozen=True, slots=True)
class StageError:
    """Why a stage failed: the error's class name (``LLMBusy``, ``LLMTimeout``, ``CompositionFailed`` …) and its
    message. :mod:`harmonix.documents` maps the type to an HTTP status."""

    type: str
    message: str

    @classmethod
    def of(cls, error: BaseException) -> StageError:
        return cls(type(error).__name__, str(error) or type(error).__name__)


@dataclass(frozen=True, slots=True)
class StageResult:
    """One organism's part in a cascade: its text or its error, how long it took, what it measured.

    ``cpu_seconds`` is the whole process's CPU time during the stage (every thread, llama.cpp's included): the
    stage's own cost when it runs alone (``--sequential``), an upper bound when stages overlap."""

    name: str
    text: str | None
    error: StageError | None
    seconds: float
    cpu_seconds: float
    dissonance: float | None
    reply: Reply | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class MetaResult:
    sentence: str | None
    global_resonance: float | None
    field_entropy: float | None


@dataclass(frozen=True, slots=True)
class CascadeResult:
    """A whole breath. ``timings`` in seconds: each stage, ``inhale``, ``exhale`` and ``total``."""

    prompt: str
    seed: int
    sequential: bool
    haiku: StageResult
    sonnet: StageResult
    prose: StageResult
    artist: StageResult
    meta: MetaResult
    timings: Mapping[str, float]
    id: int | None = None
    """The cascade's number in its colony (the hub's turn id)."""

    @property
    def stages(self) -> tuple[StageResult, ...]:
        return (self.haiku, self.sonnet, self.prose, self.artist)


@dataclass(frozen=True, slots=True)
class CascadeRecord:
    """One past breath as the hub's field keeps it (:meth:`MetaHarmonix.cascade` writes it, :meth:`of` reads it
    back, here beside each other so the two never drift apart): what was asked, what each organism said
    (``texts``: organism name -> text, and ``meta`` for the meta sentence), the metrics, the timings and any
    stage's error."""

    id: int
    created: float
    prompt: str | None
    seed: int | None
    texts: dict[str, str]
    dissonance: dict[str, float | None]
    global_resonance: float | None
    field_entropy: float | None
    timings: dict[str, float]
    errors: dict[str, Any]
    rows: dict[str, WrittenRows] | None = None
    """The rows the breath wrote, field by field (the hub's own turn, whose id is the cascade's, aside); ``None`` for
    a breath recorded before Harmonix kept them."""

    @classmethod
    def of(cls, turn: TurnView) -> CascadeRecord:
        """The record of one of the hub field's turns (the metrics :meth:`MetaHarmonix._exhale_breath` writes)."""
        metrics = dict(turn.metrics)
        recorded = metrics.get("stages")
        stages: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        return cls(
            id=turn.id, created=turn.created, prompt=turn.disturbance, seed=metrics.get("seed"),
            texts=dict(turn.texts),
            dissonance={name: (stages.get(name) or {}).get("dissonance") for name in (*INHALE, SYNTHESIS)},
            global_resonance=metrics.get("global_resonance"), field_entropy=metrics.get("field_entropy"),
            timings=dict(metrics.get("timings") or {}),
            errors={name: stage["error"] for name, stage in stages.items()
                    if isinstance(stage, dict) and stage.get("error")},
            rows=({str(name): WrittenRows.of(rows) for name, rows in metrics["rows"].items() if isinstance(rows, dict)}
                  if isinstance(metrics.get("rows"), dict) else None))


def sentences_of(text: str) -> list[list[str]]:
    """The token lists of ``text``'s sentences (cut at . ! ? ; : and line breaks), three tokens or more."""
    return [tokens for part in _SENTENCE_SPLIT.split(text) if len(tokens := tokenize(part)) >= 3]


def meta_sentence(texts: Sequence[str], rng: np.random.Generator) -> str | None:
    """The meta sentence of the module docstring, or ``None`` when the texts allow none."""
    said = [sentence for text in texts for sentence in sentences_of(text)]
    if not said:
        return None
    rows = [(*trigram, 1.0) for sentence in said for trigram in trigrams([*sentence, SENTENCE_END])]
    chain = MarkovChain.from_counts(rows, [(s[0], s[1], 1.0) for s in said])
    whole = {" ".join(sentence) for sentence in said}
    walker = Walker(chain, temperature=1.0, rng=rng, max_expansions=2000)
    low, high = SENTENCE_WORDS
    fallback = None
    for _ in range(SENTENCE_ATTEMPTS):
        words = walker.sentence(chain.draw_opening(1.0, rng), SENTENCE_END, min_words=low, max_words=high)
        if words is None:
            continue
        if " ".join(words) not in whole:
            fallback = words
            break
        fallback = fallback or words
    if fallback is None:
        return None
    text = " ".join("I" + word[1:] if word == "i" or word.startswith("i'") else word for word in fallback)
    return text[:1].upper() + text[1:] + "."


def global_resonance(stages: Sequence[StageResult]) -> float | None:
    values = [1.0 - stage.dissonance for stage in stages if stage.dissonance is not None]
    return statistics.mean(values) if values else None


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """A piece of text an organism's model just wrote (Prose, Artist), with the attempt it belongs to: a later
    attempt replaces an earlier one the organism rejected. The stage's final text is the one that counts."""

    organism: str
    attempt: int
    text: str


@dataclass(frozen=True, slots=True)
class SettledEvent:
    """A piece of an organism's reply that is settled (Prose: whole sentences, Artist: spans of its piece): it will
    stand in the stage's text whatever the model writes next, and the pieces, joined, begin that text. No rejected
    attempt settles anything, so these can be shown where text cannot be taken back (the OpenAI-compatible stream)."""

    organism: str
    text: str


@dataclass(frozen=True, slots=True)
class StageEvent:
    """An organism finished its part (its text, or its error): sent the moment it happens, in finishing order."""

    stage: StageResult


@dataclass(frozen=True, slots=True)
class MetaEvent:
    """The exhale is done: the meta sentence and the metrics, and the cascade's number in the colony."""

    meta: MetaResult
    cascade_id: int


BreathEvent = TokenEvent | SettledEvent | StageEvent | MetaEvent
BreathListener = Callable[[BreathEvent], None]
"""Receives a breath's events as they happen, on the event loop's thread; it must not block."""


class MetaHarmonix:
    """The hub of one colony: ``hub = MetaHarmonix(organisms, hub_field)``, then ``await hub.cascade(prompt)``.
    A colony (:class:`harmonix.colony.Colony`) builds it; the organisms and the field stay the colony's.

    **What the hub remembers.** Its own field records every breath as one turn: the prompt as its disturbance, each
    stage's text as a text whose source is the organism's name, the meta sentence as its own text, and in the
    turn's metrics the seed, the timings, each stage's seconds, dissonance and error, and the ids of those texts
    (``texts``). The turn's id is the cascade's id; a colony's history is read back from these turns
    (:meth:`CascadeRecord.of`)."""

    def __init__(self, organisms: Mapping[str, Organism], hub_field: Field,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        missing = {*INHALE, ARTIST} - organisms.keys()
        if missing:
            raise ValueError(f"the hub needs every organism; missing {sorted(missing)}")
        self.organisms = dict(organisms)
        self._field = hub_field
        self._timeout_s = timeout_s
        self._exhale = asyncio.Lock()

    @property
    def field(self) -> Field:
        return self._field

    async def cascade(self, prompt: str, *, seed: int | None = None, sequential: bool = False,
                      listener: BreathListener | None = None, ledger: RowLedger | None = None) -> CascadeResult:
        """One breath (module docstring); ``listener`` hears its events as they happen; ``ledger`` (else one of its
        own) is told every row the breath commits, as it commits them, so a caller can undo a breath cut short
        (:func:`harmonix.colony.undo_breath`). A bad prompt raises :class:`~harmonix.errors.InvalidText` at once."""
        validate_text(prompt, what="prompt")
        seed = secrets.randbits(63) if seed is None else seed
        rng = random.Random(seed)
        seeds = {name: rng.getrandbits(63) for name in (*INHALE, ARTIST)}
        ledger = RowLedger() if ledger is None else ledger
        started = time.perf_counter()
        if sequential:
            inhaled = [await self._stage(name, prompt, seeds[name], listener, ledger=ledger) for name in INHALE]
        else:
            inhaled = list(await asyncio.gather(*(self._stage(n, prompt, seeds[n], listener, ledger=ledger)
                                                  for n in INHALE)))
        inhale_s = time.perf_counter() - started
        voices = {stage.name: stage.text for stage in inhaled if stage.text}
        artist = await self._stage(ARTIST, prompt, seeds[ARTIST], listener, voices, ledger=ledger)
        stages = {stage.name: stage for stage in (*inhaled, artist)}
        timings = {name: stage.seconds for name, stage in stages.items()} | {"inhale": inhale_s}
        exhale_started = time.perf_counter()
        async with self._exhale:
            meta, cascade_id = await self._exhale_breath(prompt, seed, [*inhaled, artist], timings,
                                                         np.random.default_rng(rng.getrandbits(64)), ledger)
        finished = time.perf_counter()
        timings |= {"exhale": finished - exhale_started, "total": finished - started}
        if listener is not None:
            listener(MetaEvent(meta, cascade_id))
        return CascadeResult(prompt=prompt, seed=seed, sequential=sequential, haiku=stages["haiku"],
                             sonnet=stages["sonnet"], prose=stages["prose"], artist=artist, meta=meta,
                             timings=timings, id=cascade_id)

    async def turn(self, name: str, prompt: str, *, seed: int | None = None,
                   listener: BreathListener | None = None, ledger: RowLedger | None = None) -> StageResult:
        """One organism's turn alone (no exhale), with the same timeout and error reporting as in a cascade
        (``ledger`` as for :meth:`cascade`). Artist, alone, has no voices to weave and writes from its field."""
        validate_text(prompt, what="prompt")
        return await self._stage(name, prompt, secrets.randbits(63) if seed is None else seed, listener,
                                 ledger=ledger)

    async def _stage(self, name: str, prompt: str, seed: int, listener: BreathListener | None,
                     voices: Mapping[str, str] | None = None, *, ledger: RowLedger | None = None) -> StageResult:
        """One organism's turn with its timeout; any failure becomes the stage's ``error``. The listener hears its
        tokens, what of its reply settles, and, when it ends, its :class:`StageEvent`."""

        def token(text: str, attempt: int) -> None:
            assert listener is not None
            listener(TokenEvent(name, attempt, text))

        def settled(text: str) -> None:
            assert listener is not None
            listener(SettledEvent(name, text))

        heard = listener is not None
        stimulus = Stimulus(prompt, seed, voices or {}, on_token=token if heard else None, ledger=ledger,
                            on_settled=settled if heard else None)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            async with asyncio.timeout(self._timeout_s):
                reply: Reply = await self.organisms[name].respond(stimulus)
        except Exception as error:  # one organism's failure must not stop the breath; it is reported, and logged
            expected = isinstance(error, (HarmonixError, TimeoutError))  # a named failure, not a bug: no traceback
            log.warning("%s failed: %s: %s", name, type(error).__name__, error,
                        exc_info=None if expected else error)
            stage = StageResult(name, None, StageError.of(error), time.perf_counter() - started,
                                time.process_time() - cpu_started, None)
        else:
            stage = StageResult(name, reply.text, None, time.perf_counter() - started,
                                time.process_time() - cpu_started, reply.dissonance, reply)
        if listener is not None:
            listener(StageEvent(stage))
        return stage

    async def _exhale_breath(self, prompt: str, seed: int, stages: Sequence[StageResult], timings: Mapping[str, float],
                             rng: np.random.Generator, ledger: RowLedger) -> tuple[MetaResult, int]:
        texts = [stage.text for stage in stages if stage.text]
        sentence = meta_sentence(texts, rng)
        words = [word for text in texts for word in content_words(tokenize(text))]
        meta = MetaResult(sentence=sentence, global_resonance=global_resonance(stages),
                          field_entropy=normalized_entropy(words) if words else None)
        if sentence is not None:
            await asyncio.gather(*(organism.hear(sentence, META_SOURCE, ledger)
                                   for organism in self.organisms.values()))
        async with self._field.turn(ledger) as turn:
            wrinkled = await turn.wrinkle(prompt)
            text_ids = {stage.name: (await turn.ingest(stage.text, source=stage.name)).text_id
                        for stage in stages if stage.text}
            if sentence is not None:
                text_ids[META_SOURCE] = (await turn.ingest(sentence)).text_id
            summary = {stage.name: {"seconds": round(stage.seconds, 4), "dissonance": stage.dissonance,
                                    "error": None if stage.error is None else
                                    {"type": stage.error.type, "message": stage.error.message[:ERROR_CHARS]}}
                       for stage in stages}
            cascade_id = await turn.record(
                dissonance=None if meta.global_resonance is None else 1 - meta.global_resonance,
                global_resonance=meta.global_resonance, field_entropy=meta.field_entropy, seed=seed,
                timings={name: round(seconds, 4) for name, seconds in timings.items()}, stages=summary,
                texts=text_ids, rows={**{name: rows.document() for name, rows in ledger.rows().items() if name != HUB},
                                      HUB: WrittenRows(tuple(text_ids.values()),
                                                       (wrinkled.disturbance_id,)).document()})
        return meta, cascade_id
