"""The lexicon: what a word calls up, by what it means. Weightless.

A table written once from WordNet by :mod:`harmonix.training.lexicon` (``data/lexicon/lexicon.json.gz``): for each
of about 35 000 English words, up to 24 words its senses are defined by and linked to, each weighted in (0, 1] (the
strongest 1). "heron" calls up "wading", "bird", "neck", "legs", "egret". Every process loads it once with the
memory (:meth:`harmonix.engines.memory.Memory.load`), and every colony's organisms share it.

A word is looked up as it is, else as its irregular form's lemma ("mice" → "mouse"), else after the first of
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
from typing import Any

from harmonix.text import stem

ENDINGS = (("ies", "y"), ("ves", "f"), ("ses", "s"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
           ("es", "e"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""),
           ("ier", "y"), ("iest", "y"), ("er", "e"), ("er", ""), ("est", "e"), ("est", ""))
"""Inflectional endings and what they were, tried in order (a shortened word must keep three letters)."""


@dataclass(frozen=True)
class Lexicon:
    """What each word calls up (module docstring). Build with :meth:`of` or :meth:`load`, or :meth:`empty`.

    Kept compact, one process holds it for every colony: each entry is a tuple of words and a tuple of weights, every
    word and weight one shared object (the JSON gives each occurrence its own; about 77 MB as pairs, 23 as
    this)."""

    words: Mapping[str, tuple[str, ...]]
    weights: Mapping[str, tuple[float, ...]]
    forms: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Mapping[str, Sequence[Sequence[str | float]]],
           forms: Mapping[str, str] | None = None) -> Lexicon:
        """A lexicon from ``{word: [(associate, weight), …]}``, strongest first, and irregular ``forms``."""
        shared: dict[str | float, Any] = {}
        words, weights = {}, {}
        for word, found in entries.items():
            words[word] = tuple(shared.setdefault(str(other), str(other)) for other, _ in found)
            weights[word] = tuple(shared.setdefault(float(weight), float(weight)) for _, weight in found)
        return cls(words, weights, dict(forms or {}))

    @classmethod
    def empty(cls) -> Lexicon:
        return cls.of({})

    @classmethod
    def load(cls) -> Lexicon:
        """The packaged lexicon."""
        raw = resources.files("harmonix").joinpath("data", "lexicon", "lexicon.json.gz").read_bytes()
        document = json.loads(gzip.decompress(raw).decode("utf-8"))
        return cls.of(document["entries"], document["forms"])

    def __len__(self) -> int:
        return len(self.words)

    def lemma(self, word: str) -> str | None:
        """The entry ``word`` is looked up as (module docstring), or ``None``."""
        word = word.lower()
        if word in self.words:
            return word
        if word in self.forms:
            return self.forms[word]
        for ending, was in ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) + len(was) >= 3:
                base = word[: len(word) - len(ending)] + was
                if base in self.words:
                    return base
        return None

    def associates(self, word: str) -> tuple[tuple[str, float], ...]:
        """What ``word`` calls up, strongest first; empty when the lexicon does not know it."""
        lemma = self.lemma(word)
        return tuple(zip(self.words[lemma], self.weights[lemma], strict=True)) if lemma is not None else ()

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
