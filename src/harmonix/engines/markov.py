"""An order-2 word Markov chain and a search that walks it into exact syllable budgets.

The chain maps a state (two words) to its next words with weights (counts). It can be *layered*: an immutable base
(e.g. a bootstrap field, built once per process) plus a small delta (e.g. what a field said and heard lately); the
layered chain merges a state's weights only when the walk visits it, so a turn never copies the base.

**Sampling.** At a state with next words ``w_i`` of weight ``c_i`` the walk tries words in the order of the keys::

    key_i = (s * log c_i + log h_i + log l_i) / T + g_i

``T`` is the temperature, ``g_i`` standard Gumbel noise, ``s = 1`` (or ``-1`` with ``rare=True``: prefer the paths
the chain has seen least), ``h_i`` in (0, 1] an optional *habituation* factor for the bigram (previous word,
``w_i``), and ``l_i >= 1`` an optional *lean* towards the word ``w_i`` itself. Largest key first: the first word
tried is a draw from ``p_i ∝ (c_i^s h_i l_i)^(1/T)``, the next ones follow without replacement (the Gumbel top-k
trick). Opening pairs are drawn with ``p ∝ weight^(1/T)``, from cumulative weights a chain keeps for its
:data:`OPENING_SAMPLERS` most recently used temperatures (rounded to 0.001). The temperature follows the observer's
dissonance, so it takes hundreds of values over a conversation: kept for every value, the base chain's samplers grew
a server by 200 MB over 1000 cascades (``harmonix bench soak``, traced with tracemalloc).

**Search.** Budgets (5, 7, 5 for a haiku) are met by depth-first search with backtracking: a word that would overshoot
the current line is skipped, a line may only end on a word ``closes_line`` allows, a dead end backtracks to the
previous word's next alternative, and at most ``branch`` alternatives are tried per word. The search never pads a
line with "a random word of the right length": every word follows from the two before it. It gives up after
``max_expansions`` word trials; the caller then starts from another opening.

All randomness comes from one ``numpy.random.Generator`` the caller seeds.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

State = tuple[str, str]
OPENING_SAMPLERS = 8
"""Opening samplers a chain keeps (most recently used temperatures): a turn draws all its openings at one
temperature, and one more is a single vectorised pass over the chain's openings."""
Habituation = Mapping[str, Mapping[str, float]]
"""Previous word -> next word -> ``log h`` (a non-positive log-factor) for the habituated bigrams."""
Lean = Mapping[str, float]
"""Word -> ``log l`` (a non-negative log-factor): the words a walk leans towards wherever they may follow."""
Keys = list[float] | np.ndarray
"""A state's scaled log-weights, one per next word."""
SMALL_STATE = 48
"""States with at most this many next words keep their keys as a Python list (see :meth:`Walker.ordered`)."""
NOISE_BATCH = 2048
"""Gumbel draws a walker takes from its generator at once."""


@dataclass(frozen=True, slots=True)
class Successors:
    """The next words of one state, the natural log of their weights, and each word's position."""

    words: tuple[str, ...]
    log_weights: np.ndarray
    index: Mapping[str, int]


class _MergedTransitions(Mapping[State, Mapping[str, float]]):
    """A read-only view of two transition tables whose weights add, merged per state on first access."""

    def __init__(self, base: Mapping[State, Mapping[str, float]], delta: Mapping[State, Mapping[str, float]]):
        self._base, self._delta = base, delta
        self._merged: dict[State, Mapping[str, float]] = {}

    def __getitem__(self, state: State) -> Mapping[str, float]:
        if state in self._merged:
            return self._merged[state]
        base, delta = self._base.get(state), self._delta.get(state)
        merged: Mapping[str, float]
        if base is None:
            if delta is None:
                raise KeyError(state)
            merged = delta
        elif delta is None:
            merged = base
        else:
            summed = dict(base)
            for word, weight in delta.items():
                summed[word] = summed.get(word, 0.0) + weight
            merged = summed
        self._merged[state] = merged
        return merged

    def __iter__(self) -> Iterator[State]:
        yield from self._base
        yield from (state for state in self._delta if state not in self._base)

    def __len__(self) -> int:
        return len(self._base) + sum(1 for state in self._delta if state not in self._base)


class OpeningSampler:
    """Draws opening pairs with ``p ∝ weight^(1/T)`` by bisection over cumulative weights, computed for one
    temperature from a chain's :class:`OpeningTable` in one vectorised pass."""

    def __init__(self, table: OpeningTable, temperature: float) -> None:
        self.pairs = table.pairs
        self.cumulative = np.cumsum(np.exp(table.log_weights / temperature))

    @property
    def total(self) -> float:
        return float(self.cumulative[-1]) if len(self.cumulative) else 0.0

    def draw(self, u: float) -> State:
        """The pair at cumulative position ``u * total`` (``u`` uniform in [0, 1))."""
        position = int(np.searchsorted(self.cumulative, u * self.total, side="right"))
        return self.pairs[min(position, len(self.pairs) - 1)]


@dataclass(frozen=True, slots=True)
class OpeningTable:
    """A chain's opening pairs in a fixed order and the natural log of their weights: what every temperature's
    sampler is computed from (sorting the pairs once per chain, not once per temperature)."""

    pairs: tuple[State, ...]
    log_weights: np.ndarray

    @classmethod
    def of(cls, starts: Mapping[State, float]) -> OpeningTable:
        pairs = tuple(sorted(pair for pair, weight in starts.items() if weight > 0))
        return cls(pairs, np.log(np.array([starts[pair] for pair in pairs], dtype=float)))


class MarkovChain:
    """Weighted trigrams and opening pairs. Build with :meth:`from_counts`; layer with :meth:`with_delta`."""

    def __init__(self, transitions: Mapping[State, Mapping[str, float]], starts: Mapping[State, float],
                 base: MarkovChain | None = None, delta: MarkovChain | None = None) -> None:
        self.transitions = transitions
        self.starts = starts
        self._layers = (base, delta)
        self._successors: dict[State, Successors | None] = {}
        self._opening_table: OpeningTable | None = None
        self._samplers: collections.OrderedDict[float, OpeningSampler] = collections.OrderedDict()

    @classmethod
    def from_counts(cls, trigrams: Iterable[tuple[str, str, str, float]],
                    starts: Iterable[tuple[str, str, float]] = ()) -> MarkovChain:
        """A chain from ``(w1, w2, w3, weight)`` rows and ``(w1, w2, weight)`` opening pairs (weights add up)."""
        transitions: dict[State, dict[str, float]] = {}
        for w1, w2, w3, weight in trigrams:
            following = transitions.setdefault((w1, w2), {})
            following[w3] = following.get(w3, 0.0) + weight
        opening: dict[State, float] = {}
        for w1, w2, weight in starts:
            opening[(w1, w2)] = opening.get((w1, w2), 0.0) + weight
        return cls(transitions, opening)

    def with_delta(self, delta: MarkovChain) -> MarkovChain:
        """This chain plus ``delta`` (weights add), without copying this chain: see the module docstring."""
        starts = dict(delta.starts)
        return MarkovChain(_MergedTransitions(self.transitions, delta.transitions), starts, base=self, delta=delta)

    def successors(self, state: State) -> Successors | None:
        """The next words of ``state`` (``None`` for a dead end), cached per chain. A layered chain answers states
        its delta does not touch from the base's cache, which outlives the layered chain."""
        base, delta = self._layers
        if base is not None and delta is not None and state not in delta.transitions:
            return base.successors(state)
        if state not in self._successors:
            following = self.transitions.get(state)
            if following:
                words = tuple(sorted(word for word, weight in following.items() if weight > 0))
                self._successors[state] = Successors(words, np.log([following[word] for word in words]),
                                                     {word: i for i, word in enumerate(words)})
            else:
                self._successors[state] = None
        return self._successors[state]

    def _sampler(self, temperature: float) -> OpeningSampler:
        key = round(temperature, 3)
        if key in self._samplers:
            self._samplers.move_to_end(key)
        else:
            if self._opening_table is None:
                self._opening_table = OpeningTable.of(self.starts)
            self._samplers[key] = OpeningSampler(self._opening_table, key)
            if len(self._samplers) > OPENING_SAMPLERS:
                self._samplers.popitem(last=False)
        return self._samplers[key]

    def draw_opening(self, temperature: float, rng: np.random.Generator) -> State:
        """An opening pair, ``p ∝ weight^(1/T)`` over this chain's openings (a layered chain: both layers')."""
        base, delta = self._layers
        own = self._sampler(temperature)
        samplers = [own] if base is None else [base._sampler(temperature), own]
        samplers = [s for s in samplers if s.total > 0]
        if not samplers:
            raise ValueError("the chain has no opening pairs")
        u = rng.random() * sum(s.total for s in samplers)
        for sampler in samplers:
            if u < sampler.total:
                return sampler.draw(u / sampler.total)
            u -= sampler.total
        return samplers[-1].draw(1.0 - 1e-12)

    def log_probability(self, words: Sequence[str]) -> float:
        """``sum log p(w_i | w_{i-2}, w_{i-1})`` over ``words[2:]`` (``-inf`` if a transition is unknown)."""
        total = 0.0
        for i in range(2, len(words)):
            following = self.transitions.get((words[i - 2], words[i - 1]), {})
            weight = following.get(words[i], 0.0)
            if weight <= 0:
                return -math.inf
            total += math.log(weight / sum(following.values()))
        return total


@dataclass(frozen=True, slots=True)
class Walk:
    """One finished walk: its lines (lists of words) and how many word trials the search spent."""

    lines: tuple[tuple[str, ...], ...]
    expansions: int

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(word for line in self.lines for word in line)


class Walker:
    """Walks one chain at one temperature with one habituation and one lean, caching per-state keys across walks."""

    def __init__(self, chain: MarkovChain, *, temperature: float, rng: np.random.Generator, rare: bool = False,
                 habituation: Habituation | None = None, lean: Lean | None = None, branch: int = 6,
                 max_expansions: int = 300) -> None:
        self.chain, self.temperature, self.rng, self.rare = chain, temperature, rng, rare
        self.habituation = habituation or {}
        self.lean = lean or {}
        if any(log_factor < 0 for log_factor in self.lean.values()):
            raise ValueError("a lean's log-factors must be non-negative")
        self.branch, self.max_expansions = branch, max_expansions
        self._scaled: dict[State, tuple[tuple[str, ...], Keys] | None] = {}
        self._noise_batch: list[float] = []
        self._noise_at = 0

    def _scaled_log_weights(self, state: State) -> tuple[tuple[str, ...], Keys] | None:
        """``(s * log c + log h + log l) / T`` for every next word of ``state`` (module docstring), cached; a list
        for the few next words most states have (Python beats NumPy's per-call cost there), an array beyond."""
        if state not in self._scaled:
            following = self.chain.successors(state)
            if following is None:
                self._scaled[state] = None
            else:
                keys = -following.log_weights if self.rare else following.log_weights.copy()
                habits = self.habituation.get(state[1], {})
                for factors in (habits, self.lean):
                    if len(factors) < len(following.words):
                        pairs = ((following.index.get(word), log_factor) for word, log_factor in factors.items())
                    else:
                        pairs = ((position, factors[word]) for position, word in enumerate(following.words)
                                 if word in factors)
                    for position, log_factor in pairs:
                        if position is not None:
                            keys[position] += log_factor
                keys /= self.temperature
                self._scaled[state] = (following.words, keys.tolist() if len(keys) <= SMALL_STATE else keys)
        return self._scaled[state]

    def _noise(self, n: int) -> list[float]:
        """``n`` standard Gumbel draws, taken from batches of :data:`NOISE_BATCH` (one NumPy call per batch
        instead of one per visited state; the same generator, so a seed still fixes every walk)."""
        if self._noise_at + n > len(self._noise_batch):
            self._noise_batch = self.rng.gumbel(size=max(NOISE_BATCH, n)).tolist()
            self._noise_at = 0
        noise = self._noise_batch[self._noise_at:self._noise_at + n]
        self._noise_at += n
        return noise

    def ordered(self, state: State) -> list[str]:
        """Up to ``branch`` next words of ``state`` in sampling order without replacement (a lone next word
        needs no draw)."""
        scaled = self._scaled_log_weights(state)
        if scaled is None:
            return []
        words, base_keys = scaled
        if len(words) == 1:
            return [words[0]]
        if isinstance(base_keys, list):
            keys = [key + noise for key, noise in zip(base_keys, self._noise(len(words)), strict=True)]
            top = heapq.nlargest(self.branch, range(len(words)), key=keys.__getitem__)
            return [words[i] for i in top]
        array = base_keys + self.rng.gumbel(size=len(words))
        best = np.argpartition(-array, self.branch)[: self.branch]
        return [words[i] for i in best[np.argsort(-array[best])]]

    def walk(self, budgets: Sequence[int], syllables: Callable[[str], int], opening: State, *,
             closes_line: Callable[[str], bool] = lambda word: True,
             accept: Callable[[tuple[str, ...]], bool] = lambda words: True) -> Walk | None:
        """Lines of exactly ``budgets`` syllables from ``opening`` (module docstring), or ``None`` within budget."""
        boundaries = list(itertools.accumulate(budgets))
        words: list[str] = []
        expansions = 0

        def place(word: str, used: int, line: int) -> tuple[int, int] | None:
            used += syllables(word)
            if used > boundaries[line] or (used == boundaries[line] and not closes_line(word)):
                return None
            return used, line + (used == boundaries[line])

        def extend(used: int, line: int) -> bool | None:
            nonlocal expansions
            if line == len(boundaries):
                return accept(tuple(words))
            for word in self.ordered((words[-2], words[-1])):
                expansions += 1
                if expansions > self.max_expansions:
                    return None
                placed = place(word, used, line)
                if placed is None:
                    continue
                words.append(word)
                found = extend(*placed)
                if found is None or found:
                    return found
                words.pop()
            return False

        used, line = 0, 0
        for word in opening:
            placed = place(word, used, line) if line < len(boundaries) else None
            if placed is None:
                return None
            words.append(word)
            used, line = placed
        if not extend(used, line):
            return None
        return Walk(split_lines(words, budgets, syllables), expansions)


    def sentence(self, opening: State, end: str, *, min_words: int, max_words: int,
                 accept: Callable[[tuple[str, ...]], bool] = lambda words: True) -> tuple[str, ...] | None:
        """A walk from ``opening`` that reaches the token ``end`` (a sentence end, counted in the chain like a
        word) after ``min_words`` to ``max_words`` words; the words without ``end``, or ``None`` within budget.
        The same sampling and backtracking as :meth:`walk`, with a word budget instead of syllables."""
        words = list(opening)
        expansions = 0

        def extend() -> bool | None:
            nonlocal expansions
            for word in self.ordered((words[-2], words[-1])):
                expansions += 1
                if expansions > self.max_expansions:
                    return None
                if word == end:
                    if min_words <= len(words) and accept(tuple(words)):
                        return True
                    continue
                if len(words) >= max_words:
                    continue
                words.append(word)
                found = extend()
                if found is None or found:
                    return found
                words.pop()
            return False

        return tuple(words) if end not in opening and extend() else None


def split_lines(words: Sequence[str], budgets: Sequence[int],
                syllables: Callable[[str], int]) -> tuple[tuple[str, ...], ...]:
    """Cut ``words`` into lines of ``budgets`` syllables (the words must fit exactly)."""
    lines: list[tuple[str, ...]] = []
    start = 0
    for budget in budgets:
        used, end = 0, start
        while used < budget:
            used += syllables(words[end])
            end += 1
        lines.append(tuple(words[start:end]))
        start = end
    return tuple(lines)
