"""The echo metric, frozen as docs/architecture.md defines it, and distinct-n."""

from __future__ import annotations

import pytest

from harmonix.metrics import distinct_n, echo, is_optimal


class TestEcho:
    def test_parrot_is_one(self) -> None:
        assert echo("What is resonance?", "What is resonance?") == 1.0

    def test_disjoint_is_zero(self) -> None:
        assert echo("silver rivers sleep", "what is resonance") == 0.0

    def test_half(self) -> None:
        assert echo("resonance rivers", "what is resonance") == 0.5

    def test_function_word_overlap_is_zero(self) -> None:
        assert echo("the river is with them", "what is the sound with them") == 0.0

    def test_empty_reply_is_invalid_not_zero(self) -> None:
        assert echo("", "what is resonance") is None
        assert echo("Yes. It is.", "what is resonance") is None

    def test_token_level_repeats_count(self) -> None:
        assert echo("sea sea sea river", "the sea") == 0.75

    def test_prompt_without_content_echoes_nothing(self) -> None:
        assert echo("silver rivers", "is it?") == 0.0


def test_optimal_turn_needs_a_valid_reply_below_point_two() -> None:
    assert is_optimal(0.0) and is_optimal(0.19)
    assert not is_optimal(0.2) and not is_optimal(None)


class TestDistinctN:
    def test_all_distinct(self) -> None:
        assert distinct_n(["a b c", "d e f"], 2) == 1.0

    def test_repeats_lower_it(self) -> None:
        assert distinct_n(["a b a b", "a b"], 2) == pytest.approx(2 / 4)

    def test_ngrams_do_not_cross_texts(self) -> None:
        assert distinct_n(["a", "b"], 2) is None
