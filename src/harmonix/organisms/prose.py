"""Prose: a real language model writing free prose, in organism mode.

The third step of the constraint gradient. A small LLM (SmolLM2-135M-Instruct by default, any GGUF, or any
OpenAI-compatible server: :mod:`harmonix.engines.llm`) writes one paragraph. In *organism mode* the user's prompt
never reaches the model: it only wrinkles Prose's field (counted as heard) and sets the temperature through
dissonance. The model is given a persona and a seed built from one atomic snapshot of the field, and its answer flows
back into the field. What Prose says grows out of what it has said before.

**One turn**, under Prose's field lock and in one transaction (:meth:`Prose.answer`):

1. wrinkle the field with the prompt; snapshot it (an empty field first receives its *genesis*, a few paragraphs we
   wrote, ``data/prose/genesis.txt``, so organism mode has something to speak from);
2. dissonance ``d`` between the prompt's content words and Prose's previous paragraph (:mod:`harmonix.observer`),
   temperature ``T = T_LOW + (T_HIGH - T_LOW) * d``;
3. the seed: recent 70 %, resonant trigrams 20 %, random depths 10 % of ``SEED_WORDS`` words, from the field's own
   material only (:func:`harmonix.field.build_seed`); the messages: :data:`PERSONA` and the seed (:func:`messages`);
4. generate with a stop sequence and a token budget; reject an empty, degenerate (a word 4-gram three times, or
   fewer than half its word pairs distinct) or echoing (echo > ``ECHO_LIMIT``) answer and try again with a fresh
   seed and sampling seed (``ATTEMPTS`` in all; rejects are never stored); if every attempt is rejected the turn
   fails with :class:`~harmonix.errors.CompositionFailed` and the field is unchanged;
5. ingest the paragraph as Prose's own and record the turn.

An LLM failure (server gone mid-answer, timeout) aborts the turn the same way: the field is left as it was.
"""

from __future__ import annotations

import random
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from harmonix.engines.llm import Message, Sampling
from harmonix.errors import CompositionFailed
from harmonix.field import SELF_SOURCE, Seed, SnapshotSpec, build_seed
from harmonix.metrics import distinct_n, echo
from harmonix.observer import dissonance, temperature
from harmonix.organisms.base import LLMOrganism, Stimulus, TokenListener, reply_details, text_listener
from harmonix.text import content_words, ngrams, tokenize, validate_text

if TYPE_CHECKING:
    pass

NAME = "prose"
PERSONA = (
    "You are Prose, a quiet voice that writes from memory. You are given fragments of what you remember. "
    "Write one paragraph of three to five sentences of free prose, in your own words, that grows out of those "
    "fragments. Do not address anyone, do not ask questions, do not explain what you are doing, do not make a list."
)
SEED_WORDS = 60
MAX_TOKENS = 140
STOP = ("\n\n",)
ATTEMPTS = 3
ECHO_LIMIT = 0.3
MIN_TOKENS = 12
T_LOW, T_HIGH = 0.5, 0.95
GENESIS_SOURCE = "genesis"
SPEC = SnapshotSpec(recent=6, random=3, trigrams=256, words=0, disturbances=0)


def genesis() -> list[str]:
    """The genesis paragraphs (``#`` lines are comments; blank lines separate paragraphs)."""
    text = resources.files("harmonix").joinpath("data", "prose", "genesis.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return [" ".join(block.split()) for block in "\n".join(lines).split("\n\n") if block.strip()]


def messages(seed: Seed) -> list[Message]:
    """Exactly what the model is given: the persona, then the field's seed. Never the user's words."""
    return [{"role": "system", "content": PERSONA},
            {"role": "user", "content": f"Fragments of your memory:\n{seed.text}\n\nWrite the paragraph."}]


def clean(text: str) -> str:
    """The paragraph without surrounding whitespace, quotes or a chat preamble line ending in a colon, and cut
    after its last complete sentence when the token budget stopped it mid-sentence."""
    first, _, rest = text.strip().partition("\n")
    if first.rstrip().endswith(":") and rest.strip():
        text = rest
    text = re.sub(r"\s+", " ", text.strip().strip('"').strip())
    if text and text[-1] not in ".!?\"'":
        ends = [match.end() for match in re.finditer(r"[.!?][\"')]?(?=\s|$)", text)]
        if ends and len(tokenize(text[: ends[-1]])) >= MIN_TOKENS:
            text = text[: ends[-1]]
    return text


def rejection(text: str, prompt: str) -> str | None:
    """Why an answer cannot be kept (step 4 of the turn), or ``None`` when it can."""
    tokens = tokenize(text)
    if not content_words(tokens) or len(tokens) < MIN_TOKENS:
        return f"empty or too short ({len(tokens)} words)"
    repeated = [gram for gram, count in Counter(ngrams(tokens, 4)).items() if count >= 3]
    if repeated or (distinct_n([text], 2) or 0.0) < 0.5:
        return "degenerate: it repeats itself"
    echoed = echo(text, prompt)
    if echoed is not None and echoed > ECHO_LIMIT:
        return f"echoes the prompt ({echoed:.2f})"
    return None


@dataclass(frozen=True, slots=True)
class ProseReply:
    text: str
    seed_text: str
    messages: tuple[Message, ...]
    dissonance: float
    temperature: float
    tokens: int
    tokens_per_s: float
    backend: str
    attempts: int
    rejected: tuple[str, ...]
    seed: int

    def details(self) -> dict[str, Any]:
        return reply_details(self)


class Prose(LLMOrganism):
    """The organism, built around its field by a colony (:meth:`build`); then
    ``reply = await prose.answer(prompt)``."""

    name = NAME

    async def respond(self, stimulus: Stimulus) -> ProseReply:
        """The organism protocol (:mod:`harmonix.organisms.base`): answer the cascade's prompt."""
        return await self.answer(stimulus.prompt, seed=stimulus.seed, on_token=stimulus.on_token)

    async def answer(self, prompt: str, *, seed: int | None = None,
                     on_token: TokenListener | None = None) -> ProseReply:
        """One turn (module docstring). Bad prompts raise :class:`~harmonix.errors.InvalidText`, field unchanged."""
        validate_text(prompt, what="prompt")
        seed = secrets.randbits(63) if seed is None else seed
        rng = random.Random(seed)
        prompt_words = content_words(tokenize(prompt))
        rejected: list[str] = []
        async with self._field.turn() as turn:
            await turn.wrinkle(prompt)
            snapshot = await turn.snapshot(rng, SPEC)
            if snapshot.counts.texts == 0:
                for paragraph in genesis():
                    await turn.ingest(paragraph, source=GENESIS_SOURCE)
                snapshot = await turn.snapshot(rng, SPEC)
            last = content_words(tokenize(snapshot.last_spoken.body)) if snapshot.last_spoken else []
            d = dissonance(prompt_words, last)
            t = temperature(d, T_LOW, T_HIGH)
            for attempt in range(1, ATTEMPTS + 1):
                field_seed = build_seed(snapshot, rng, words=SEED_WORDS)
                given = messages(field_seed)
                generation = await self._engine.chat(
                    given, Sampling(max_tokens=MAX_TOKENS, temperature=t, seed=rng.getrandbits(31), stop=STOP),
                    timeout=self._timeout_s, on_text=text_listener(on_token, attempt))
                text = clean(generation.text)
                problem = rejection(text, prompt)
                if problem is None:
                    break
                rejected.append(problem)
            else:
                raise CompositionFailed(f"Prose: every attempt was rejected: {'; '.join(rejected)}")
            await turn.ingest(text, source=SELF_SOURCE, seed=seed, tokens=generation.tokens)
            await turn.record(dissonance=d, temperature=t, tokens=generation.tokens,
                              tokens_per_s=round(generation.tokens_per_s, 2), attempts=len(rejected) + 1,
                              backend=generation.backend)
        return ProseReply(text=text, seed_text=field_seed.text, messages=tuple(given), dissonance=d, temperature=t,
                          tokens=generation.tokens, tokens_per_s=generation.tokens_per_s, backend=generation.backend,
                          attempts=len(rejected) + 1, rejected=tuple(rejected), seed=seed)
