"""The order-2 Markov engine: sampling with temperature, habituation and rarity; the budget search."""

from __future__ import annotations

import tracemalloc
from collections import Counter

import numpy as np
import pytest

from harmonix.engines.markov import MarkovChain, Walker, split_lines

ONE = {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "x": 1, "y": 1, "z": 1, "long": 2, "longer": 3}


def syllables(word: str) -> int:
    return ONE.get(word, 1)


def chain(rows: list[tuple[str, str, str, float]], starts: list[tuple[str, str, float]] | None = None) -> MarkovChain:
    return MarkovChain.from_counts(rows, starts or [(rows[0][0], rows[0][1], 1.0)])


def first_choices(walker: Walker, state: tuple[str, str], n: int) -> Counter[str]:
    return Counter(walker.ordered(state)[0] for _ in range(n))


class TestSampling:
    def test_first_choice_follows_weights(self) -> None:
        c = chain([("a", "b", "x", 3.0), ("a", "b", "y", 1.0)])
        counts = first_choices(Walker(c, temperature=1.0, rng=np.random.default_rng(0)), ("a", "b"), 4000)
        assert counts["x"] / 4000 == pytest.approx(0.75, abs=0.03)

    def test_temperature_flattens_and_sharpens(self) -> None:
        c = chain([("a", "b", "x", 3.0), ("a", "b", "y", 1.0)])
        hot = first_choices(Walker(c, temperature=4.0, rng=np.random.default_rng(1)), ("a", "b"), 4000)
        cold = first_choices(Walker(c, temperature=0.25, rng=np.random.default_rng(2)), ("a", "b"), 4000)
        # p(x) = 3^(1/T) / (3^(1/T) + 1): 0.57 at T=4, 0.99 at T=0.25
        assert hot["x"] / 4000 == pytest.approx(3 ** 0.25 / (3 ** 0.25 + 1), abs=0.03)
        assert cold["x"] / 4000 == pytest.approx(3 ** 4 / (3 ** 4 + 1), abs=0.01)

    def test_habituation_lowers_a_bigram(self) -> None:
        c = chain([("a", "b", "x", 1.0), ("a", "b", "y", 1.0)])
        habituated = {"b": {"x": np.log(0.25)}}
        counts = first_choices(Walker(c, temperature=1.0, rng=np.random.default_rng(3), habituation=habituated),
                               ("a", "b"), 4000)
        assert counts["x"] / 4000 == pytest.approx(0.25 / 1.25, abs=0.03)

    def test_rare_prefers_the_least_seen(self) -> None:
        c = chain([("a", "b", "x", 9.0), ("a", "b", "y", 1.0)])
        counts = first_choices(Walker(c, temperature=1.0, rng=np.random.default_rng(4), rare=True), ("a", "b"), 4000)
        assert counts["y"] / 4000 == pytest.approx(0.9, abs=0.03)

    def test_branch_limits_alternatives_and_order_is_without_replacement(self) -> None:
        c = chain([("a", "b", w, 1.0) for w in "cdexyz"])
        ordered = Walker(c, temperature=1.0, rng=np.random.default_rng(5), branch=4).ordered(("a", "b"))
        assert len(ordered) == 4 and len(set(ordered)) == 4

    def test_openings_follow_weights(self) -> None:
        c = MarkovChain.from_counts([("a", "b", "c", 1.0)], [("a", "b", 3.0), ("x", "y", 1.0)])
        rng = np.random.default_rng(6)
        counts = Counter(c.draw_opening(1.0, rng) for _ in range(4000))
        assert counts[("a", "b")] / 4000 == pytest.approx(0.75, abs=0.03)

    def test_openings_at_ever_new_temperatures_take_bounded_memory_and_draw_the_same(self) -> None:
        """The temperature follows the observer, so a long conversation draws openings at hundreds of temperatures:
        the chain's memory must stop growing (it grew by one sampler per temperature, 200 MB in a soak), and a
        temperature met again draws what it drew the first time."""
        starts = [(f"a{i}", f"b{i}", 1.0 + i % 7) for i in range(5000)]
        c = MarkovChain.from_counts([("a0", "b0", "c", 1.0)], starts)
        temperatures = [0.5 + i / 1000 for i in range(300)]
        first = c.draw_opening(temperatures[0], np.random.default_rng(1))
        tracemalloc.start()
        try:
            for t in temperatures[:50]:
                c.draw_opening(t, np.random.default_rng(2))
            settled = tracemalloc.get_traced_memory()[0]
            for t in temperatures[50:]:
                c.draw_opening(t, np.random.default_rng(2))
            grown = tracemalloc.get_traced_memory()[0] - settled
        finally:
            tracemalloc.stop()
        assert grown < 1_000_000, f"{grown:,} bytes more after 250 more temperatures"
        assert c.draw_opening(temperatures[0], np.random.default_rng(1)) == first

    def test_same_seed_same_walk(self) -> None:
        rows = [(a, b, w, 1.0) for a in "abcde" for b in "abcde" for w in "abcde"]
        c = chain(rows, [("a", "b", 1.0)])
        walks = [Walker(c, temperature=1.0, rng=np.random.default_rng(7)).walk((5, 7, 5), syllables, ("a", "b"))
                 for _ in range(2)]
        assert walks[0] is not None and walks[0] == walks[1]


class TestLayers:
    def test_delta_adds_weights_without_touching_the_base(self) -> None:
        base = chain([("a", "b", "x", 1.0)])
        layered = base.with_delta(chain([("a", "b", "x", 2.0), ("a", "b", "y", 1.0), ("q", "r", "s", 1.0)]))
        assert dict(layered.transitions[("a", "b")]) == {"x": 3.0, "y": 1.0}
        assert dict(base.transitions[("a", "b")]) == {"x": 1.0}
        assert layered.successors(("q", "r")) is not None and base.successors(("q", "r")) is None
        assert layered.log_probability(["a", "b", "x"]) == pytest.approx(np.log(3 / 4))


class TestSearch:
    def test_exact_budgets_on_word_boundaries(self) -> None:
        rows = [(a, b, w, 1.0) for a in ["a", "long", "longer"] for b in ["a", "long", "longer"]
                for w in ["a", "long", "longer"]]
        c = chain(rows, [("a", "long", 1.0)])
        for seed in range(20):
            walk = Walker(c, temperature=1.0, rng=np.random.default_rng(seed)).walk((5, 7, 5), syllables, ("a", "long"))
            assert walk is not None
            assert [sum(syllables(w) for w in line) for line in walk.lines] == [5, 7, 5]

    def test_backtracks_out_of_a_dead_end(self) -> None:
        """The likeliest path dead-ends after "x"; only backtracking finds the 3-syllable line through "y"."""
        c = chain([("a", "b", "x", 1000.0), ("a", "b", "y", 1.0), ("b", "y", "z", 1.0)])
        walk = Walker(c, temperature=1.0, rng=np.random.default_rng(0)).walk((4,), syllables, ("a", "b"))
        assert walk is not None and walk.words == ("a", "b", "y", "z")

    def test_lines_end_only_where_allowed(self) -> None:
        c = chain([("a", "b", "x", 100.0), ("a", "b", "c", 1.0), ("b", "c", "d", 1.0)])
        walk = Walker(c, temperature=1.0, rng=np.random.default_rng(0)).walk(
            (3, 1), syllables, ("a", "b"), closes_line=lambda word: word != "x")
        assert walk is not None and walk.lines == (("a", "b", "c"), ("d",))

    def test_accept_vetoes_and_the_search_goes_on(self) -> None:
        c = chain([("a", "b", "x", 100.0), ("a", "b", "y", 1.0)])
        walk = Walker(c, temperature=1.0, rng=np.random.default_rng(0)).walk(
            (3,), syllables, ("a", "b"), accept=lambda words: "x" not in words)
        assert walk is not None and walk.words == ("a", "b", "y")

    def test_impossible_budget_returns_none(self) -> None:
        c = chain([("a", "b", "longer", 1.0)])
        assert Walker(c, temperature=1.0, rng=np.random.default_rng(0)).walk((3,), syllables, ("a", "b")) is None

    def test_search_gives_up_after_its_expansions(self) -> None:
        rows = [(a, b, w, 1.0) for a in "abcde" for b in "abcde" for w in "abcde"]
        c = chain(rows)
        walker = Walker(c, temperature=1.0, rng=np.random.default_rng(0), max_expansions=5)
        assert walker.walk((40,), syllables, ("a", "b"), accept=lambda words: False) is None


def test_split_lines() -> None:
    assert split_lines(["a", "long", "longer", "a", "b"], (3, 4), syllables) == (("a", "long"), ("longer", "a"))
