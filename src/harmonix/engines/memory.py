"""The long-term memory: what a prompt can resonate with, and what "associated" means. Weightless.

Every process loads one immutable :class:`Memory` (:mod:`harmonix.lab.training.memory` writes it: short paragraphs about
the everyday words of English) and every colony's organisms share it, the way they share HAiKU's bootstrap poetry.
It answers three questions, all by counting:

- **How familiar is a word?** :meth:`Memory.count`: how often the memory holds it (by :func:`stem`, so "clouds"
  and "cloud" are one).
- **Which words go with these?** :meth:`Memory.associates`: words that share paragraphs with the query's words more
  often than chance, ranked by ``sum over query words w of df(w, v) * log(N * df(w, v) / (df(w) * df(v)))`` for a
  candidate ``v``: pointwise mutual information of paragraph co-occurrence, weighted by how often it was seen
  (``df(w, v)`` paragraphs hold both, ``df(w)`` hold ``w``, ``N`` paragraphs in all); only pairs seen in at least
  ``MIN_SHARED`` paragraphs count, and the query's own words are never their own associates.
- **What do these words call up?** :meth:`Memory.called_up`: what they mean, from the lexicon loaded with the
  memory (:mod:`harmonix.engines.lexicon`, from WordNet), plus their associates here at ``CO_OCCURRENCE_WEIGHT``
  (each source's strongest counting 1): ``score(v) = lexicon(v) + CO_OCCURRENCE_WEIGHT * pmi(v) / max pmi``.
  Co-occurrence alone calls up little a reader recognises ("heron" → "testament", "iconic"); the lexicon calls up
  "wading", "bird", "neck". The observer's dissonance keeps co-occurrence: it asks how *connected* a prompt is to
  what a field holds, not what it means.
- **How does a sentence open?** :meth:`Memory.opens`: how many of its sentences begin with a word: the embedded
  model's own habits, since it wrote them. **How common is a word?** :meth:`Memory.share`: the fraction of its
  paragraphs that hold it; a word most of them hold says little about what one is about.
- **Which memories resonate?** :meth:`Memory.resonance` scores any text against a query by BM25 over stems
  (``k1 = 1.2``, ``b = 0.75``, inverse document frequencies from the memory): the query's words weigh 1, what they
  call up :data:`ASSOCIATE_WEIGHT`. :meth:`Memory.resonant` ranks the memory's own paragraphs that way.

The user's words never become an organism's text through this: a query only *chooses* among texts the organism
already holds.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

from harmonix.engines.lexicon import Lexicon
from harmonix.text import content_words, sentences, stem, tokenize

if TYPE_CHECKING:
    from harmonix.engines.shared import SharedEngines

MIN_SHARED = 2
REMEMBERED_QUERIES = 4096
ASSOCIATE_WEIGHT = 0.5
CO_OCCURRENCE_WEIGHT = 0.5
K1, B = 1.2, 0.75


def stems_of(text: str) -> list[str]:
    """The stems of a text's content words, in order."""
    return [stem(word) for word in content_words(tokenize(text))]


@dataclass(frozen=True)
class Memory:
    """Paragraphs and what counting them tells (module docstring). Build with :meth:`load` or :meth:`build`."""

    texts: tuple[str, ...]
    postings: Mapping[str, tuple[int, ...]]
    counts: Mapping[str, int]
    surface: Mapping[str, str]
    lengths: tuple[int, ...]
    keys: tuple[frozenset[str], ...]
    openers: Mapping[str, int] = field(default_factory=dict)
    """How many of the memory's sentences open on each word (lower case)."""
    lexicon: Lexicon = field(default_factory=Lexicon.empty, repr=False, compare=False)
    _associated: dict[tuple[str, ...], tuple[tuple[str, float], ...]] = field(
        default_factory=dict, repr=False, compare=False)
    """Answers of :meth:`associates` by query (the same prompt words come back turn after turn), at most
    ``REMEMBERED_QUERIES``, under ``_guard``: organisms listen from worker threads."""
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def build(cls, texts: Iterable[str], lexicon: Lexicon | None = None) -> Memory:
        texts = tuple(texts)
        postings: dict[str, list[int]] = {}
        counts: Counter[str] = Counter()
        forms: dict[str, Counter[str]] = {}
        lengths = []
        keys = []
        openers: Counter[str] = Counter()
        for index, text in enumerate(texts):
            openers.update(tokens[0] for tokens in map(tokenize, sentences(text)) if tokens)
            words = content_words(tokenize(text))
            lengths.append(len(words))
            keys.append(frozenset(stem(word) for word in words))
            for word in words:
                key = stem(word)
                counts[key] += 1
                forms.setdefault(key, Counter())[word] += 1
            for key in dict.fromkeys(stem(word) for word in words):
                postings.setdefault(key, []).append(index)
        surface = {key: max(sorted(found), key=found.__getitem__) for key, found in forms.items()}
        return cls(texts, {key: tuple(ids) for key, ids in postings.items()}, dict(counts), surface, tuple(lengths),
                   tuple(keys), dict(openers), lexicon or Lexicon.empty())

    @classmethod
    def load(cls) -> Memory:
        """The packaged memory (``data/memory/memory.jsonl.gz``) with the packaged lexicon."""
        raw = resources.files("harmonix").joinpath("data", "memory", "memory.jsonl.gz").read_bytes()
        lines = gzip.decompress(raw).decode("utf-8").splitlines()
        return cls.build((json.loads(line)["text"] for line in lines if line.strip()), Lexicon.load())

    def count(self, word: str) -> int:
        """How often the memory holds ``word`` (by stem)."""
        return self.counts.get(stem(word), 0)

    def share(self, word: str) -> float:
        """The fraction of the memory's paragraphs that hold ``word`` (by stem): ``df / N``. A word most paragraphs
        use ("time", "way") says little about what one of them is about."""
        return len(self.postings.get(stem(word), ())) / len(self.texts) if self.texts else 0.0

    def opens(self, word: str) -> int:
        """How many of the memory's sentences open on ``word`` (its exact form, any case). The memory was written
        by the embedded model, so this is how often that model begins a sentence with the word."""
        return self.openers.get(word.lower(), 0)

    @classmethod
    async def shared(cls, engines: SharedEngines) -> Memory:
        """The packaged memory, loaded once per process and shared by every colony's organisms."""
        memory: Memory = await engines.once("memory", lambda: asyncio.to_thread(cls.load))
        return memory

    @property
    def remembered_queries(self) -> int:
        """How many queries' associates are held for reuse: at most ``REMEMBERED_QUERIES``, so a process that hears
        words without end does not grow without end."""
        with self._guard:
            return len(self._associated)

    def associates(self, words: Collection[str], limit: int = 24) -> list[tuple[str, float]]:
        """The words that go with ``words`` (module docstring), strongest first, as (word, weight)."""
        key = (*sorted({stem(word) for word in words}), f"#{limit}")
        with self._guard:
            found = self._associated.get(key)
        if found is None:
            found = tuple(self._associates(words, limit))
            with self._guard:
                self._associated[key] = found
                if len(self._associated) > REMEMBERED_QUERIES:
                    del self._associated[next(iter(self._associated))]  # the oldest answer goes first
        return list(found)

    def _associates(self, words: Collection[str], limit: int) -> list[tuple[str, float]]:
        query = {stem(word) for word in words} & self.postings.keys()
        n = len(self.texts)
        scores: dict[str, float] = {}
        for key in sorted(query):
            docs = self.postings[key]
            together: Counter[str] = Counter()
            for index in docs:
                together.update(self.keys[index])
            for other, both in together.items():
                if other in query or both < MIN_SHARED:
                    continue
                pmi = math.log(n * both / (len(docs) * len(self.postings[other])))
                if pmi > 0:
                    scores[other] = scores.get(other, 0.0) + both * pmi
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [(self.surface[key], weight) for key, weight in ranked]

    def called_up(self, words: Collection[str], limit: int = 24) -> list[tuple[str, float]]:
        """What ``words`` call up (module docstring), strongest first, as (word, score); never one of ``words``."""
        scores = self.lexicon.called_up(words)
        found = self.associates(words, limit)
        for word, weight in found:
            scores[word] += CO_OCCURRENCE_WEIGHT * weight / found[0][1]
        own = {stem(word) for word in words}
        ranked = sorted(((word, score) for word, score in scores.items() if stem(word) not in own),
                        key=lambda pair: (-pair[1], pair[0]))
        return ranked[:limit]

    def idf(self, key: str) -> float:
        """BM25's inverse document frequency of a stem: ``log(1 + (N - df + 0.5) / (df + 0.5))``."""
        df = len(self.postings.get(key, ()))
        return math.log(1 + (len(self.texts) - df + 0.5) / (df + 0.5))

    def query(self, words: Collection[str], associates: int = 12) -> dict[str, float]:
        """The weighted stems a text is scored against: ``words`` (1) and the ``associates`` strongest words they
        call up (``ASSOCIATE_WEIGHT``)."""
        weights = {stem(word): ASSOCIATE_WEIGHT for word, _ in self.called_up(words, associates)}
        weights.update({stem(word): 1.0 for word in words})
        return weights

    def resonance(self, text: str, query: Mapping[str, float]) -> float:
        """BM25 of ``text`` against ``query`` (module docstring); 0 when nothing matches."""
        keys = stems_of(text)
        if not keys:
            return 0.0
        average = sum(self.lengths) / len(self.lengths) if self.lengths else len(keys)
        found = Counter(keys)
        norm = K1 * (1 - B + B * len(keys) / average)
        return sum(weight * self.idf(key) * found[key] * (K1 + 1) / (found[key] + norm)
                   for key, weight in query.items() if key in found)

    def resonant(self, query: Mapping[str, float], limit: int) -> list[int]:
        """The memory's paragraphs that resonate with ``query``, strongest first (ties: lower index first), at most
        ``limit``; paragraphs that share nothing with it are left out."""
        candidates = {index for key in query for index in self.postings.get(key, ())}
        scored = [(self.resonance(self.texts[index], query), index) for index in candidates]
        return [index for score, index in sorted(scored, key=lambda pair: (-pair[0], pair[1])) if score > 0][:limit]

