"""A Bloom filter of a corpus's word windows: does a generated line copy the corpus, without shipping the corpus?

Each window of ``n`` consecutive words (joined by single spaces) is hashed with BLAKE2b (16 bytes) into two 64-bit
values ``h1, h2``; its ``k`` bit positions are ``(h1 + i * h2) mod m`` for ``i = 0 … k-1`` (double hashing). A
window is *probably* in the corpus when all its bits are set, and *certainly not* when one is clear. With
``m / n_items`` bits per item and ``k = round(ln 2 * m / n_items)`` the false-positive rate is about
``(1 - exp(-k n_items / m))^k``: a novel line is rejected by mistake that rarely; a copied line is never missed.

Stored as an ``.npz`` of plain arrays (no pickle): the bit array and ``[n, k]``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_MASK = (1 << 64) - 1


def _hashes(window: Sequence[str]) -> tuple[int, int]:
    digest = hashlib.blake2b(" ".join(window).encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little") | 1


class CopyFilter:
    """Membership of word windows of length ``n`` in a corpus (probabilistic, no false negatives)."""

    def __init__(self, bits: np.ndarray, n: int, k: int) -> None:
        self.bits, self.n, self.k = bits, n, k
        self.m = len(bits) * 8

    @classmethod
    def build(cls, windows: Iterable[Sequence[str]], n: int, *, bits_per_item: float = 10.0) -> CopyFilter:
        hashed = {_hashes(window) for window in windows}
        m = max(64, int(math.ceil(len(hashed) * bits_per_item / 8)) * 8)
        k = max(1, round(math.log(2) * m / max(1, len(hashed))))
        h1 = np.array([h for h, _ in hashed], dtype=np.uint64)
        h2 = np.array([h for _, h in hashed], dtype=np.uint64)
        positions = np.concatenate([(h1 + np.uint64(i) * h2) % np.uint64(m) for i in range(k)]).astype(np.int64)
        bits = np.zeros(m // 8, dtype=np.uint8)
        np.bitwise_or.at(bits, positions >> 3, (1 << (positions & 7)).astype(np.uint8))
        return cls(bits, n, k)

    def __contains__(self, window: Sequence[str]) -> bool:
        h1, h2 = _hashes(window)
        for i in range(self.k):
            position = ((h1 + i * h2) & _MASK) % self.m
            if not self.bits[position >> 3] >> (position & 7) & 1:
                return False
        return True

    def copies(self, tokens: Sequence[str]) -> bool:
        """True if any ``n`` consecutive ``tokens`` are (probably) a window of the corpus."""
        return any(tokens[i : i + self.n] in self for i in range(len(tokens) - self.n + 1))

    def save(self, path: Path) -> None:
        np.savez_compressed(path, bits=self.bits, shape=np.array([self.n, self.k], dtype=np.int64))

    @classmethod
    def load(cls, path: Path) -> CopyFilter:
        with np.load(path, allow_pickle=False) as arrays:
            n, k = (int(v) for v in arrays["shape"])
            return cls(arrays["bits"], n, k)
