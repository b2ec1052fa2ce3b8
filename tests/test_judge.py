"""The judge of prompt influence: the documented formula, its interval, and the real model's sense."""

from __future__ import annotations

import numpy as np
import pytest

from harmonix.judge import Judge, influences, summarize


def test_influence_is_own_similarity_minus_the_mean_of_the_others() -> None:
    similarity = np.array([[0.9, 0.1, 0.2],
                           [0.3, 0.3, 0.3],
                           [0.0, 0.4, 0.1]])
    assert influences(similarity) == pytest.approx([0.9 - 0.15, 0.0, 0.1 - 0.2])


def test_influence_needs_two_prompts() -> None:
    with pytest.raises(ValueError):
        influences(np.ones((1, 1)))


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
