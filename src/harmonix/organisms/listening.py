"""Listening: what one prompt means to one organism, from its field and the shared memory. Weightless.

Every organism listens the same way at the start of its turn, after the prompt has wrinkled its field:

1. the prompt's distinct content words, and each one's strongest associates in the memory
   (:meth:`~harmonix.engines.memory.Memory.associates`, ``ASSOCIATES_PER_WORD`` each);
2. the field's counts of all of them (one snapshot, :func:`lookup` names the words it must carry) give the
   **dissonance** (:func:`harmonix.observer.field_dissonance`): how foreign the prompt is to what this organism holds;
3. the **lean**: the words the prompt as a whole calls up (:meth:`~harmonix.engines.memory.Memory.called_up`: what
   its words mean, from the lexicon, and what the memory associates with them) that this organism can say
   (``can_say``), weighted ``s_a / max s`` so the strongest is 1. The prompt's own words are never in it: an organism
   leans towards what the prompt calls up in it, not towards what the user said;
4. the **query** the organism ranks its own texts with (:meth:`Listening.resonance`): the prompt's stems at weight 1
   and what they call up at a half (:meth:`~harmonix.engines.memory.Memory.query`). It only ever *chooses among*
   texts the organism already holds: which of its memories surface.

**Remembering what it heard.** The field keeps what the organism was told (its disturbances); listening reads the
``RECALL_TURNS`` prompts before this one (:func:`heard_before`) and lets them linger, fading by ``AFTERGLOW`` a turn.
With ``c_k(w)`` the score with which the prompt heard ``k`` turns ago calls up ``w`` (``k = 0``: this prompt)::

    lean(w) ∝ sum_k AFTERGLOW**k * c_k(w)        (k = 0 … RECALL_TURNS; the strongest weighs 1)

and the query gains each earlier prompt's stems at ``AFTERGLOW**k`` (the newest where a stem recurs; never lowering
a weight the present prompt gives), below the present prompt's own stems (1). Raw scores,
not each prompt's normalised list: a prompt of many content words calls up more than one of few, while an ordinary
prompt still leads (the earlier ones together weigh at most ``AFTERGLOW + AFTERGLOW**2 + … < 1`` of an equal one).
Six turns on, a prompt weighs ``0.5**6 ≈ 0.016``: it has faded. What the earlier prompts called up is still never
one of the present prompt's words.

**A request to go on names no subject.** The lean and the query are made from a prompt's *subject*
(:func:`subject_of`): its content words less the conversational ones that steer a talk without saying what it is
about (:data:`harmonix.text.CONVERSATIONAL`: "tell", "continue", "explain", "else" …). "Tell me more." after three
prompts about a harbour therefore leans on the harbour alone, as a person hears it; before this rule its own words
called up "continued", "proceed" and "keep", which outweighed the harbour, and the openings read "Continued …".
Dissonance still counts every content word (the observer's metric is unchanged).

**Choosing is not speaking.** What an organism *generates from* (a model's context, a priming line) holds the lean at
most, never the prompt's words. What it *chooses among* its own candidates with (:meth:`Listening.choosing`) may also
count the prompt's words the organism itself can say (``PROMPT_WORD_WEIGHT``, once): when the sea is asked about,
a haiku HAiKU walked that holds its own word "sea" answers better than one that does not. Echo
(:func:`harmonix.metrics.echo`) measures what comes back of the prompt's words; every organism keeps it low.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from harmonix.engines.memory import Memory
from harmonix.field import FieldSnapshot
from harmonix.observer import Acquaintance, field_dissonance
from harmonix.text import content_words, subject_words, tokenize

ASSOCIATES_PER_WORD = 8
LEAN_WORDS = 24
PROMPT_WORD_WEIGHT = 1.0
FIRST_WORD_CHOICES = 3
FIRST_WORD_OPENINGS = 3
RECALL_TURNS = 6
AFTERGLOW = 0.5
HEARD_TURNS = RECALL_TURNS + 1
"""The disturbances a snapshot must carry for listening: this turn's prompt and the ``RECALL_TURNS`` before it."""


def prompt_words(prompt: str) -> tuple[str, ...]:
    """The prompt's distinct content words, in order of first appearance."""
    return tuple(dict.fromkeys(content_words(tokenize(prompt))))


def subject_of(prompt: str) -> tuple[str, ...]:
    """The prompt's distinct words that name a subject (:func:`harmonix.text.subject_words`): "Tell me more about
    the harbour." names the harbour; "Tell me more." names nothing."""
    return tuple(dict.fromkeys(subject_words(tokenize(prompt))))


def heard_before(snapshot: FieldSnapshot) -> tuple[str, ...]:
    """The prompts the organism heard before this turn's, newest first (at most ``RECALL_TURNS``): a snapshot
    taken after the turn's wrinkle holds that prompt as its newest disturbance, so the ones after it."""
    return tuple(disturbance.body for disturbance in snapshot.disturbances[1:HEARD_TURNS])


def lookup(prompt: str, memory: Memory) -> tuple[str, ...]:
    """The words whose field counts listening needs (``SnapshotSpec.lookup``): the prompt's and their associates'."""
    words = set(prompt_words(prompt))
    for word in prompt_words(prompt):
        words.update(associate for associate, _ in memory.associates([word], ASSOCIATES_PER_WORD))
    return tuple(sorted(words))


@dataclass(frozen=True, slots=True)
class Listening:
    """What a prompt means to one organism this turn (module docstring)."""

    words: tuple[str, ...]
    """The prompt's subject (:func:`subject_of`): what the lean and the query are made from."""
    dissonance: float
    lean: Mapping[str, float]
    query: Mapping[str, float]
    recalled: Mapping[str, float]
    """The earlier prompts' stems with their fading weights (module docstring), already part of :attr:`query`."""
    memory: Memory = field(repr=False, compare=False)

    def resonance(self, text: str) -> float:
        """How strongly ``text`` resonates with the prompt (BM25 against :attr:`query`; 0 when nothing matches)."""
        return self.memory.resonance(text, self.query)

    def by_resonance(self, texts: Sequence[str]) -> list[str]:
        """``texts`` that resonate at all, strongest first (ties keep their order)."""
        scored = [(self.resonance(text), i) for i, text in enumerate(texts)]
        return [texts[i] for score, i in sorted(scored, key=lambda pair: (-pair[0], pair[1])) if score > 0]

    def leaning(self, words: Sequence[str]) -> float:
        """How far ``words`` lean towards the prompt: the sum of their lean weights, each word once."""
        return sum(self.lean.get(word, 0.0) for word in set(words))

    def strongest(self, count: int) -> list[str]:
        """The ``count`` strongest words of the lean, strongest first (ties in alphabetical order)."""
        return sorted(self.lean, key=lambda word: (-self.lean[word], word))[:count]

    def first_word(self, rng: random.Random, choices: int = FIRST_WORD_CHOICES) -> str:
        """A word for a model's text to open on: one of the ``choices`` strongest words of the lean that the
        embedded model itself opens sentences on (:meth:`~harmonix.engines.memory.Memory.opens` at least
        ``FIRST_WORD_OPENINGS`` times in the memory it wrote), drawn, capitalised; empty when there is none. Artist's
        lines open on it (its module says why; Prose weighs its opening word with the model's own likelihood
        instead). A word the model never begins with ("Category", "Descriptor") made it continue as a heading:
        "Category: Art & Design …"."""
        words = [word for word in self.strongest(LEAN_WORDS) if self.memory.opens(word) >= FIRST_WORD_OPENINGS]
        return rng.choice(words[:choices]).capitalize() if words else ""

    def choosing(self, words: Sequence[str]) -> float:
        """How far a candidate's ``words`` answer the prompt, for choosing among the organism's own candidates
        (module docstring): :meth:`leaning` plus ``PROMPT_WORD_WEIGHT`` when a prompt word is among them. One
        counts, not each: the organism's own word for what was asked is an answer, more of them is an echo."""
        return self.leaning(words) + (PROMPT_WORD_WEIGHT if set(words) & set(self.words) else 0.0)

    def walking_lean(self, can_say: Callable[[str], bool]) -> dict[str, float]:
        """The lean of a weightless walk that only ever steps on the organism's own words: :attr:`lean` plus the
        prompt's words it ``can_say`` at ``PROMPT_WORD_WEIGHT`` (what :meth:`choosing` will count)."""
        return {**self.lean, **{word: PROMPT_WORD_WEIGHT for word in self.words if can_say(word)}}


def resonance_with(prompt: str, memory: Memory) -> Callable[[str], float]:
    """How strongly a text resonates with ``prompt``: :meth:`Listening.resonance` without a field (the query
    depends on the prompt and the memory alone)."""
    query = memory.query(prompt_words(prompt))
    return lambda text: memory.resonance(text, query)


def listen(prompt: str, snapshot: FieldSnapshot, memory: Memory, *,
           can_say: Callable[[str], bool] = lambda word: True, recall: bool = True) -> Listening:
    """Listen to ``prompt`` with the field as ``snapshot`` holds it (taken after the prompt's wrinkle, with
    :func:`lookup`'s words and ``HEARD_TURNS`` disturbances) and the shared ``memory`` (module docstring); with
    ``recall=False`` to this prompt alone (an organism whose field remembers in its own way) unless the prompt names
    no subject: then it is heard as being about what was heard before, whatever ``recall`` says."""
    content = prompt_words(prompt)
    words = subject_of(prompt)
    in_prompt = Counter(tokenize(prompt))
    associates = {word: dict(memory.associates([word], ASSOCIATES_PER_WORD)) for word in content}
    known = {}
    for word in {*content, *(a for found in associates.values() for a in found)}:
        counts = snapshot.lookup.get(word)
        own, heard = (counts.own, counts.heard) if counts is not None else (0, 0)
        known[word] = Acquaintance(own=own, heard=max(0, heard - in_prompt[word]), memory=memory.count(word))
    d = field_dissonance(content, known, associates)
    earlier = [subject_of(text) for text in heard_before(snapshot)] if recall or not words else []
    scores: dict[str, float] = {}
    for k, heard_words in enumerate([words, *earlier]):
        for word, score in memory.called_up(heard_words, LEAN_WORDS * 2):
            if word not in in_prompt and can_say(word):
                scores[word] = scores.get(word, 0.0) + AFTERGLOW ** k * score
    called_up = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:LEAN_WORDS]
    top = called_up[0][1] if called_up else 1.0
    recalled: dict[str, float] = {}
    for k, heard_words in enumerate(earlier, start=1):
        for key in memory.query(heard_words, associates=0):
            recalled[key] = max(recalled.get(key, 0.0), AFTERGLOW ** k)
    return Listening(words=words, dissonance=d, lean={word: weight / top for word, weight in called_up},
                     query=with_recalled(memory.query(words), recalled), recalled=recalled, memory=memory)


def with_recalled(query: Mapping[str, float], recalled: Mapping[str, float]) -> dict[str, float]:
    """``query`` with the earlier prompts' stems added, never lowering a weight ``query`` gives."""
    return {**recalled, **{key: max(weight, recalled.get(key, 0.0)) for key, weight in query.items()}}
