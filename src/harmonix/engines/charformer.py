"""Sonnet's character transformer in pure NumPy: the model's shape, its weights, and fast batched sampling.

**The model** (trained by :mod:`harmonix.lab.training.sonnet` with the same maths) is a nanoGPT-style decoder::

    x      = wte[token] + wpe[position]
    block  : x = x + proj(attention(LN1(x)));  x = x + fc2(gelu(fc(LN2(x))))     (n_layer times)
    logits = LN_f(x) @ wte.T                                                      (output tied to the embedding)

- LayerNorm: ``(x - mean) / sqrt(var + 1e-5) * w + b`` with the biased variance, as torch computes it;
- GELU, tanh form: ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``;
- attention: per head, ``softmax(q k^T / sqrt(head_size) + causal mask) v``. The scale is ``1 / sqrt(head_size)``
  in training *and* here: the ancestor scaled differently in its two engines and paid for it in loss.

**Weights** live in an ``.npz`` of plain float arrays (``allow_pickle=False``) named by :func:`weight_names`, linear
weights input-major (``x @ W``), cast to float32 on load; the vocabulary and shape in a JSON file beside it.

**Inference.** A KV cache keeps every layer's keys and values, so each new character costs one position, not a whole
recomputation. Many sequences are sampled at once (a batch shares every matrix product). Sampling draws from
``softmax(logits / T)`` restricted to the ``top_k`` likeliest characters and, when a :class:`Guide` is given, to the
characters it allows (constrained decoding: the model still chooses, among what the form permits). The positions are
absolute, so when a sequence reaches ``block_size`` its cache is rebuilt from its last ``block_size // 2``
characters. NumPy runs with one BLAS thread (``threadpoolctl``): on two cores a second thread only fights the other
organisms for the CPU. """

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from threadpoolctl import ThreadpoolController


@dataclass(frozen=True, slots=True)
class CharformerConfig:
    """Model shape. ``vocab`` is the ordered alphabet: character ``vocab[i]`` has token id ``i``."""

    vocab: str
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 192

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError("vocab has repeated characters")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CharformerConfig:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def weight_names(config: CharformerConfig) -> list[str]:
    """Every array name in the weights file, in a fixed order."""
    names = ["wte", "wpe"]
    for layer in range(config.n_layer):
        p = f"h{layer}."
        names += [p + "ln1.w", p + "ln1.b", p + "attn.w", p + "attn.b", p + "proj.w", p + "proj.b",
                  p + "ln2.w", p + "ln2.b", p + "fc.w", p + "fc.b", p + "fc2.w", p + "fc2.b"]
    return names + ["lnf.w", "lnf.b"]


# --- the NumPy engine ----------------------------------------------------------------------------------------------

_LN_EPS = 1e-5
_GELU_C = math.sqrt(2.0 / math.pi)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(x - mean) / sqrt(variance + eps) * w + b`` over the last axis. The means are sums divided by the width,
    as ``ndarray.mean`` computes them, without its Python wrapper: a step of the model calls this nine times."""
    width = x.shape[-1]
    centred = x - np.add.reduce(x, axis=-1, keepdims=True) / width
    variance = np.add.reduce(centred * centred, axis=-1, keepdims=True) / width
    return centred / np.sqrt(variance + _LN_EPS) * w + b


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + 0.044715 * x * x * x)))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class Guide(Protocol):
    """Constrains sampling row by row. ``allowed`` returns a boolean mask over the vocabulary, or ``None`` for no
    constraint; ``done`` says a row has finished. Both see the row's generated text so far."""

    def allowed(self, row: int, text: str) -> np.ndarray | None: ...

    def done(self, row: int, text: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Sample:
    """A sampled continuation and the model's own mean log-probability (temperature 1, no mask) of its characters:
    how natural the model finds it, constraints aside."""

    text: str
    mean_log_probability: float


@dataclass
class KVCache:
    """Keys and values of every layer for ``batch`` sequences: arrays (batch, n_head, block_size, head_size).

    ``padding[row]`` positions at the start of a row are padding that no query may attend to; the row's text
    starts at position 0 after them."""

    keys: list[np.ndarray]
    values: list[np.ndarray]
    padding: np.ndarray
    length: int = 0


class Charformer:
    """The model with loaded weights. :meth:`load` it from a weights directory; it is read-only afterwards."""

    def __init__(self, config: CharformerConfig, weights: dict[str, np.ndarray]) -> None:
        missing = set(weight_names(config)) - weights.keys()
        if missing:
            raise ValueError(f"weights lack {sorted(missing)[:5]}")
        self.config = config
        self.w = {name: np.ascontiguousarray(weights[name], dtype=np.float32) for name in weight_names(config)}
        self.w["head"] = np.ascontiguousarray(self.w["wte"].T)
        # Fold the attention scale 1/sqrt(head_size) into the query columns: same maths, one multiply fewer.
        scale = np.float32(1.0 / math.sqrt(config.head_size))
        for layer in range(config.n_layer):
            self.w[f"h{layer}.attn.w"][:, : config.n_embd] *= scale
            self.w[f"h{layer}.attn.b"][: config.n_embd] *= scale
        self._index = {char: i for i, char in enumerate(config.vocab)}
        self._threads = ThreadpoolController()

    @classmethod
    def load(cls, directory: Path) -> Charformer:
        """The model in ``directory`` (``sonnet.json`` + ``sonnet.npz``)."""
        config = CharformerConfig.load(directory / "sonnet.json")
        with np.load(directory / "sonnet.npz", allow_pickle=False) as arrays:
            return cls(config, {name: arrays[name] for name in arrays.files})

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; characters outside the vocabulary are dropped."""
        return [self._index[char] for char in text if char in self._index]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.config.vocab[i] for i in ids)

    # -- full forward pass (evaluation and the parity test) --

    def forward(self, tokens: np.ndarray) -> np.ndarray:
        """Logits (batch, time, vocab) for token ids (batch, time), time <= block_size, without a cache."""
        with self._threads.limit(limits=1, user_api="blas"):
            batch, time = tokens.shape
            x = self.w["wte"][tokens] + self.w["wpe"][:time]
            mask = np.triu(np.full((time, time), -np.inf, dtype=np.float32), k=1)
            for layer in range(self.config.n_layer):
                q, k, v = self._qkv(layer, x)
                x = self._finish_block(layer, x, softmax(q @ k.transpose(0, 1, 3, 2) + mask) @ v)
            return layer_norm(x, self.w["lnf.w"], self.w["lnf.b"]) @ self.w["head"]

    def _qkv(self, layer: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Queries, keys, values of ``x`` (batch, time, d) as (batch, head, time, head_size) each. The dense layers
        here and in :meth:`_finish_block` multiply one (batch * time, d) matrix: a (batch, 1, d) stack would be
        multiplied row by row, some 40 % slower in a step of sampling."""
        p = f"h{layer}."
        batch, time, d = x.shape
        flat = layer_norm(x.reshape(batch * time, d), self.w[p + "ln1.w"], self.w[p + "ln1.b"])
        qkv = flat @ self.w[p + "attn.w"] + self.w[p + "attn.b"]
        heads = qkv.reshape(batch, time, 3, self.config.n_head, self.config.head_size).transpose(2, 0, 3, 1, 4)
        return heads[0], heads[1], heads[2]

    def _finish_block(self, layer: int, x: np.ndarray, attended: np.ndarray) -> np.ndarray:
        """Residual attention output, then the residual MLP. ``attended`` is (batch, head, time, head_size)."""
        p = f"h{layer}."
        batch, _, time, _ = attended.shape
        merged = attended.transpose(0, 2, 1, 3).reshape(batch * time, self.config.n_embd)
        flat = x.reshape(batch * time, self.config.n_embd) + merged @ self.w[p + "proj.w"] + self.w[p + "proj.b"]
        normed = layer_norm(flat, self.w[p + "ln2.w"], self.w[p + "ln2.b"])
        hidden = gelu(normed @ self.w[p + "fc.w"] + self.w[p + "fc.b"])
        return (flat + hidden @ self.w[p + "fc2.w"] + self.w[p + "fc2.b"]).reshape(batch, time, self.config.n_embd)

    def score(self, context: str, continuations: Sequence[str]) -> list[float]:
        """The model's log-probability (natural log, temperature 1, no mask; the sum over its characters) of each
        continuation after ``context``, all in one batch: how likely the model is to write it there. ``context`` is
        left-cropped so that every row fits a block; an empty continuation scores 0.

        The context is read once, into a cache every row then shares: scoring many short continuations after a long
        context costs about the context once plus the continuations, not the context once per row."""
        ids = [self.encode(text) for text in continuations]
        longest = max((len(row) for row in ids), default=0)
        if longest == 0:
            return [0.0] * len(ids)
        if longest >= self.config.block_size:
            raise ValueError("a continuation longer than a block cannot be scored")
        history = self.encode(context)[-(self.config.block_size - longest):] or [self._index["\n"]]
        with self._threads.limit(limits=1, user_api="blas"):
            first, cache = self._refill([history] * len(ids))  # the context read once, shared by every row
            tokens = np.array([row + [0] * (longest - len(row)) for row in ids], dtype=np.int64)
            following = self.extend(cache, tokens, every=True)  # the logits after each row's first i + 1 characters
        scores = []
        for r, row in enumerate(ids):
            logits = np.concatenate([first[:1], following[r, : len(row) - 1]])  # before each of the row's chars
            scores.append(float(_log_softmax(logits)[np.arange(len(row)), row].sum()) if row else 0.0)
        return scores

    # -- incremental decoding with a KV cache --

    def new_cache(self, batch: int, padding: Sequence[int] | None = None) -> KVCache:
        shape = (batch, self.config.n_head, self.config.block_size, self.config.head_size)
        return KVCache([np.zeros(shape, np.float32) for _ in range(self.config.n_layer)],
                       [np.zeros(shape, np.float32) for _ in range(self.config.n_layer)],
                       np.zeros(batch, np.int64) if padding is None else np.asarray(padding, np.int64))

    def extend(self, cache: KVCache, tokens: np.ndarray, every: bool = False) -> np.ndarray:
        """Feed ``tokens`` (batch, time) at the cache's next positions; return the logits of the last one (batch,
        vocab), or with ``every`` those of each fed position (batch, time, vocab)."""
        batch, time = tokens.shape
        start = cache.length
        if start + time > self.config.block_size:
            raise ValueError("the cache is full: rebuild it (see Charformer.sample)")
        end = start + time
        # Each row's text starts at position 0 whatever its left padding (the positions are absolute).
        positions = np.maximum(np.arange(start, end)[None, :] - cache.padding[:, None], 0)
        x = self.w["wte"][tokens] + self.w["wpe"][positions]
        # A single new position may see every cached one; longer feeds need the causal mask. Padding is masked with
        # a large finite number: a padding query that sees only padding must not produce NaN.
        mask = np.triu(np.full((time, end), -np.inf, dtype=np.float32), k=start + 1)[None, None] if time > 1 else 0.0
        if cache.padding.any():
            padded = np.arange(end)[None, :] < cache.padding[:, None]
            mask = mask + np.where(padded, np.float32(-1e9), np.float32(0.0))[:, None, None, :]
        for layer in range(self.config.n_layer):
            q, k, v = self._qkv(layer, x)
            cache.keys[layer][:, :, start:end] = k
            cache.values[layer][:, :, start:end] = v
            keys, values = cache.keys[layer][:, :, :end], cache.values[layer][:, :, :end]
            x = self._finish_block(layer, x, softmax(q @ keys.transpose(0, 1, 3, 2) + mask) @ values)
        cache.length = end
        return layer_norm(x if every else x[:, -1], self.w["lnf.w"], self.w["lnf.b"]) @ self.w["head"]

    def sample(self, prompts: Sequence[str], *, max_new: int, rng: np.random.Generator, temperature: float = 1.0,
               top_k: int | None = None, stop: str | None = "\n", guide: Guide | None = None) -> list[Sample]:
        """Continue every prompt by up to ``max_new`` characters, all in one batch. A continuation ends at (and
        excludes) the first ``stop`` character, or where ``guide`` says it is done, or where the guide allows no
        character at all. Prompts are left-cropped to half a block.

        A row that has ended leaves the batch: the model computes only the rows still writing (a batch of twelve
        verse lines ends over some twenty characters, and a step costs about in proportion to its rows). Each row
        still draws its random number every step, so a seed gives the same continuations whatever the others do."""
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        keep = self.config.block_size // 2
        histories = [self.encode(prompt)[-keep:] or [self._index["\n"]] for prompt in prompts]
        stop_id = None if stop is None else self._index[stop]
        texts = ["" for _ in prompts]
        log_probability = np.zeros(len(prompts))
        done = np.zeros(len(prompts), dtype=bool)
        with self._threads.limit(limits=1, user_api="blas"):
            computed, cache = self._refill(histories)
            writing = np.arange(len(prompts))  # the rows the cache holds, in order
            for _ in range(max_new):
                logits = np.zeros((len(prompts), self.config.vocab_size), dtype=np.float32)
                logits[writing] = computed
                guided = logits if guide is None else self._guided(logits, texts, done, guide)
                ids = self._draw(guided, rng, temperature, top_k)
                natural = _log_softmax(logits)
                for row in writing.tolist():
                    token = int(ids[row])
                    if done[row]:
                        continue
                    if token == stop_id:
                        done[row] = True
                        continue
                    log_probability[row] += natural[row, token]
                    texts[row] += self.config.vocab[token]
                    if guide is not None and guide.done(row, texts[row]):
                        done[row] = True
                for row in writing.tolist():
                    histories[row].append(int(ids[row]))
                if done.all():
                    break
                still = ~done[writing]
                if not still.all():
                    writing = writing[still]
                    cache = KVCache([keys[still] for keys in cache.keys], [values[still] for values in cache.values],
                                    cache.padding[still], cache.length)
                if cache.length == self.config.block_size:
                    computed, cache = self._refill([histories[row][-keep:] for row in writing])
                else:
                    computed = self.extend(cache, ids[writing, None])
        return [Sample(text, float(lp / max(1, len(text)))) for text, lp in zip(texts, log_probability, strict=True)]

    def _guided(self, logits: np.ndarray, texts: list[str], done: np.ndarray, guide: Guide) -> np.ndarray:
        """Logits with the characters each row's guide forbids set to -inf; a row with nothing allowed is done."""
        guided = logits.copy()
        for row, text in enumerate(texts):
            if done[row]:
                continue
            mask = guide.allowed(row, text)
            if mask is None:
                continue
            if not mask.any():
                done[row] = True
                continue
            guided[row, ~mask] = -np.inf
        return guided

    def _refill(self, histories: list[list[int]]) -> tuple[np.ndarray, KVCache]:
        """A fresh cache holding every history (right-aligned by masked left padding), and the last logits. Each
        distinct history is read once and its keys and values copied to the rows that share it: a batch of verse
        lines starts from one context twelve times over."""
        distinct = list(dict.fromkeys(tuple(history) for history in histories))
        row_of = {history: index for index, history in enumerate(distinct)}
        rows = np.array([row_of[tuple(history)] for history in histories])
        width = max(len(history) for history in distinct)
        tokens = np.array([[0] * (width - len(h)) + list(h) for h in distinct], dtype=np.int64)
        read = self.new_cache(len(distinct), padding=[width - len(h) for h in distinct])
        logits = self.extend(read, tokens)
        if len(distinct) == len(histories):
            return logits, read
        return logits[rows], KVCache([keys[rows] for keys in read.keys], [values[rows] for values in read.values],
                                     read.padding[rows], read.length)

    @staticmethod
    def _draw(logits: np.ndarray, rng: np.random.Generator, temperature: float, top_k: int | None) -> np.ndarray:
        """One token per row from ``softmax(logits / T)`` over the ``top_k`` likeliest (all when ``None``)."""
        logits = np.where(np.isneginf(logits).all(-1, keepdims=True), 0.0, logits)  # rows already finished
        scaled = logits / temperature
        if top_k is not None and top_k < scaled.shape[-1]:
            threshold = np.partition(scaled, -top_k, axis=-1)[:, -top_k][:, None]
            scaled = np.where(scaled < threshold, -np.inf, scaled)
        probabilities = softmax(scaled)
        cumulative = probabilities.cumsum(-1)
        u = rng.random((len(probabilities), 1)) * cumulative[:, -1:]
        return np.minimum((cumulative < u).sum(-1), probabilities.shape[-1] - 1)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    finite = np.where(np.isneginf(logits), np.float32(-1e30), logits)
    shifted = finite - finite.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
