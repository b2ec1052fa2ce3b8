"""The judge of prompt influence: the documented formula, its interval, and the real model's sense."""

from __future__ import annotations

import numpy as np
import pytest

from harmonix.lab.judge import FAR, Judge, influences, lagged_influences, summarize


def test_influence_is_own_similarity_minus_the_mean_of_the_others() -> None:
    similarity = np.array([[0.9, 0.1, 0.2],
                           [0.3, 0.3, 0.3],
                           [0.0, 0.4, 0.1]])
    assert influences(similarity) == pytest.approx([0.9 - 0.15, 0.0, 0.1 - 0.2])


def test_influence_needs_two_prompts() -> None:
    with pytest.raises(ValueError):
        influences(np.ones((1, 1)))


def test_a_lagged_influence_compares_the_prompt_k_back_with_the_far_ones() -> None:
    n = 12
    similarity = np.full((n, n), 0.1)
    for i in range(1, n):
        similarity[i, i - 1] = 0.5  # every reply carries the turn before
    np.fill_diagonal(similarity, 0.8)
    assert lagged_influences(similarity, 0) == pytest.approx([0.7] * n)
    assert lagged_influences(similarity, 1) == pytest.approx([0.4] * (n - 1))
    assert lagged_influences(similarity, 2) == pytest.approx([0.0] * (n - 2))
    with pytest.raises(ValueError):
        lagged_influences(similarity, FAR + 1)
    with pytest.raises(ValueError):
        lagged_influences(np.ones((2 * FAR + 1, 2 * FAR + 1)), 1)


def test_the_interval_holds_the_mean_and_is_seeded() -> None:
    values = [0.1, 0.3, -0.2, 0.4, 0.0, 0.25, 0.05]
    first, again = summarize(values, seed=1), summarize(values, seed=1)
    assert first == again and first.low <= first.mean <= first.high and first.n == len(values)
    assert summarize([0.2] * 5) == summarize([0.2] * 5) and summarize([0.2] * 5).low == pytest.approx(0.2)


def test_the_model_tells_an_answer_from_a_stranger() -> None:
    """The real judge (the eval extra): replies on topic score above zero, swapped replies below."""
    judge = Judge.load()
    prompts = ["What does the sea remember at night?", "My phone battery dies before lunch every day.",
               "Our neighbourhood bakery closed after forty years."]
    replies = ["Waves fold over the dark water and the tide keeps the shore's old secrets.",
               "The charger blinks red again; the screen goes black by noon.",
               "The ovens are cold now and the smell of bread has left the street."]
    assert judge.influence(replies, prompts).mean > 0.1
    assert judge.influence(replies[1:] + replies[:1], prompts).mean < 0
