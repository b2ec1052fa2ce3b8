"""The shape of Sonnet's character transformer and how its weights are stored: shared by training and inference.

The model is a nanoGPT-style decoder: token + position embeddings, ``n_layer`` pre-LayerNorm blocks (causal
self-attention with ``n_head`` heads, then a 4x MLP with tanh-GELU), a final LayerNorm, and an output head tied to
the token embedding. Attention logits are scaled by ``1 / sqrt(head_size)`` in training *and* inference: the
ancestor scaled them differently in its two engines and paid for it in loss.

Weights live in an ``.npz`` of plain float arrays (loaded with ``allow_pickle=False``), named by
:func:`weight_names`; linear weights are stored input-major (``x @ W``). The vocabulary and the config live in a
JSON file beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


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
