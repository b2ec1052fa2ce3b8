"""The NumPy char-transformer: parity with torch, the KV cache, padding, sampling and guides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harmonix.engines.charformer import Charformer, CharformerConfig, weight_names
from harmonix.organisms.sonnet import packaged_model_dir

torch = pytest.importorskip("torch", reason="the parity test needs torch (the train extra; CI installs it)")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model with random weights (biases and norms perturbed too), exported the way training exports."""
    from harmonix.lab.corpora import ALPHABET
    from harmonix.lab.training.sonnet import build_model, export_weights

    torch.manual_seed(0)
    config = CharformerConfig(vocab=ALPHABET, block_size=64, n_layer=2, n_head=4, n_embd=64)
    model = build_model(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    directory = tmp_path_factory.mktemp("weights")
    export_weights(model, config, directory)
    return directory


def torch_logits(directory: Path, tokens: np.ndarray) -> np.ndarray:
    from harmonix.lab.training.sonnet import build_model, load_weights

    config = CharformerConfig.load(directory / "sonnet.json")
    model = build_model(config)
    load_weights(model, config, directory)
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(tokens)).numpy()


@pytest.mark.parametrize("which", ["random", "packaged"])
def test_numpy_logits_match_torch(which: str, random_weights: Path) -> None:
    directory = random_weights if which == "random" else packaged_model_dir()
    engine = Charformer.load(directory)
    tokens = np.random.default_rng(1).integers(0, engine.config.vocab_size, (3, engine.config.block_size))
    expected = torch_logits(directory, tokens)
    assert np.abs(engine.forward(tokens) - expected).max() < 1e-4
    cache = engine.new_cache(3)
    half = engine.config.block_size // 2
    assert np.abs(engine.extend(cache, tokens[:, :half]) - expected[:, half - 1]).max() < 1e-4
    for position in range(half, engine.config.block_size):
        logits = engine.extend(cache, tokens[:, position : position + 1])
        assert np.abs(logits - expected[:, position]).max() < 1e-4


def test_left_padding_changes_nothing(random_weights: Path) -> None:
    engine = Charformer.load(random_weights)
    short, long = engine.encode("the sea"), engine.encode("a much longer line about the river and the stone")
    width = len(long)
    batched = engine.extend(engine.new_cache(2, padding=[width - len(short), 0]),
                            np.array([[0] * (width - len(short)) + short, long]))
    alone = engine.extend(engine.new_cache(1), np.array([short]))
    assert np.abs(alone[0] - batched[0]).max() < 1e-4


def test_weights_file_has_no_pickles_and_all_names() -> None:
    with np.load(packaged_model_dir() / "sonnet.npz", allow_pickle=False) as arrays:
        config = CharformerConfig.load(packaged_model_dir() / "sonnet.json")
        assert set(arrays.files) == set(weight_names(config))
        assert all(arrays[name].dtype == np.float16 for name in arrays.files)
    assert (packaged_model_dir() / "sonnet.npz").stat().st_size <= 10 * 2**20


class TestSampling:
    def test_same_seed_same_text_and_stop_at_newline(self, random_weights: Path) -> None:
        engine = Charformer.load(random_weights)
        runs = [engine.sample(["the sea", "a"], max_new=40, rng=np.random.default_rng(3)) for _ in range(2)]
        assert runs[0] == runs[1]
        assert all("\n" not in sample.text and len(sample.text) <= 40 for sample in runs[0])

    def test_long_generation_rebuilds_the_cache(self, random_weights: Path) -> None:
        engine = Charformer.load(random_weights)
        (sample,) = engine.sample(["x"], max_new=3 * engine.config.block_size, rng=np.random.default_rng(0), stop=None)
        assert len(sample.text) == 3 * engine.config.block_size

    def test_top_k_one_is_greedy(self, random_weights: Path) -> None:
        engine = Charformer.load(random_weights)
        (sample,) = engine.sample(["the"], max_new=1, rng=np.random.default_rng(0), top_k=1, stop=None)
        cache = engine.new_cache(1)
        logits = engine.extend(cache, np.array([engine.encode("the")]))
        assert sample.text == engine.decode([int(np.argmax(logits[0]))])

    def test_guide_masks_characters(self, random_weights: Path) -> None:
        engine = Charformer.load(random_weights)
        vowels = np.array([char in "aeiou" for char in engine.config.vocab])

        class OnlyVowels:
            def allowed(self, row: int, text: str) -> np.ndarray:
                return vowels

            def done(self, row: int, text: str) -> bool:
                return len(text) >= 12

        samples = engine.sample(["x"] * 4, max_new=50, rng=np.random.default_rng(1), guide=OnlyVowels())
        assert all(len(s.text) == 12 and set(s.text) <= set("aeiou") for s in samples)
        assert all(np.isfinite(s.mean_log_probability) and s.mean_log_probability < 0 for s in samples)

    def test_rows_that_end_leave_the_batch_and_the_others_write_on_unchanged(self, random_weights: Path) -> None:
        """Rows ending at different lengths, in no order (two before the cache is rebuilt, two after), write the same
        characters as when every row writes on to the end: an ended row leaves the batch, and nothing of it or of
        its draws reaches the rows still writing."""
        engine = Charformer.load(random_weights)
        lengths = [70, 10, 80, 30]

        class EndsAt:
            def __init__(self, ends: list[int]):
                self.ends = ends

            def allowed(self, row: int, text: str) -> None:
                return None

            def done(self, row: int, text: str) -> bool:
                return len(text) >= self.ends[row]

        prompts = ["x", "the sea", "a", "and the river"]
        ending = engine.sample(prompts, max_new=80, rng=np.random.default_rng(4), stop=None, guide=EndsAt(lengths))
        whole = engine.sample(prompts, max_new=80, rng=np.random.default_rng(4), stop=None, guide=EndsAt([80] * 4))
        assert [len(sample.text) for sample in ending] == lengths
        assert [sample.text for sample in ending] == [full.text[:n] for full, n in zip(whole, lengths, strict=True)]
        assert ending[2].mean_log_probability == pytest.approx(whole[2].mean_log_probability, abs=1e-6)

    def test_rows_that_share_a_prompt_read_it_once_and_write_as_if_alone(self, random_weights: Path) -> None:
        """A batch whose rows share a prompt reads it once for all of them; each row writes what it writes beside
        rows of other prompts."""
        engine = Charformer.load(random_weights)
        shared = engine.sample(["the sea", "the sea", "a", "the sea"], max_new=30, rng=np.random.default_rng(6))
        mixed = engine.sample(["the sea", "a stone", "a", "the river"], max_new=30, rng=np.random.default_rng(6))
        assert (shared[0].text, shared[2].text) == (mixed[0].text, mixed[2].text)


def test_scoring_reads_the_context_once_and_matches_a_full_pass(random_weights: Path) -> None:
    """``score`` shares one reading of the context among its rows; each row's log-probability is the one a full
    forward pass over context and continuation gives, whatever the other rows' lengths."""
    engine = Charformer.load(random_weights)
    context, continuations = "the river and the stone\n", ["a", "the sea ", "", "and all the night is long "]
    history = engine.encode(context)
    scores = engine.score(context, continuations)
    for continuation, score in zip(continuations, scores, strict=True):
        row = engine.encode(continuation)
        logits = engine.forward(np.array([history + row]))[0]
        shifted = logits - logits.max(-1, keepdims=True)
        natural = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        expected = sum(float(natural[len(history) - 1 + i, char]) for i, char in enumerate(row))
        assert abs(score - expected) < 1e-3, continuation
    assert scores[2] == 0.0
    assert abs(engine.score(context, ["a"])[0] - scores[0]) < 1e-5, "a row alone scores as it does in a batch"
