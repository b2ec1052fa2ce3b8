"""Artist: the synthesiser. It weaves HAiKU, Sonnet and Prose into one piece and knows what came from where.

Artist runs on the same LLM engine as Prose (one loaded model, shared), with its own field and its own lock. A
small model cannot be trusted to quote verbatim, so the quoting is Artist's own doing, chosen by what resonates with
the prompt (:mod:`harmonix.organisms.listening`), and the model writes only Artist's *own* lines:

- from HAiKU it quotes the whole haiku;
- from Sonnet it weaves in the pair of lines (1-2, 3-4, … 13-14) that resonates most, the closing couplet on a tie;
- from Prose it carries one sentence, the undertone: the one that resonates most, on a tie the one with the most
  content words;
- between and after them stand ``OWN_LINES`` lines the model writes. Like Prose (:mod:`harmonix.organisms.prose`) it
  speaks as a continuation (``mode="completion"``): the model reads the quotations, then the ``REMEMBERED_LINES`` own
  lines of Artist's earlier pieces that resonate most, each a stanza, and writes the next stanza, with no persona and
  no instruction to repeat, opening on a word the prompt calls up that the model opens sentences on
  (:meth:`~harmonix.organisms.listening.Listening.first_word`). Opened as Prose's paragraph is, on "The" and the
  lean word the model finds likeliest after it, Artist found too few usable lines three times in the part of an
  evaluation run that finished before its time limit, against none in 72 cascades before, so it keeps its own way.
  ``mode="chat"`` gives the same to a chat model under :data:`PERSONA`. It never sees the user's prompt, which only
  wrinkles its field and chooses what surfaces.

A line the model writes is kept only if it is a line (``MIN_LINE_WORDS`` to ``MAX_LINE_WORDS`` words), does not
repeat a quotation or copy ``COPY_WINDOW`` consecutive words of what the model read, and does not talk about its
task or itself (:func:`harmonix.metatalk.meta_talk`): such a line never reaches the field. Each line is judged the
moment it ends, so the piece settles while the model writes (:class:`Settling`): once two lines are usable the
attempt will be kept, and the spans that open the piece whatever comes next can be shown at once (the
OpenAI-compatible route streams them); an attempt Artist rejects has shown nothing.

The piece keeps its provenance: a tuple of :class:`Span` (source, text), where every quoted span is a verbatim part
of its source's output (tested) and the rest is ``"artist"``. A voice that did not arrive (its organism failed or
timed out) is simply left out; with no voice at all Artist writes from its field alone.

**What it remembers.** As Prose: the last ``RECALL_TURNS`` prompts linger in the lean its first word is drawn from and
in the query that chooses its quotations and remembered lines (:mod:`harmonix.organisms.listening`, "Remembering what
it heard"), fading by half a turn. Measured by ``harmonix experiment memory`` (docs/results/evaluation.md, "Memory"):
one probe after three prompts of a theme, +0.054 [+0.007, +0.096] at ``bbb984a`` on five pairs of themes (before issue
24: -0.006), +0.034 [+0.000, +0.067] on ten at ``5a0a852``, +0.064 [+0.039, +0.090] on the ten at ``e4445a3`` (Prose's
opener, whose sentence it carries); docs/experiments/memory.md, memory-ten-pairs.md, memory-opener.md. How it fades,
on the ten at ``fb9da4f`` (memory-decay.md): +0.067 [+0.036, +0.099] one probe after the block, +0.041 [+0.012,
+0.071] after one unrelated prompt, +0.005 [-0.016, +0.027] after six. In an ordinary conversation (``harmonix eval``,
lagged influence) the piece leans towards the prompt one turn back: k = 1 +0.037 [+0.016, +0.059] at ``1564e80``,
+0.012 by k = 3.

**One turn**, under Artist's field lock and in one transaction: wrinkle, snapshot, listen (dissonance ``d`` with
Artist's field, temperature ``T = T_LOW + (T_HIGH - T_LOW) * d``), choose the quotations, generate (up to
``ATTEMPTS`` times, rejecting fewer than ``MIN_OWN_LINES`` usable lines), ingest the piece with its provenance,
record the turn.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harmonix.engines.llm import Generation, Message, Sampling
from harmonix.engines.memory import Memory
from harmonix.errors import CompositionFailed
from harmonix.field import SELF_SOURCE, RowLedger, SnapshotSpec, TextRow
from harmonix.metatalk import meta_talk
from harmonix.observer import temperature
from harmonix.organisms.base import (
    INHALE,
    SYNTHESIS,
    TITLES,
    LLMOrganism,
    SettledListener,
    Stimulus,
    TokenListener,
    attempt_listener,
    reply_details,
    without_debris,
)
from harmonix.organisms.listening import HEARD_TURNS, Listening, listen, lookup
from harmonix.text import content_words, ngrams, sentences, tokenize, validate_text

NAME = SYNTHESIS
ARTIST = NAME
VOICES = INHALE
PERSONA = (
    "You are Artist. Three voices have just spoken: a haiku, two lines of a sonnet and a sentence of prose. Write "
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
OWN_POOL = 12
REMEMBERED_LINES = 2
COPY_WINDOW = 6
STOP = ("\n\n\n",)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


@dataclass(frozen=True, slots=True)
class Span:
    """A part of the piece and where it came from: an organism's name (quoted verbatim) or ``"artist"``."""

    source: str
    text: str


def quotes(voices: Mapping[str, str], resonance: Callable[[str], float] = lambda text: 0.0) -> dict[str, str]:
    """What Artist quotes of each voice that arrived, choosing by ``resonance`` with the prompt (module
    docstring); every quotation is a verbatim part of its voice."""
    chosen: dict[str, str] = {}
    if voices.get("haiku", "").strip():
        chosen["haiku"] = voices["haiku"].strip()
    sonnet_lines = [line.strip() for line in voices.get("sonnet", "").splitlines() if line.strip()]
    if sonnet_lines:
        pairs = ["\n".join(sonnet_lines[i : i + 2]) for i in range(0, len(sonnet_lines), 2)]
        chosen["sonnet"] = max(reversed(pairs), key=resonance)
    prose = sentences(voices.get("prose", ""))
    if prose:
        chosen["prose"] = max(prose, key=lambda s: (resonance(s), len(content_words(tokenize(s))), -prose.index(s)))
    return chosen


def snapshot_spec(prompt: str, memory: Memory) -> SnapshotSpec:
    """What Artist reads of its field for a turn: its last ``OWN_POOL`` texts (the lines it may continue) and the
    counts listening needs."""
    return SnapshotSpec(recent=OWN_POOL, random=0, trigrams=0, words=0, disturbances=HEARD_TURNS,
                        lookup=lookup(prompt, memory))


def remembered_lines(texts: Sequence[TextRow], listening: Listening) -> list[str]:
    """``REMEMBERED_LINES`` of Artist's own lines in its earlier pieces (the ``"artist"`` spans their provenance
    names): those that resonate with the prompt first, strongest first, then the newest."""
    lines = []
    for text in texts:
        if text.source != SELF_SOURCE:
            continue
        start = 0
        for source, length in text.meta.get("provenance", []):
            if source == ARTIST:
                lines.append(text.body[start : start + length])
            start += length + 1
    resonant = listening.by_resonance(lines)
    return (resonant + [line for line in lines if line not in resonant])[:REMEMBERED_LINES]


def completion_prompt(chosen: Mapping[str, str], remembered: Sequence[str], first: str = "") -> str:
    """Exactly what the model continues in completion mode: the quotations and Artist's remembered lines, one
    stanza each, then the blank line before the stanza it writes, and the word that stanza opens on."""
    stanzas = [chosen[voice] for voice in VOICES if voice in chosen] + list(remembered)
    return "\n\n".join(stanzas) + "\n\n" + first


def chat_messages(chosen: Mapping[str, str], remembered: Sequence[str]) -> list[Message]:
    """Exactly what the model is given in chat mode: the persona, the quoted voices, Artist's remembered lines."""
    parts = [f"{TITLES[voice]} said:\n{chosen[voice]}" for voice in VOICES if voice in chosen]
    if remembered:
        parts.append("What you remember of your own earlier pieces:\n" + "\n".join(remembered))
    parts.append("Your four lines:")
    return [{"role": "system", "content": PERSONA}, {"role": "user", "content": "\n\n".join(parts)}]


def own_lines(text: str, chosen: Mapping[str, str], *, truncated: bool = False, given: str = "") -> list[str]:
    """The usable lines of the model's answer: bullets and quotes stripped, cut to their first sentence when longer
    than ``MAX_LINE_WORDS`` words, at least ``MIN_LINE_WORDS`` words, no line that merely repeats a quoted one, no
    line twice; at most ``OWN_LINES``. A model that wrote one paragraph instead of lines gives its sentences as
    lines (in 72 evaluated cascades it did so three times in a row once, and Artist failed). When the token budget
    cut the answer (``truncated``) its last line is unfinished, unless a newline ended it, and is left out unless
    too few lines would remain (dropping it regardless failed Artist 3 times in 72 cascades). A line that copies
    ``COPY_WINDOW`` words of ``given`` (what the model read) or talks about its task or itself is not kept either
    (module docstring)."""
    raw_lines = [line for line in text.splitlines() if line.strip()]
    if len(raw_lines) < MIN_OWN_LINES:
        raw_lines = sentences(" ".join(raw_lines))
    if truncated and len(raw_lines) > 1 and not text.endswith("\n"):
        finished = _usable(raw_lines[:-1], chosen, given)
        if len(finished) >= MIN_OWN_LINES:
            return finished
    return _usable(raw_lines, chosen, given)


def _usable(raw_lines: Sequence[str], chosen: Mapping[str, str], given: str) -> list[str]:
    quoted = {line.strip().lower() for q in chosen.values() for line in q.splitlines()}
    read = set(ngrams(tokenize(given), COPY_WINDOW))
    lines: list[str] = []
    for raw in raw_lines:
        line = without_debris(_BULLET.sub("", raw).strip().strip('"').strip())
        if len(tokenize(line)) > MAX_LINE_WORDS:
            line = sentences(line)[0]
        if (len(tokenize(line)) >= MIN_LINE_WORDS and line.lower() not in quoted
                and line.lower() not in {kept.lower() for kept in lines} and not line.endswith(":")
                and not read & set(ngrams(tokenize(line), COPY_WINDOW)) and meta_talk(line) is None):
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


_UNKNOWN = "\0"


class Settling:
    """What of one attempt's piece is settled while the model writes its lines: the spans that will stand at the
    start of the piece whatever the model writes next, so that they can be shown at once (the OpenAI route streams
    them) and no attempt Artist rejects ever reaches a reader.

    A line is judged once it has ended (a newline follows it), by the same rules as :func:`own_lines`. Once
    ``MIN_OWN_LINES`` lines are usable, the attempt will be kept, and of the pieces it can still become (with
    ``n`` own lines, for every ``n`` from those usable so far to ``OWN_LINES``: :func:`weave`) their common first
    spans are settled: with two lines, the haiku, the first line and the sonnet's pair; the rest as later lines
    decide where they stand."""

    def __init__(self, chosen: Mapping[str, str], given: str) -> None:
        self._chosen, self._given = chosen, given
        self._written = ""
        self.spans: tuple[Span, ...] = ()

    def add(self, piece: str) -> str:
        """Take the next piece the model wrote; return the text it settles (often ""), spans joined by newlines."""
        self._written += piece
        if "\n" not in piece:
            return ""  # no line has ended
        ended = self._written[: self._written.rfind("\n") + 1]
        lines = _usable([line for line in ended.splitlines() if line.strip()], self._chosen, self._given)
        if len(lines) < MIN_OWN_LINES:
            return ""
        pieces = [weave(self._chosen, [*lines, *[_UNKNOWN] * more]) for more in range(OWN_LINES - len(lines) + 1)]
        common = 0
        while all(len(spans) > common and spans[common] == pieces[0][common] and spans[common].text != _UNKNOWN
                  for spans in pieces):
            common += 1
        settled = pieces[0][len(self.spans):common]
        text = "".join(("\n" if self.spans or index else "") + span.text for index, span in enumerate(settled))
        self.spans = pieces[0][:common]
        return text


def provenance_shares(spans: Sequence[Span]) -> dict[str, float]:
    """The share of the piece's words from each source (Artist's own included); they sum to 1."""
    counts = {source: 0 for source in (*VOICES, ARTIST)}
    for span in spans:
        counts[span.source] += len(tokenize(span.text))
    total = sum(counts.values()) or 1
    return {source: count / total for source, count in counts.items()}


@dataclass(frozen=True, slots=True)
class ArtistReply:
    """One piece, its provenance, and ``given``: exactly what the model read (the completion's opening, or in chat
    mode the messages as ``role: content`` blocks)."""

    text: str
    spans: tuple[Span, ...]
    shares: Mapping[str, float]
    mode: str
    given: str
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
                                 on_token=stimulus.on_token, on_settled=stimulus.on_settled, ledger=stimulus.ledger)

    async def answer(self, prompt: str, *, voices: Mapping[str, str], seed: int | None = None,
                     on_token: TokenListener | None = None, on_settled: SettledListener | None = None,
                     ledger: RowLedger | None = None) -> ArtistReply:
        """One turn (module docstring). Bad prompts raise :class:`~harmonix.errors.InvalidText`, field unchanged."""
        validate_text(prompt, what="prompt")
        seed = secrets.randbits(63) if seed is None else seed
        rng = random.Random(seed)
        spec = snapshot_spec(prompt, self._memory)
        async with self._field.turn(ledger) as turn:
            await turn.wrinkle(prompt)
            snapshot = await turn.snapshot(rng, spec)
            listening = listen(prompt, snapshot, self._memory)
            d = listening.dissonance
            t = temperature(d, T_LOW, T_HIGH)
            chosen = quotes(voices, listening.resonance)
            remembered = remembered_lines(snapshot.recent, listening)
            for attempt in range(1, ATTEMPTS + 1):
                first = listening.first_word(rng) if self._mode == "completion" else ""
                given, generation = await self._speak(chosen, remembered, first, Sampling(
                    max_tokens=MAX_TOKENS, temperature=t, seed=rng.getrandbits(31), stop=STOP), attempt, on_token,
                    on_settled)
                own = own_lines(generation.text, chosen, truncated=generation.finish_reason == "length",
                                given=given)
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
        return ArtistReply(text=text, spans=spans, shares=provenance_shares(spans), mode=self._mode, given=given,
                           dissonance=d, temperature=t, tokens=generation.tokens, backend=generation.backend,
                           attempts=attempt, seed=seed)

    async def _speak(self, chosen: Mapping[str, str], remembered: Sequence[str], first: str, sampling: Sampling,
                     attempt: int, on_token: TokenListener | None,
                     on_settled: SettledListener | None) -> tuple[str, Generation]:
        """One attempt in this organism's mode: what the model was given (as text) and what it wrote, from
        ``first`` on (completion mode: the word its lines open on, streamed first); what settles of the piece as it
        writes goes to ``on_settled`` (:class:`Settling`)."""
        if self._mode == "completion":
            given = completion_prompt(chosen, remembered, first)
            listener = attempt_listener(attempt, Settling(chosen, given), on_token, on_settled)
            return given, await self._continue(given, first, sampling, listener)
        messages = chat_messages(chosen, remembered)
        given = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)
        listener = attempt_listener(attempt, Settling(chosen, given), on_token, on_settled)
        return given, await self._engine.chat(messages, sampling, timeout=self._timeout_s, on_text=listener)
