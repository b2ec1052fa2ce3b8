"""Artist: the synthesiser. It weaves HAiKU, Sonnet and Prose into one piece and knows what came from where.

Artist runs on the same LLM engine as Prose (one loaded model, shared), with its own field and its own lock. A
small model cannot be trusted to quote verbatim, so the quoting is Artist's own doing and the model writes only
Artist's *own* lines:

- from HAiKU it quotes the whole haiku;
- from Sonnet it weaves in the closing couplet;
- from Prose it carries one sentence, the undertone: the sentence with the most content words;
- between and after them stand ``OWN_LINES`` lines the model writes having read the three voices and a seed of
  Artist's own field (its earlier pieces). Like Prose it never sees the user's prompt, which only wrinkles its field.

The piece keeps its provenance: a tuple of :class:`Span` (source, text), where every quoted span is a verbatim part
of its source's output (tested) and the rest is ``"artist"``. A voice that did not arrive (its organism failed or
timed out) is simply left out; with no voice at all Artist writes from its field alone.

**One turn**, under Artist's field lock and in one transaction: wrinkle, snapshot, dissonance ``d`` against Artist's
previous piece and temperature ``T = T_LOW + (T_HIGH - T_LOW) * d``, generate (up to ``ATTEMPTS`` times, rejecting
fewer than ``MIN_OWN_LINES`` usable lines), ingest the piece with its provenance, record the turn.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harmonix.engines.llm import Message, Sampling
from harmonix.errors import CompositionFailed
from harmonix.field import SELF_SOURCE, SnapshotSpec, build_seed
from harmonix.observer import dissonance, temperature
from harmonix.organisms.base import (
    INHALE,
    SYNTHESIS,
    TITLES,
    LLMOrganism,
    Stimulus,
    TokenListener,
    reply_details,
    text_listener,
)
from harmonix.text import content_words, tokenize, validate_text

if TYPE_CHECKING:
    pass

NAME = SYNTHESIS
ARTIST = NAME
VOICES = INHALE
PERSONA = (
    "You are Artist. Three voices have just spoken: a haiku, the end of a sonnet and a sentence of prose. Write "
    "four short lines of your own, one per line, that join what they said into one piece. Plain lines only: no "
    "title, no numbering, no quotation marks, no explanation."
)
OWN_LINES = 4
MIN_OWN_LINES = 2
MIN_LINE_WORDS = 3
MAX_LINE_WORDS = 25
MAX_TOKENS = 110
ATTEMPTS = 3
T_LOW, T_HIGH = 0.6, 1.0
SEED_WORDS = 30
SPEC = SnapshotSpec(recent=3, random=1, trigrams=64, words=0, disturbances=0)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


@dataclass(frozen=True, slots=True)
class Span:
    """A part of the piece and where it came from: an organism's name (quoted verbatim) or ``"artist"``."""

    source: str
    text: str


def quotes(voices: Mapping[str, str]) -> dict[str, str]:
    """What Artist quotes of each voice that arrived (module docstring)."""
    chosen: dict[str, str] = {}
    if voices.get("haiku", "").strip():
        chosen["haiku"] = voices["haiku"].strip()
    sonnet_lines = [line.strip() for line in voices.get("sonnet", "").splitlines() if line.strip()]
    if sonnet_lines:
        chosen["sonnet"] = "\n".join(sonnet_lines[-2:])
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", voices.get("prose", "")) if s.strip()]
    if sentences:
        chosen["prose"] = max(sentences, key=lambda s: (len(content_words(tokenize(s))), -sentences.index(s)))
    return chosen


def messages(chosen: Mapping[str, str], field_seed: str) -> list[Message]:
    """Exactly what the model is given: the persona, the quoted voices, and a seed of Artist's own field."""
    parts = [f"{TITLES[voice]} said:\n{chosen[voice]}" for voice in VOICES if voice in chosen]
    if field_seed:
        parts.append(f"What you remember of your own earlier pieces:\n{field_seed}")
    parts.append("Your four lines:")
    return [{"role": "system", "content": PERSONA}, {"role": "user", "content": "\n\n".join(parts)}]


def own_lines(text: str, chosen: Mapping[str, str], *, truncated: bool = False) -> list[str]:
    """The usable lines of the model's answer: bullets and quotes stripped, cut to their first sentence when longer
    than ``MAX_LINE_WORDS`` words, at least ``MIN_LINE_WORDS`` words, no line that merely repeats a quoted one, no
    line twice; at most ``OWN_LINES``. A model that wrote one paragraph instead of lines gives its sentences as
    lines (in 72 evaluated cascades it did so three times in a row once, and Artist failed). When the token budget
    cut the answer (``truncated``) its last line is unfinished and left out, unless too few lines would remain
    (dropping it regardless failed Artist 3 times in 72 cascades)."""
    raw_lines = [line for line in text.splitlines() if line.strip()]
    if len(raw_lines) < MIN_OWN_LINES:
        raw_lines = re.split(r"(?<=[.!?])\s+", " ".join(raw_lines))
    if truncated and len(raw_lines) > 1:
        finished = _usable(raw_lines[:-1], chosen)
        if len(finished) >= MIN_OWN_LINES:
            return finished
    return _usable(raw_lines, chosen)


def _usable(raw_lines: Sequence[str], chosen: Mapping[str, str]) -> list[str]:
    quoted = {line.strip().lower() for q in chosen.values() for line in q.splitlines()}
    lines: list[str] = []
    for raw in raw_lines:
        line = _BULLET.sub("", raw).strip().strip('"').strip()
        if len(tokenize(line)) > MAX_LINE_WORDS:
            line = re.split(r"(?<=[.!?])\s+", line)[0]
        if (len(tokenize(line)) >= MIN_LINE_WORDS and line.lower() not in quoted
                and line.lower() not in {kept.lower() for kept in lines} and not line.endswith(":")):
            lines.append(line)
    return lines[:OWN_LINES]


def weave(chosen: Mapping[str, str], own: Sequence[str]) -> tuple[Span, ...]:
    """Quote, own line, quote, own line, quote, the remaining own lines: the piece with its provenance."""
    spans: list[Span] = []
    remaining = list(own)
    for voice in VOICES:
        if voice in chosen:
            spans.append(Span(voice, chosen[voice]))
            if remaining and len(remaining) > 1:
                spans.append(Span(ARTIST, remaining.pop(0)))
    spans += [Span(ARTIST, line) for line in remaining]
    return tuple(spans)


def provenance_shares(spans: Sequence[Span]) -> dict[str, float]:
    """The share of the piece's words from each source (Artist's own included); they sum to 1."""
    counts = {source: 0 for source in (*VOICES, ARTIST)}
    for span in spans:
        counts[span.source] += len(tokenize(span.text))
    total = sum(counts.values()) or 1
    return {source: count / total for source, count in counts.items()}


@dataclass(frozen=True, slots=True)
class ArtistReply:
    text: str
    spans: tuple[Span, ...]
    shares: Mapping[str, float]
    messages: tuple[Message, ...]
    dissonance: float
    temperature: float
    tokens: int
    backend: str
    attempts: int
    seed: int

    def details(self) -> dict[str, Any]:
        return reply_details(self)


class Artist(LLMOrganism):
    """The organism, built around its field by a colony (:meth:`build`); then
    ``reply = await artist.answer(prompt, voices=...)``."""

    name = NAME

    async def respond(self, stimulus: Stimulus) -> ArtistReply:
        """The organism protocol (:mod:`harmonix.organisms.base`): weave the voices of this cascade."""
        return await self.answer(stimulus.prompt, voices=stimulus.voices, seed=stimulus.seed,
                                 on_token=stimulus.on_token)

    async def answer(self, prompt: str, *, voices: Mapping[str, str], seed: int | None = None,
                     on_token: TokenListener | None = None) -> ArtistReply:
        """One turn (module docstring). Bad prompts raise :class:`~harmonix.errors.InvalidText`, field unchanged."""
        validate_text(prompt, what="prompt")
        seed = secrets.randbits(63) if seed is None else seed
        rng = random.Random(seed)
        chosen = quotes(voices)
        async with self._field.turn() as turn:
            await turn.wrinkle(prompt)
            snapshot = await turn.snapshot(rng, SPEC)
            last = content_words(tokenize(snapshot.last_spoken.body)) if snapshot.last_spoken else []
            d = dissonance(content_words(tokenize(prompt)), last)
            t = temperature(d, T_LOW, T_HIGH)
            for attempt in range(1, ATTEMPTS + 1):
                given = messages(chosen, build_seed(snapshot, rng, words=SEED_WORDS).text)
                generation = await self._engine.chat(
                    given, Sampling(max_tokens=MAX_TOKENS, temperature=t, seed=rng.getrandbits(31)),
                    timeout=self._timeout_s, on_text=text_listener(on_token, attempt))
                own = own_lines(generation.text, chosen, truncated=generation.finish_reason == "length")
                if len(own) >= MIN_OWN_LINES:
                    break
            else:
                raise CompositionFailed(f"Artist: fewer than {MIN_OWN_LINES} usable lines in {ATTEMPTS} attempts")
            spans = weave(chosen, own)
            text = "\n".join(span.text for span in spans)
            await turn.ingest(text, source=SELF_SOURCE, seed=seed,
                              provenance=[[span.source, len(span.text)] for span in spans])
            await turn.record(dissonance=d, temperature=t, tokens=generation.tokens, attempts=attempt,
                              voices=sorted(chosen))
        return ArtistReply(text=text, spans=spans, shares=provenance_shares(spans), messages=tuple(given),
                           dissonance=d, temperature=t, tokens=generation.tokens, backend=generation.backend,
                           attempts=attempt, seed=seed)
