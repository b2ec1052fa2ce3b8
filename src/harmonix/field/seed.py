"""Generation seeds built from one field snapshot: what an organism in organism mode speaks *from*.

A seed blends three sources with weights (default 70 % / 20 % / 10 % of a word budget):

- **recent**: the newest texts, newest first, each cut to what is left of its share;
- **trigram**: resonant trigrams drawn without replacement, with probability proportional to their *own* count
  (weighted sampling by the key ``u ** (1 / count)``, ``u`` uniform in [0, 1), largest keys win);
- **random**: one contiguous span from each of the snapshot's randomly chosen texts (the field's depths).

Only the organism's own material enters a seed: texts and *own* trigram counts, never what it merely heard, so the
user's words cannot reach a generator through its seed. Shares are split by largest remainder over the sources that
have material; an empty source gives its share to the others in proportion to their weights. ``mode`` other than
"auto" uses one source alone. Deterministic for a given snapshot and RNG state.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from harmonix.errors import InvalidArgument
from harmonix.field.model import FieldSnapshot

SeedMode = Literal["auto", "recent", "trigram", "random"]
DEFAULT_SEED_WEIGHTS = (0.7, 0.2, 0.1)
_SOURCES = ("recent", "trigram", "random")


@dataclass(frozen=True, slots=True)
class Seed:
    """The fragments a seed is made of, per source, in the order they were taken."""

    recent: tuple[str, ...]
    trigrams: tuple[str, ...]
    random: tuple[str, ...]

    @property
    def fragments(self) -> tuple[str, ...]:
        """All fragments: recent, then trigrams, then random."""
        return self.recent + self.trigrams + self.random

    @property
    def text(self) -> str:
        """The fragments one per line (empty for an empty field)."""
        return "\n".join(self.fragments)


def split_budget(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integer shares proportional to ``weights`` by largest remainder (shares sum to total)."""
    weight_sum = sum(weights)
    if weight_sum <= 0:
        return [0] * len(weights)
    exact = [total * w / weight_sum for w in weights]
    shares = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (exact[i] - shares[i], weights[i]), reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _recent_fragments(snapshot: FieldSnapshot, budget: int) -> list[str]:
    fragments = []
    for text in snapshot.recent:
        if budget <= 0:
            break
        words = text.body.split()[:budget]
        fragments.append(" ".join(words))
        budget -= len(words)
    return fragments


def _trigram_fragments(snapshot: FieldSnapshot, budget: int, rng: random.Random) -> list[str]:
    if budget <= 0:
        return []
    own = [t for t in snapshot.trigrams if t.own > 0]
    keyed = sorted(own, key=lambda t: rng.random() ** (1.0 / t.own), reverse=True)
    return [" ".join(t.words) for t in keyed[: math.ceil(budget / 3)]]


def _random_fragments(snapshot: FieldSnapshot, budget: int, rng: random.Random) -> list[str]:
    if not snapshot.random or budget <= 0:
        return []
    span = math.ceil(budget / len(snapshot.random))
    fragments = []
    for text in snapshot.random:
        words = text.body.split()
        start = rng.randrange(max(1, len(words) - span + 1))
        fragments.append(" ".join(words[start : start + span]))
    return fragments


def build_seed(snapshot: FieldSnapshot, rng: random.Random, *, mode: SeedMode = "auto",
               weights: Sequence[float] = DEFAULT_SEED_WEIGHTS, words: int = 48) -> Seed:
    """Blend recent / trigram / random material of ``snapshot`` into a :class:`Seed` of about ``words`` words."""
    if mode not in get_args(SeedMode):
        raise InvalidArgument(f"seed mode must be one of {get_args(SeedMode)}, got {mode!r}")
    if len(weights) != 3 or any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise InvalidArgument(f"seed weights must be three non-negative numbers, not all zero; got {weights!r}")
    if not isinstance(words, int) or words < 1:
        raise InvalidArgument(f"seed words must be a positive int, got {words!r}")
    if mode != "auto":
        weights = [1.0 if source == mode else 0.0 for source in _SOURCES]
    available = (bool(snapshot.recent), any(t.own > 0 for t in snapshot.trigrams), bool(snapshot.random))
    recent_budget, trigram_budget, random_budget = split_budget(
        words, [w if has else 0.0 for w, has in zip(weights, available, strict=True)]
    )
    return Seed(
        recent=tuple(_recent_fragments(snapshot, recent_budget)),
        trigrams=tuple(_trigram_fragments(snapshot, trigram_budget, rng)),
        random=tuple(_random_fragments(snapshot, random_budget, rng)),
    )
