"""``harmonix bench sonnet``: our NumPy engine against torch on the same weights, in one run, one thread each.

- ``numpy_tokens_per_s`` / ``torch_tokens_per_s``: characters per second generating ``NEW_TOKENS`` characters after
  a 32-character prompt at batch 1, both with a KV cache (the torch twin below caches exactly as the NumPy engine
  does), both sampling on one thread; medians of ``repeats`` interleaved repeats. ``numpy_vs_torch_tokens_per_s``
  is their ratio (target >= 1.0).
- ``batched_tokens_per_s``: NumPy at batch 32, same length: what batched sampling buys.
- ``seconds_per_sonnet``: the median wall time of whole Sonnet turns (``sonnets`` of them, the standard prompts, a
  fresh field); ``compose_seconds_per_sonnet`` the median of their composition alone.
"""

from __future__ import annotations

import asyncio
import functools
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harmonix.colony import open_organism
from harmonix.config import Config
from harmonix.engines.charformer import Charformer
from harmonix.lab.bench.timing import median
from harmonix.lab.prompts import standard_prompts
from harmonix.organisms.sonnet import Sonnet, load_model, packaged_model_dir
from harmonix.progress import NO_PROGRESS, Progress, Tracker

PROMPT = "Shall the sea remember what the night\n"
NEW_TOKENS = 90


@dataclass(frozen=True, slots=True)
class SonnetBench:
    repeats: int
    numpy_tokens_per_s: float
    torch_tokens_per_s: float
    numpy_vs_torch_tokens_per_s: float
    batched_tokens_per_s: float
    seconds_per_sonnet: float
    compose_seconds_per_sonnet: float
    sonnets: int


class TorchCachedDecoder:
    """The torch model from :func:`harmonix.lab.training.sonnet.build_model` decoding with a KV cache, step for step the
    same computation as :meth:`Charformer.extend`."""

    def __init__(self, directory: Path) -> None:
        import torch

        from harmonix.lab.training.sonnet import build_model, load_weights

        self.torch = torch
        self.engine = Charformer.load(directory)
        self.config = self.engine.config
        self.model = build_model(self.config)
        load_weights(self.model, self.config, directory)
        self.model.eval()

    def generate(self, prompt: str, new_tokens: int, seed: int) -> int:
        torch, config, model = self.torch, self.config, self.model
        from torch.nn import functional as F

        generator = torch.Generator().manual_seed(seed)
        shape = (1, config.n_head, config.block_size, config.head_size)
        keys = [torch.zeros(shape) for _ in range(config.n_layer)]
        values = [torch.zeros(shape) for _ in range(config.n_layer)]

        def extend(tokens: Any, start: int) -> Any:
            time_ = tokens.shape[1]
            end = start + time_
            x = model.wte(tokens) + model.wpe(torch.arange(start, end))
            mask = torch.triu(torch.full((time_, end), -math.inf), diagonal=start + 1)
            for layer, block in enumerate(model.h):
                q, k, v = block.attn(block.ln1(x)).split(config.n_embd, dim=2)
                q, k, v = (z.view(1, time_, config.n_head, config.head_size).transpose(1, 2) for z in (q, k, v))
                keys[layer][:, :, start:end], values[layer][:, :, start:end] = k, v
                scores = q @ keys[layer][:, :, :end].transpose(2, 3) / math.sqrt(config.head_size) + mask
                attended = torch.softmax(scores, dim=-1) @ values[layer][:, :, :end]
                x = x + block.proj(attended.transpose(1, 2).reshape(1, time_, config.n_embd))
                x = x + block.fc2(F.gelu(block.fc(block.ln2(x)), approximate="tanh"))
            return model.lnf(x[:, -1]) @ model.wte.weight.T

        with torch.inference_mode():
            ids = self.engine.encode(prompt)
            logits = extend(torch.tensor([ids]), 0)
            position = len(ids)
            for _ in range(new_tokens):
                token = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)
                logits = extend(token.view(1, 1), position)
                position += 1
        return new_tokens


def _tokens_per_s(run: Callable[[], int]) -> float:
    started = time.perf_counter()
    tokens = run()
    return tokens / (time.perf_counter() - started)


async def _sonnet_times(count: int, task: Tracker) -> tuple[list[float], list[float]]:
    prompts = standard_prompts()
    turns, composes = [], []
    with tempfile.TemporaryDirectory(prefix="harmonix-bench-sonnet-") as home:
        async with open_organism(Config.load(Path(home)), "sonnet") as sonnet:
            assert isinstance(sonnet, Sonnet)
            for i in range(count):
                started = time.perf_counter()
                reply = await sonnet.answer(prompts[i % len(prompts)], seed=i)
                turns.append(time.perf_counter() - started)
                composes.append(reply.compose_ms / 1000)
                task.advance(figure=f"{turns[-1]:.2f} s")
    return turns, composes


def run_sonnet_bench(repeats: int = 5, sonnets: int = 5, progress: Progress = NO_PROGRESS) -> SonnetBench:
    import torch

    torch.set_num_threads(1)
    directory = packaged_model_dir()
    engine = load_model(directory)
    twin = TorchCachedDecoder(directory)
    if NEW_TOKENS + len(PROMPT) > engine.config.block_size:
        raise ValueError("the benchmark must fit in one block: both engines would have to rebuild their caches")
    samples: dict[str, list[float]] = {"numpy": [], "torch": [], "batched": []}
    with progress.task("bench sonnet", repeats) as task:
        _engine_rates(engine, twin, repeats, samples, task)
    with progress.task("bench sonnet: whole turns", sonnets) as task:
        turns, composes = asyncio.run(_sonnet_times(sonnets, task))
    numpy_rate, torch_rate = median(samples["numpy"]), median(samples["torch"])
    return SonnetBench(repeats=repeats, numpy_tokens_per_s=numpy_rate, torch_tokens_per_s=torch_rate,
                       numpy_vs_torch_tokens_per_s=numpy_rate / torch_rate,
                       batched_tokens_per_s=median(samples["batched"]), seconds_per_sonnet=median(turns),
                       compose_seconds_per_sonnet=median(composes), sonnets=sonnets)


def _sampled_chars(engine: Charformer, batch: int, rng: np.random.Generator) -> int:
    """Characters (tokens) sampled for ``batch`` copies of the prompt, ``NEW_TOKENS`` each."""
    return sum(len(s.text) for s in engine.sample([PROMPT] * batch, max_new=NEW_TOKENS, rng=rng, stop=None))


def _engine_rates(engine: Charformer, twin: TorchCachedDecoder, repeats: int, samples: dict[str, list[float]],
                  task: Tracker) -> None:
    """Tokens/s of NumPy at batch 1, torch at batch 1 and NumPy at batch 32, in rotating order per repeat."""
    for repeat in range(repeats):
        rng = np.random.default_rng(repeat)
        arms: dict[str, Callable[[], int]] = {
            "numpy": functools.partial(_sampled_chars, engine, 1, rng),
            "torch": functools.partial(twin.generate, PROMPT, NEW_TOKENS, repeat),
            "batched": functools.partial(_sampled_chars, engine, 32, rng),
        }
        order = list(arms)[repeat % 3:] + list(arms)[: repeat % 3]
        for name in order:
            samples[name].append(_tokens_per_s(arms[name]))
        task.advance()
