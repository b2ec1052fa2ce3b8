"""Prose: a real language model writing free prose, in organism mode.

The third step of the constraint gradient. A small LLM (SmolLM2-135M-Instruct by default, any GGUF, or any
OpenAI-compatible server: :mod:`harmonix.engines.llm`) writes one paragraph. In *organism mode* the user's text
never reaches the model. The prompt wrinkles Prose's field (counted as heard), sets the temperature through its
dissonance with the field, and decides which of Prose's own memories surface (:mod:`harmonix.organisms.listening`):
what the model is given is Prose's memory alone, and its answer flows back into the field.

**Speaking as the continuation of its memory** (``mode="completion"``, the default). The model is given an
*opening* and writes the paragraph that follows it, a plain text completion with no persona and no instruction: there
is nothing about a task for it to talk about. The opening is, one paragraph each, separated by blank lines:

1. Prose's newest paragraph (what it said last: Prose grows out of what it has said);
2. of its last ``OWN_POOL`` texts, the one that resonates most with the prompt, if it is not the newest;
3. ``MEMORIES`` paragraphs of the shared long-term memory (:mod:`harmonix.engines.memory`), drawn without
   replacement from the ``MEMORY_CHOICES`` that resonate most with the prompt's words (BM25 on their stems; with
   their associates too only when the stems alone find nothing: associates widen the net and blur the subject),
   the most resonant last (nearest to what is written).

**Asked to go on.** A prompt that names no subject ("Tell me more.", "Continue.":
:func:`~harmonix.organisms.listening.subject_of`) asks Prose to go on from what it said, so its newest paragraph moves
to the end of the opening, nearest to what the model writes, after the memories the earlier prompts call up.

When nothing of the memory resonates (a prompt of unknown or no words), two of Prose's own texts drawn at random from
its field take their place. ``mode="chat"`` (the first version's way, kept for comparison) gives the same paragraphs to
a chat model as "fragments of your memory" under :data:`PERSONA`. Side by side on the standard prompts (``harmonix
experiment prose-modes``, docs/results/experiments.md) the chat mode talked about its task or persona far more often.

**Its first words.** The paragraph opens on "The" and a word the prompt calls up, where the model itself finds
that word likely (:meth:`Prose._likeliest_opener`: of the lean's words that are not
generic, the one that maximises the model's log-probability of it after the opening and "The" plus the log of its
lean weight, among the model's hundred likeliest next tokens): "The ocean …" for a prompt about the sea at night.
Without an opening word the small model's paragraph wandered wherever the last paragraph it read had not gone (the
judge of :mod:`harmonix.lab.judge` measured Prose's prompt influence at 0.03-0.04). A word drawn from the lean
whatever the model thought of it led better (0.11 at ``77867ab``) but read as planted: "Category" made it write a
heading ("Category: Art & Design …"). Drawn only among words the model opens sentences on in its memory, it led
little (+0.044 at ``a2657f4``): few of a prompt's words are ever sentence openers. Chosen by the model's own
likelihood after "The", +0.081 [+0.052, +0.113] (docs/results/evaluation.md, "Where Prose's lead went"). Asking
reads the prompt once, so the paragraph then continues from the state that reading left, whether a word was chosen
or not (:attr:`~harmonix.engines.llm.Sampling.reuse_prefix`): a cascade takes as long as it did without the opener
(docs/results/benchmarks.md). The word is from the lean, so never one of the prompt's own words. Chat mode, and a
model behind an OpenAI-compatible server (which reports no likelihoods), have no opening words: the model opens the
paragraph itself.

**Guarding the crystal.** A first sentence that talks about the task ("Here is a paragraph about …") is dropped when
the rest is clean and long enough (:func:`without_preamble`). A reply is rejected, never stored, and tried again
with a fresh opening and sampling seed (``ATTEMPTS`` in all) when it is empty or too short, degenerate (a word
4-gram three times, or fewer than half its word pairs distinct), echoes the prompt (echo > ``ECHO_LIMIT``), copies
``COPY_WINDOW`` consecutive words of its opening, or talks about its task or persona
(:func:`harmonix.metatalk.meta_talk`). If every attempt is rejected the
turn fails with :class:`~harmonix.errors.CompositionFailed` and the field is unchanged.

**Settling as it writes.** The guards judge the paragraph at every sentence end while the model writes it
(:class:`Settling`): the first time the paragraph so far passes them, it is settled and can be shown (the
OpenAI-compatible route streams it), and every sentence after that settles as it ends while the paragraph still
passes. An attempt that has settled something is never rejected: if the whole paragraph fails at the end, the reply
is cut to what had settled. So whatever a reader was shown stands in the reply, no rejected attempt is ever shown,
and every stored paragraph passed every guard.

**What it remembers.** Besides its newest paragraph, listening lets the last ``RECALL_TURNS`` prompts linger
(:mod:`harmonix.organisms.listening`, "Remembering what it heard"): what they called up joins the lean its opening
word is chosen from, and their stems (at half a weight one turn back, halving each turn after) join the present
prompt's in choosing which memories surface. The present prompt still leads; six turns on, a prompt has faded.
Measured by ``harmonix experiment memory`` (docs/results/evaluation.md, "Memory"): one probe after three prompts of
a theme, +0.024 [-0.009, +0.057] at ``bbb984a`` on five pairs of themes (before issue 24: -0.001), +0.019 [-0.007,
+0.044] on ten at ``5a0a852`` (breathing alone, no exhale, +0.052 [+0.025, +0.081]), and in the colony since its
opener +0.062 [+0.013, +0.117] on the ten at ``e4445a3``; docs/experiments/memory.md, memory-ten-pairs.md,
memory-opener.md. How it fades, on the ten at ``fb9da4f`` (memory-decay.md): +0.071 [+0.040, +0.101] one probe
after the block, +0.030 [-0.000, +0.060] after one unrelated prompt, -0.009 [-0.036, +0.020] after six. In an
ordinary conversation of unrelated prompts
(``harmonix eval``, lagged influence), a reply still leans towards the prompt one turn back: k = 1 +0.040 [+0.019,
+0.064] at ``1564e80``, fading to +0.006 by k = 3.

**One turn**, under Prose's field lock and in one transaction (:meth:`Prose.answer`): wrinkle; snapshot (an empty
field first receives its *genesis*, a few paragraphs we wrote, ``data/prose/genesis.txt``); listen: dissonance ``d``,
temperature ``T = T_LOW + (T_HIGH - T_LOW) * d``; speak, rejecting as above; ingest the paragraph as Prose's own;
record the turn. An LLM failure (server gone mid-answer, timeout) aborts the turn the same way: the field is left as
it was.
"""

from __future__ import annotations

import math
import random
import re
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from harmonix.engines.llm import Generation, Message, Sampling
from harmonix.errors import CompositionFailed
from harmonix.field import SELF_SOURCE, FieldSnapshot, RowLedger, SnapshotSpec
from harmonix.metatalk import meta_talk
from harmonix.metrics import distinct_n, echo
from harmonix.observer import temperature
from harmonix.organisms.base import (
    LLMOrganism,
    SettledListener,
    Stimulus,
    TokenListener,
    attempt_listener,
    reply_details,
    without_debris,
)
from harmonix.organisms.listening import HEARD_TURNS, Listening, listen, lookup, with_recalled
from harmonix.text import content_words, ngrams, sentence_ends, tokenize, validate_text

NAME = "prose"
PERSONA = (
    "You are Prose, a quiet voice that writes from memory. You are given fragments of what you remember. "
    "Write one paragraph of three to five sentences of free prose, in your own words, that grows out of those "
    "fragments. Do not address anyone, do not ask questions, do not explain what you are doing, do not make a list."
)
OWN_POOL = 24
MEMORIES = 2
MEMORY_CHOICES = 4
MAX_TOKENS = 140
STOP = ("\n\n",)
ATTEMPTS = 8
ECHO_LIMIT = 0.2
COPY_WINDOW = 8
_SENTENCE = re.compile(r"[.!?:][\"')]?(?=\s)")
MIN_TOKENS = 12
T_LOW, T_HIGH = 0.5, 0.95
GENESIS_SOURCE = "genesis"


OPENER = "The"
"""What Prose's paragraph opens on, before the lean word the model finds likeliest after it
(:meth:`Prose._likeliest_opener`): most of what a lean calls up is a noun, and "The" is where the model puts one."""
OPENER_ALTERNATIVES = 100
GENERIC_SHARE = 0.04
"""A word in more of the memory's paragraphs than this fraction is too common to lead a text ("time": 7 %)."""


def genesis() -> list[str]:
    """The genesis paragraphs (``#`` lines are comments; blank lines separate paragraphs)."""
    text = resources.files("harmonix").joinpath("data", "prose", "genesis.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return [" ".join(block.split()) for block in "\n".join(lines).split("\n\n") if block.strip()]


def snapshot_spec(listening_words: Sequence[str]) -> SnapshotSpec:
    """What Prose reads of its field for a turn: its last ``OWN_POOL`` texts, two drawn at random, and the counts
    listening needs."""
    return SnapshotSpec(recent=OWN_POOL, random=2, trigrams=0, words=0, disturbances=HEARD_TURNS,
                        lookup=tuple(listening_words))


def opening(snapshot: FieldSnapshot, listening: Listening, rng: random.Random) -> tuple[str, ...]:
    """The paragraphs Prose speaks from (module docstring), in the order the model reads them."""
    own = [text for text in snapshot.recent if text.source in (SELF_SOURCE, GENESIS_SOURCE)]
    paragraphs = [own[0].body] if own else []
    resonant = listening.by_resonance([text.body for text in own])
    if resonant and resonant[0] not in paragraphs:
        paragraphs.append(resonant[0])
    memory = listening.memory
    stems = with_recalled(memory.query(listening.words, associates=0), listening.recalled)
    found = memory.resonant(stems, MEMORY_CHOICES) or memory.resonant(listening.query, MEMORY_CHOICES)
    if found:
        chosen = sorted(rng.sample(found, min(MEMORIES, len(found))), key=found.index, reverse=True)
        paragraphs += [memory.texts[index] for index in chosen]
    else:
        paragraphs += [text.body for text in snapshot.random if text.body not in paragraphs]
    if own and not listening.words:  # asked to go on (module docstring): its newest paragraph comes last
        paragraphs = [*paragraphs[1:], paragraphs[0]]
    return tuple(paragraphs)


def completion_prompt(paragraphs: Sequence[str], first: str = "") -> str:
    """Exactly what the model continues in completion mode: the paragraphs, the blank line it writes after, and the
    words its paragraph opens on."""
    return "\n\n".join(paragraphs) + "\n\n" + first


def chat_messages(paragraphs: Sequence[str]) -> list[Message]:
    """Exactly what the model is given in chat mode: the persona, then the paragraphs as fragments."""
    fragments = "\n".join(paragraphs)
    return [{"role": "system", "content": PERSONA},
            {"role": "user", "content": f"Fragments of your memory:\n{fragments}\n\nWrite the paragraph."}]


def clean(text: str) -> str:
    """The paragraph without surrounding whitespace, quotes, a chat preamble line ending in a colon or raw
    completion's leading debris (:func:`~harmonix.organisms.base.without_debris`), and cut after its last complete
    sentence when the token budget stopped it mid-sentence."""
    first, _, rest = text.strip().partition("\n")
    if first.rstrip().endswith(":") and rest.strip():
        text = rest
    text = without_debris(re.sub(r"\s+", " ", text.strip().strip('"').strip()))
    if text and text[-1] not in ".!?\"'":
        ends = list(sentence_ends(text + " "))
        if ends and len(tokenize(text[: ends[-1]])) >= MIN_TOKENS:
            text = text[: ends[-1]]
    return text


def copies(text: str, source: str, window: int = COPY_WINDOW) -> bool:
    """True if ``text`` holds ``window`` consecutive words of ``source``."""
    held = set(ngrams(tokenize(source), window))
    return any(gram in held for gram in ngrams(tokenize(text), window))


def without_preamble(text: str) -> str:
    """The paragraph without a first sentence that talks about the task ("Here is a paragraph about the sea."),
    when the rest is long enough and talks about nothing of the kind: the small model often opens that way and
    then writes a clean paragraph. Anything else is left for :func:`rejection` to judge."""
    first = _SENTENCE.search(text)
    if first is None or meta_talk(text[: first.end()]) is None:
        return text
    rest = text[first.end():].strip()
    return rest if len(tokenize(rest)) >= MIN_TOKENS and meta_talk(rest) is None else text


def rejection(text: str, prompt: str, given: str = "") -> str | None:
    """Why an answer cannot be kept (module docstring), or ``None`` when it can. ``given``: what the model read."""
    tokens = tokenize(text)
    if not content_words(tokens) or len(tokens) < MIN_TOKENS:
        return f"empty or too short ({len(tokens)} words)"
    repeated = [gram for gram, count in Counter(ngrams(tokens, 4)).items() if count >= 3]
    if repeated or (distinct_n([text], 2) or 0.0) < 0.5:
        return "degenerate: it repeats itself"
    echoed = echo(text, prompt)
    if echoed is not None and echoed > ECHO_LIMIT:
        return f"echoes the prompt ({echoed:.2f})"
    if given and copies(text, given):
        return f"copies {COPY_WINDOW} words of what it was given"
    talk = meta_talk(text)
    if talk is not None:
        return f"talks about its task or itself ({talk!r})"
    return None


class Settling:
    """What of one attempt's paragraph is settled while the model writes it: text that will stand in the reply
    whatever the model writes next, so that it can be shown at once (the OpenAI route streams it) and no rejected
    attempt ever reaches a reader.

    At each sentence end (:func:`~harmonix.text.sentence_ends`, where :func:`clean` cuts too), the paragraph so far,
    ``without_preamble(clean(...))``, is judged by :func:`rejection`; when it passes, it is settled. Once something is
    settled the attempt is never rejected: if the whole paragraph fails at the end, the reply is what had settled
    (:meth:`reply`). Every reply therefore passed every guard, and whatever was shown of it is its beginning."""

    def __init__(self, prompt: str, given: str) -> None:
        self._prompt, self._given = prompt, given
        self._written = ""
        self._judged = 0
        self.text = ""
        """What is settled so far."""

    def add(self, piece: str) -> str:
        """Take the next piece the model wrote; return what it settles (often "")."""
        self._written += piece
        before = self.text
        for end in sentence_ends(self._written, self._judged):
            self._judged = end
            candidate = without_preamble(clean(self._written[:end]))
            if candidate.startswith(self.text) and rejection(candidate, self._prompt, self._given) is None:
                self.text = candidate
        return self.text[len(before):]

    def reply(self, written: str) -> tuple[str, str | None]:
        """The attempt's reply once the model has written ``written`` (all of it; what :meth:`add` has not yet taken
        is taken now), and why it cannot be kept (``None`` when it can): the whole paragraph when it passes and
        begins with what settled, else what settled, else the whole paragraph and its problem."""
        self.add(written[len(self._written):])
        text = without_preamble(clean(written))
        problem = rejection(text, self._prompt, self._given)
        if self.text and (problem is not None or not text.startswith(self.text)):
            return self.text, None
        return text, problem


@dataclass(frozen=True, slots=True)
class ProseReply:
    """One paragraph. ``given`` is exactly what the model read: the completion's opening, or in chat mode the
    messages as ``role: content`` blocks; ``rejected`` says why each earlier attempt was not kept."""

    text: str
    mode: str
    given: str
    memories: int
    dissonance: float
    temperature: float
    tokens: int
    tokens_per_s: float
    backend: str
    attempts: int
    rejected: tuple[str, ...]
    seed: int
    first: str = ""
    """The words the paragraph was given to open on, "The" and a lean word (empty: the model opened it itself)."""

    def details(self) -> dict[str, Any]:
        return reply_details(self)


class Prose(LLMOrganism):
    """The organism, built around its field by a colony (:meth:`build`); then
    ``reply = await prose.answer(prompt)``."""

    name = NAME

    async def respond(self, stimulus: Stimulus) -> ProseReply:
        """The organism protocol (:mod:`harmonix.organisms.base`): answer the cascade's prompt."""
        return await self.answer(stimulus.prompt, seed=stimulus.seed, on_token=stimulus.on_token,
                                 on_settled=stimulus.on_settled, ledger=stimulus.ledger)

    async def answer(self, prompt: str, *, seed: int | None = None, on_token: TokenListener | None = None,
                     on_settled: SettledListener | None = None, ledger: RowLedger | None = None) -> ProseReply:
        """One turn (module docstring). Bad prompts raise :class:`~harmonix.errors.InvalidText`, field unchanged."""
        validate_text(prompt, what="prompt")
        seed = secrets.randbits(63) if seed is None else seed
        rng = random.Random(seed)
        spec = snapshot_spec(lookup(prompt, self._memory))
        rejected: list[str] = []
        async with self._field.turn(ledger) as turn:
            await turn.wrinkle(prompt)
            snapshot = await turn.snapshot(rng, spec)
            if snapshot.counts.texts == 0:
                for paragraph in genesis():
                    await turn.ingest(paragraph, source=GENESIS_SOURCE)
                snapshot = await turn.snapshot(rng, spec)
            listening = listen(prompt, snapshot, self._memory)
            t = temperature(listening.dissonance, T_LOW, T_HIGH)
            for attempt in range(1, ATTEMPTS + 1):
                paragraphs = opening(snapshot, listening, rng)
                candidates = self._opener_candidates(listening.lean)
                first = await self._likeliest_opener(completion_prompt(paragraphs), candidates) if candidates else ""
                given, generation, settling = await self._speak(prompt, paragraphs, first, Sampling(
                    max_tokens=MAX_TOKENS, temperature=t, seed=rng.getrandbits(31), stop=STOP,
                    reuse_prefix=bool(candidates)), attempt, on_token, on_settled)
                text, problem = settling.reply(generation.text)
                if problem is None:
                    break
                rejected.append(problem)
            else:
                raise CompositionFailed(f"Prose: every attempt was rejected: {'; '.join(rejected)}")
            await turn.ingest(text, source=SELF_SOURCE, seed=seed, tokens=generation.tokens)
            await turn.record(dissonance=listening.dissonance, temperature=t, tokens=generation.tokens,
                              tokens_per_s=round(generation.tokens_per_s, 2), attempts=len(rejected) + 1,
                              backend=generation.backend, mode=self._mode)
        memories = sum(paragraph in self._memory.texts for paragraph in paragraphs)
        return ProseReply(text=text, mode=self._mode, given=given, memories=memories,
                          dissonance=listening.dissonance, temperature=t, tokens=generation.tokens,
                          tokens_per_s=generation.tokens_per_s, backend=generation.backend,
                          attempts=len(rejected) + 1, rejected=tuple(rejected), seed=seed, first=first)

    def _opener_candidates(self, lean: Mapping[str, float]) -> dict[str, float]:
        """The lean's words a paragraph may open on (:meth:`_likeliest_opener`): those that are not generic (in at
        most ``GENERIC_SHARE`` of the memory's paragraphs, :meth:`~harmonix.engines.memory.Memory.share`); none in
        chat mode or with an engine that reports no alternatives (an OpenAI-compatible server), which are not
        asked."""
        if self._mode != "completion" or not self._engine.reports_alternatives:
            return {}
        return {word: weight for word, weight in lean.items()
                if weight > 0 and self._memory.share(word) <= GENERIC_SHARE}

    async def _likeliest_opener(self, given: str, candidates: Mapping[str, float]) -> str:
        """Words for a text to open on that the prompt calls up *and* the model itself finds likely there, or ""
        (the model then opens the text itself). Of the ``candidates`` (:meth:`_opener_candidates`), the one that
        maximises::

            log p(" w" | given + OPENER) + log lean(w)

        among the model's ``OPENER_ALTERNATIVES`` likeliest next tokens after ``given`` and ``OPENER`` (one greedy
        token that reports them), returned as ``OPENER`` and the word: "The harbour". A lean word placed where the
        model would not put it reads as planted ("Category: Art & Design …"); placed where the model's own
        likelihood puts it, it leads the text without standing out. A generic word ("time", "way") leads nowhere.
        Either way the paragraph's prompt shares its beginning, ``given``, with this one, so the paragraph
        continues from the state this asking left (:attr:`~harmonix.engines.llm.Sampling.reuse_prefix`) even
        when no word is chosen."""
        generation = await self._engine.complete(given + OPENER, Sampling(
            max_tokens=1, temperature=0.0, seed=0, alternatives=OPENER_ALTERNATIVES), timeout=self._timeout_s)
        likely = generation.alternatives[0] if generation.alternatives else {}
        scored = [(likely[" " + word] + math.log(weight), word) for word, weight in sorted(candidates.items())
                  if " " + word in likely]
        return f"{OPENER} {max(scored)[1]}" if scored else ""

    async def _speak(self, prompt: str, paragraphs: Sequence[str], first: str, sampling: Sampling, attempt: int,
                     on_token: TokenListener | None,
                     on_settled: SettledListener | None) -> tuple[str, Generation, Settling]:
        """One attempt in this organism's mode: what the model was given (as text), what it wrote, from ``first`` on
        (completion mode: the words the paragraph opens on, streamed first), and what of it settled as it wrote."""
        if self._mode == "completion":
            given = completion_prompt(paragraphs, first)
            settling = Settling(prompt, given)
            listener = attempt_listener(attempt, settling, on_token, on_settled)
            return given, await self._continue(given, first, sampling, listener), settling
        messages = chat_messages(paragraphs)
        given = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)
        settling = Settling(prompt, given)
        listener = attempt_listener(attempt, settling, on_token, on_settled)
        return given, await self._engine.chat(messages, sampling, timeout=self._timeout_s, on_text=listener), settling
