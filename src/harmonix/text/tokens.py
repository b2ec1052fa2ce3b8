"""The one tokenizer of Harmonix, and the n-grams built on it.

Every component (field ingest, generation, observers, metrics) tokenizes through :func:`tokenize`, so a word means the
same thing everywhere. The ancestors tokenized differently on their sync and async paths and their fields filled up
with "Zebra" next to "zebra"; one function is the cure.

A token is a run of letters, optionally joined by *inner* apostrophes ("don't", "o'er", "rock'n'roll"). Text is
NFKC-normalised first, typographic apostrophes become ASCII ones, and everything is lowercased. Digits, underscores
and punctuation are never part of a word; an apostrophe at either end of a word is dropped ("'tis" -> "tis").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

Trigram = tuple[str, str, str]

# Letters are "word characters that are not digits or underscores".
_LETTERS = r"[^\W\d_]+"
_WORD = re.compile(rf"{_LETTERS}(?:'{_LETTERS})*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})


def normalize(text: str) -> str:
    """NFKC-normalise, unify apostrophes and lowercase: the form every token is cut from."""
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lowercase word tokens (letters with inner apostrophes); punctuation is never inside one."""
    return _WORD.findall(normalize(text))


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """All consecutive ``n``-token windows of ``tokens`` (empty when there are fewer than ``n`` tokens)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def trigrams(tokens: Sequence[str]) -> list[Trigram]:
    """Consecutive token triples: the unit a field counts and a Markov walk follows."""
    return [(tokens[i], tokens[i + 1], tokens[i + 2]) for i in range(len(tokens) - 2)]


def stem(word: str) -> str:
    """A light, deterministic plural stripper for matching, not for showing: ``-ies`` → ``-y`` ("stories" →
    "story"), ``-es`` after s, x, z, ch or sh ("boxes" → "box", "glasses" → "glass"), else a final ``-s`` (not
    ``-ss``, "waves" → "wave"), each only when three letters or more stay. Verb endings stay: "morning" and
    "building" are nouns as often as not."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
