"""The lexicon: what a word calls up, by what it means. Weightless.

A table written once from WordNet by :mod:`harmonix.lab.training.lexicon` (``data/lexicon/lexicon.json.gz``): for each
of 30 736 English words, up to 24 words its senses are defined by and linked to, each weighted in (0, 1] (the
strongest 1). "heron" calls up "wading", "bird", "neck", "legs", "egret". Every process loads it once with the
memory (:meth:`harmonix.engines.memory.Memory.load`), and every colony's organisms share it.

A word is looked up as its irregular form's lemma ("mice" → "mouse"; "saw" → "see": the lexicon keeps a form that is
an entry of its own only where the lemma is the more frequent reading), else as it is, else after the first of
:data:`ENDINGS` whose removal (or replacement) leaves an entry: "herons" → "heron", "crowded" → "crowd",
"cities" → "city". A set of words calls up, for each candidate ``v``, ``sum over words w of weight(w, v)``,
never one of the words themselves nor a form of one (by stem or lemma).
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources

from harmonix.text import stem

ENDINGS = (("ies", "y"), ("ves", "f"), ("ses", "s"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
           ("es", "e"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""),
           ("ier", "y"), ("iest", "y"), ("er", "e"), ("er", ""), ("est", "e"), ("est", ""))
"""Inflectional endings and what they were, tried in order (a shortened word must keep three letters)."""


def pack(found: Sequence[tuple[str, float]]) -> str:
    """An entry as the lexicon file stores it: ``"wading 1 bill 0.95 neck 0.9 …"``."""
    return " ".join(f"{word} {weight:g}" for word, weight in found)


def unpack(packed: str) -> tuple[tuple[str, float], ...]:
    """The (word, weight) pairs of a packed entry (:func:`pack`)."""
    parts = packed.split()
    return tuple((parts[i], float(parts[i + 1])) for i in range(0, len(parts), 2))


@dataclass(frozen=True)
class Lexicon:
    """What each word calls up (module docstring). Build with :meth:`of` or :meth:`load`, or :meth:`empty`.

    Entries stay packed (:func:`pack`) until a word is looked up: a turn looks up a handful of words, and one process
    holds the lexicon for every colony. As pairs, the 30 736 entries took 77 MB and a second to load; packed, 11 MB and
    a tenth of a second."""

    entries: Mapping[str, str]
    forms: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Mapping[str, Sequence[tuple[str, float]]], forms: Mapping[str, str] | None = None) -> Lexicon:
        """A lexicon from ``{word: [(associate, weight), …]}``, strongest first, and irregular ``forms``."""
        return cls({word: pack(found) for word, found in entries.items()}, dict(forms or {}))

    @classmethod
    def empty(cls) -> Lexicon:
        return cls({})

    @classmethod
    def load(cls) -> Lexicon:
        """The packaged lexicon."""
        raw = resources.files("harmonix").joinpath("data", "lexicon", "lexicon.json.gz").read_bytes()
        document = json.loads(gzip.decompress(raw).decode("utf-8"))
        return cls(document["entries"], document["forms"])

    def __len__(self) -> int:
        return len(self.entries)

    def lemma(self, word: str) -> str | None:
        """The entry ``word`` is looked up as (module docstring), or ``None``."""
        word = word.lower()
        if word in self.forms:
            return self.forms[word]
        if word in self.entries:
            return word
        for ending, was in ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) + len(was) >= 3:
                base = word[: len(word) - len(ending)] + was
                if base in self.entries:
                    return base
        return None

    def associates(self, word: str) -> tuple[tuple[str, float], ...]:
        """What ``word`` calls up, strongest first; empty when the lexicon does not know it."""
        lemma = self.lemma(word)
        return unpack(self.entries[lemma]) if lemma is not None else ()

    def called_up(self, words: Collection[str]) -> defaultdict[str, float]:
        """What ``words`` call up together: each candidate's summed weight, never one of ``words`` nor a form of
        one (by stem or by lemma: "remembered" is not called up by "remember")."""
        own = {stem(word) for word in words}
        lemmas = {self.lemma(word) for word in words} - {None}
        scores: defaultdict[str, float] = defaultdict(float)
        for word in dict.fromkeys(words):
            for other, weight in self.associates(word):
                if stem(other) not in own and self.lemma(other) not in lemmas:
                    scores[other] += weight
        return scores
