"""Metrics every report uses, defined once. Pure functions.

``echo`` is the metric the ancestors called *external_vocab*, frozen here exactly as docs/architecture.md defines it
("The observer and the frozen metric").
The ancestors changed its formula between the two arms of their experiment; this module is the only definition
Harmonix has, and its tests pin it.
"""

from __future__ import annotations

from collections.abc import Iterable

from harmonix.text import content_words, ngrams, tokenize

OPTIMAL_ECHO = 0.2


def echo(reply: str, prompt: str) -> float | None:
    """How much of a reply's content is the prompt's own words coming back.

    Tokenize both with :func:`harmonix.text.tokenize`; keep content tokens (not stop/function words, at least three
    letters: :func:`harmonix.text.content_words`). Token-level, repeats count::

        echo = |{t in content(reply) : t in set(content(prompt))}| / |content(reply)|

    A reply with no content tokens is *invalid* and returns ``None``: never 0.0, so an empty or canned one-word reply
    cannot pass as a perfect score. Range [0, 1]; lower means the organism speaks from its own field.
    """
    reply_content = content_words(tokenize(reply))
    if not reply_content:
        return None
    prompt_content = set(content_words(tokenize(prompt)))
    echoed = sum(1 for token in reply_content if token in prompt_content)
    return echoed / len(reply_content)


def is_optimal(echo_value: float | None) -> bool:
    """An optimal turn: a valid reply (echo is not ``None``) with echo < ``OPTIMAL_ECHO`` (0.2)."""
    return echo_value is not None and echo_value < OPTIMAL_ECHO


def distinct_n(texts: Iterable[str], n: int) -> float | None:
    """Diversity across ``texts``: distinct n-grams / all n-grams, n-grams taken within each text.

    ``None`` when the texts hold no n-gram at all (nothing to measure). Range (0, 1]; 1 means no n-gram repeats.
    """
    total = 0
    distinct: set[tuple[str, ...]] = set()
    for text in texts:
        grams = ngrams(tokenize(text), n)
        total += len(grams)
        distinct.update(grams)
    return None if total == 0 else len(distinct) / total
