"""Observer maths: how far a user's words are from an organism's state, the prompt's pulse, and temperature.

Pure functions; every number an organism reports is defined here, in a form a reader can check.

Notation: ``U`` is the set of the prompt's content words, ``S`` the set of content words of the organism's
*previous output* (never the user's own words: the ancestors measured the user against the user and got d = 0).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from harmonix.text import content_words, tokenize


def dissonance(user_words: Collection[str], system_words: Collection[str]) -> float:
    """``d = 1 - |U ∩ S| / |U|``: the share of the user's content words that the organism's previous output does
    not contain, in [0, 1]. 0: everything the user brought, the organism just said; 1: all of it is foreign.

    Why not one minus Jaccard (``|U ∩ S| / |U ∪ S|``): it is ruled by the size of the longer text, so a
    five-word prompt against a fourteen-line sonnet is ~1 whatever it says. Containment asks how much of what the
    user brought is foreign to the organism's state, whatever the organism's length.

    No content word in the prompt (U empty): 0.5, nothing is known either way.
    """
    user, system = set(user_words), set(system_words)
    if not user:
        return 0.5
    return 1.0 - len(user & system) / len(user)


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
    """The monotone map ``T = low + (high - low) * d`` for d in [0, 1] (clamped): the further the user is from
    what the organism last said, the more freely it samples. Each organism chooses its own bounds."""
    if not low <= high:
        raise ValueError(f"temperature bounds must satisfy low <= high, got {low}, {high}")
    return low + (high - low) * min(1.0, max(0.0, d))
