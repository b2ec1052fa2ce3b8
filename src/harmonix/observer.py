"""Observer maths: how foreign a user's words are to an organism's field, the prompt's pulse, and temperature.

Pure functions; every number an organism reports is defined here, in a form a reader can check.

**Dissonance** measures a prompt against everything the organism holds, not against its last reply alone (the first
version did that; a reply rarely shares a content word with the next prompt, so d sat at 1.0 in 19 of 20 turns and
the temperature never moved). For each distinct content word ``w`` of the prompt:

- ``own(w)``: how often the organism's own texts hold ``w``; ``heard(w)``: how often users said it *before* this
  prompt; ``memory(w)``: how often the shared long-term memory holds it (:mod:`harmonix.engines.memory`);
- its associates ``A(w)`` in that memory, each with a weight ``s_a > 0`` (paragraph co-occurrence).

From which (:func:`familiarity`, :func:`connectedness`, :func:`field_dissonance`)::

    c(w) = own(w) + HEARD_WEIGHT * heard(w) + MEMORY_WEIGHT * memory(w)
    f(w) = c(w) / (c(w) + HALF_FAMILIAR)                              familiarity, in [0, 1)
    g(w) = sum_a s_a * f_field(a) / sum_a s_a   (0 when A(w) is empty)  connectedness, in [0, 1)
           f_field(a): the familiarity of a from the field alone (its memory term left out)
    d    = mean_w (1 - f(w)) * (1 - g(w))                             in [0, 1]

A word is foreign only as far as it is neither familiar itself nor connected to what the field knows: the product
makes either kind of acquaintance enough (an average of the two halved the range, because a young field's ``g`` is
0, and the spread over the standard prompts was 0.10; the product spreads them 0.16, measured with the memory as
shipped). ``d`` falls whenever the field meets a prompt word or one of its associates more often (monotone in every
count), is 1 exactly when neither the field nor the memory ever met a prompt word and the field never met an
associate, and is ``NO_WORDS`` (0.5) for a prompt with no content word: nothing is known either way.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from harmonix.text import content_words, tokenize

HEARD_WEIGHT = 0.5
MEMORY_WEIGHT = 0.1
HALF_FAMILIAR = 2.0
NO_WORDS = 0.5


@dataclass(frozen=True, slots=True)
class Acquaintance:
    """What an organism holds of one word: its own and heard counts (before this prompt) and the memory's."""

    own: int = 0
    heard: int = 0
    memory: int = 0


def familiarity(known: Acquaintance, *, with_memory: bool = True) -> float:
    """``f = c / (c + HALF_FAMILIAR)`` with ``c = own + HEARD_WEIGHT * heard + MEMORY_WEIGHT * memory`` (the memory
    term only ``with_memory``): 0 for a word never met, 0.5 at ``c = HALF_FAMILIAR``, towards 1 beyond."""
    if min(known.own, known.heard, known.memory) < 0:
        raise ValueError(f"counts must be non-negative, got {known}")
    c = known.own + HEARD_WEIGHT * known.heard + (MEMORY_WEIGHT * known.memory if with_memory else 0.0)
    return c / (c + HALF_FAMILIAR)


def connectedness(associates: Mapping[str, float], known: Mapping[str, Acquaintance]) -> float:
    """``g = sum_a s_a * f_field(a) / sum_a s_a`` over a word's associates ``a`` with weights ``s_a``: how much of
    what goes with the word the field itself has met. 0 when the word has no associate."""
    total = sum(associates.values())
    if total <= 0:
        return 0.0
    return sum(weight * familiarity(known.get(word, Acquaintance()), with_memory=False)
               for word, weight in associates.items()) / total


def field_dissonance(words: Collection[str], known: Mapping[str, Acquaintance],
                     associates: Mapping[str, Mapping[str, float]]) -> float:
    """``d = mean_w (1 - f(w)) * (1 - g(w))`` over the prompt's distinct content ``words`` (module docstring). ``known``
    holds the counts of the words and of their associates, ``associates`` each word's associates with their
    weights. ``NO_WORDS`` when there is no word."""
    distinct = sorted(set(words))
    if not distinct:
        return NO_WORDS
    foreign = [(1.0 - familiarity(known.get(word, Acquaintance())))
               * (1.0 - connectedness(associates.get(word, {}), known)) for word in distinct]
    return sum(foreign) / len(foreign)


@dataclass(frozen=True, slots=True)
class Pulse:
    """The prompt's pulse, each component in [0, 1] (see :func:`pulse`)."""

    novelty: float
    arousal: float
    entropy: float


def pulse(prompt: str, is_new: Callable[[str], bool]) -> Pulse:
    """Measure a prompt.

    - ``novelty`` = share of the prompt's distinct content words the organism's field has never met
      (``is_new(word)``); 0 when the prompt has no content word.
    - ``arousal`` = ``(marks + capitals) / 2`` where ``marks = min(1, (count of "!" and "?") / 3)`` and
      ``capitals = min(1, 2 * uppercase letters / letters)``: shouting and insisting raise it.
    - ``entropy`` = Shannon entropy of the prompt's content-word distribution divided by ``log(n)``, ``n`` its
      number of content tokens (1 when no word repeats, lower when the user insists on a few words); 0 for fewer
      than two content tokens.
    """
    words = content_words(tokenize(prompt))
    distinct = set(words)
    novelty = sum(1 for word in distinct if is_new(word)) / len(distinct) if distinct else 0.0
    letters = [char for char in prompt if char.isalpha()]
    marks = min(1.0, (prompt.count("!") + prompt.count("?")) / 3)
    capitals = min(1.0, 2 * sum(char.isupper() for char in letters) / len(letters)) if letters else 0.0
    return Pulse(novelty=novelty, arousal=(marks + capitals) / 2, entropy=normalized_entropy(words))


def normalized_entropy(items: Sequence[str]) -> float:
    """``H(p) / log(n)`` of the empirical distribution of ``items`` (n = len(items)); 0 for n < 2."""
    n = len(items)
    if n < 2:
        return 0.0
    entropy = -sum(c / n * math.log(c / n) for c in Counter(items).values())
    return entropy / math.log(n)


def temperature(d: float, low: float, high: float) -> float:
    """The monotone map ``T = low + (high - low) * d`` for d in [0, 1] (clamped): the more foreign the prompt is to
    the organism's field, the more freely it samples. Each organism chooses its own bounds."""
    if not low <= high:
        raise ValueError(f"temperature bounds must satisfy low <= high, got {low}, {high}")
    return low + (high - low) * min(1.0, max(0.0, d))
