"""Observer maths: dissonance, pulse and temperature, each bounded and defined as documented."""

from __future__ import annotations

import pytest

from harmonix.observer import (
    HALF_FAMILIAR,
    NO_WORDS,
    Acquaintance,
    connectedness,
    familiarity,
    field_dissonance,
    normalized_entropy,
    pulse,
    temperature,
)


class TestDissonance:
    """``d = 1 - mean_w (f(w) + g(w)) / 2``: how foreign the prompt's words are to what the field holds."""

    def test_a_prompt_nothing_ever_met_is_wholly_foreign(self) -> None:
        assert field_dissonance(["quasar", "zither"], {}, {}) == 1.0

    def test_a_prompt_with_no_content_word_is_undecided(self) -> None:
        assert field_dissonance([], {"sea": Acquaintance(own=9)}, {}) == NO_WORDS == 0.5

    def test_each_count_lowers_it(self) -> None:
        base = field_dissonance(["sea"], {"sea": Acquaintance(own=1, heard=1, memory=1)}, {})
        for more in (Acquaintance(own=2, heard=1, memory=1), Acquaintance(own=1, heard=2, memory=1),
                     Acquaintance(own=1, heard=1, memory=2)):
            assert field_dissonance(["sea"], {"sea": more}, {}) < base < 1.0

    def test_knowing_what_goes_with_a_word_lowers_it(self) -> None:
        associates = {"sea": {"wave": 2.0, "salt": 1.0}}
        alone = field_dissonance(["sea"], {}, associates)
        knows_salt = field_dissonance(["sea"], {"salt": Acquaintance(own=4)}, associates)
        knows_wave = field_dissonance(["sea"], {"wave": Acquaintance(own=4)}, associates)
        assert alone == 1.0 and alone > knows_salt > knows_wave, "the stronger associate weighs more"

    def test_associates_count_from_the_field_only(self) -> None:
        """The memory alone never makes an associate known: connectedness is to what *this* field holds."""
        associates = {"sea": {"wave": 1.0}}
        assert field_dissonance(["sea"], {"wave": Acquaintance(memory=500)}, associates) == 1.0

    def test_it_is_a_mean_over_distinct_words(self) -> None:
        known = {"sea": Acquaintance(own=4)}
        half = field_dissonance(["sea"], known, {})
        assert field_dissonance(["sea", "quasar"], known, {}) == pytest.approx((half + 1) / 2)
        assert field_dissonance(["sea", "sea", "quasar"], known, {}) == pytest.approx((half + 1) / 2)

    def test_it_approaches_zero_for_a_field_that_knows_everything(self) -> None:
        known = {word: Acquaintance(own=10**6, heard=10**6, memory=10**6) for word in ("sea", "wave")}
        assert 0 < field_dissonance(["sea"], known, {"sea": {"wave": 1.0}}) < 0.01

    def test_a_word_is_foreign_only_as_far_as_it_is_neither_familiar_nor_connected(self) -> None:
        known = {"sea": Acquaintance(own=int(HALF_FAMILIAR)), "wave": Acquaintance(own=int(HALF_FAMILIAR))}
        assert field_dissonance(["sea"], known, {"sea": {"wave": 1.0}}) == pytest.approx(0.5 * 0.5)

    def test_familiarity_is_half_at_the_documented_count(self) -> None:
        assert familiarity(Acquaintance()) == 0.0
        assert familiarity(Acquaintance(own=int(HALF_FAMILIAR))) == 0.5
        assert familiarity(Acquaintance(memory=10), with_memory=False) == 0.0

    def test_negative_counts_are_refused(self) -> None:
        with pytest.raises(ValueError):
            familiarity(Acquaintance(own=-1))

    def test_connectedness_without_associates_is_zero(self) -> None:
        assert connectedness({}, {"wave": Acquaintance(own=100)}) == 0.0


class TestPulse:
    def test_novelty_is_the_share_of_new_content_words(self) -> None:
        beat = pulse("the quasar and the sea", is_new=lambda word: word == "quasar")
        assert beat.novelty == 0.5

    def test_arousal_rises_with_marks_and_capitals(self) -> None:
        calm = pulse("the sea is calm", is_new=lambda word: False)
        loud = pulse("THE SEA IS LOUD!!!", is_new=lambda word: False)
        assert calm.arousal == 0.0 and loud.arousal == 1.0

    def test_entropy_falls_when_the_user_insists(self) -> None:
        varied = pulse("river stone light", is_new=lambda word: False)
        insisting = pulse("river river river stone", is_new=lambda word: False)
        assert varied.entropy == pytest.approx(1.0) and 0 < insisting.entropy < 1

    @pytest.mark.parametrize("prompt", ["", "?", "a", "!!! ??? !!!", "WHY WHY WHY WHY", "x" * 5000])
    def test_components_are_bounded(self, prompt: str) -> None:
        beat = pulse(prompt, is_new=lambda word: True)
        assert all(0.0 <= value <= 1.0 for value in (beat.novelty, beat.arousal, beat.entropy))


def test_normalized_entropy_edges() -> None:
    assert normalized_entropy([]) == 0.0 and normalized_entropy(["a"]) == 0.0
    assert normalized_entropy(["a", "a"]) == 0.0 and normalized_entropy(["a", "b"]) == pytest.approx(1.0)


def test_temperature_is_monotone_and_bounded() -> None:
    values = [temperature(d / 10, 0.6, 1.1) for d in range(-5, 16)]
    assert values == sorted(values)
    assert values[0] == 0.6 and values[-1] == 1.1
    with pytest.raises(ValueError):
        temperature(0.5, 1.2, 0.6)
