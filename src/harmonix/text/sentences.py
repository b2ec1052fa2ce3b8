"""Where a sentence ends, for the organisms that cut what a model wrote into sentences.

A sentence ends at ".", "!" or "?" (a closing quote or bracket may follow) before whitespace, except a period that
closes an abbreviation ("e.g.", "i.e.", "etc.", "Dr.", …) or an initial ("J. Smith"). Without the exception a small
model's "(e.g. humanity) to share their own stories" was cut at "e.g." and Artist quoted "humanity) to share their own
stories" as a sentence of Prose; Prose's settling took "… (e.g." for a finished sentence.

The test is the text before the mark only, never the text after it, so an end found while a model is still writing
stays an end when more arrives (Prose's settling judges at each end as the words stream in). That is why "etc." never
ends a sentence here, though it sometimes does: telling which needs the next word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_END = re.compile(r"[.!?][\"')\]]?(?=\s)")
_WORD_BEFORE = re.compile(r"[^\W\d_][^\W\d_.]*(?:\.[^\W\d_]+)*$")
ABBREVIATIONS = frozenset({"e.g", "i.e", "cf", "vs", "etc", "mr", "mrs", "ms", "dr", "st", "prof", "jr", "sr",
                           "approx", "a.m", "p.m", "u.s", "fig"})
"""Words whose closing period is not a sentence end (lowercase, without that period)."""
_LOOK_BACK = 16


def _closes_abbreviation(text: str, period: int) -> bool:
    """Whether the period at ``period`` closes an abbreviation or a one-letter initial."""
    word = _WORD_BEFORE.search(text, max(0, period - _LOOK_BACK), period)
    if word is None:
        return False
    return word.group().lower() in ABBREVIATIONS or (len(word.group()) == 1 and word.group().isupper())


def sentence_ends(text: str, start: int = 0) -> Iterator[int]:
    """The offsets just after each sentence end in ``text`` from ``start`` on (module docstring), in order."""
    for match in _END.finditer(text, start):
        if text[match.start()] == "." and _closes_abbreviation(text, match.start()):
            continue
        yield match.end()


def sentences(text: str) -> list[str]:
    """``text`` cut at its sentence ends, each sentence stripped, empty ones left out."""
    parts, begin = [], 0
    for end in sentence_ends(text):
        parts.append(text[begin:end])
        begin = end
    parts.append(text[begin:])
    return [part.strip() for part in parts if part.strip()]
