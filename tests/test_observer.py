"""Observer maths: dissonance, pulse and temperature, each bounded and defined as documented."""

from __future__ import annotations

import pytest

from harmonix.observer import dissonance, normalized_entropy, pulse, temperature


class TestDissonance:
    def test_share_of_the_users_words_the_organism_did_not_say(self) -> None:
        assert dissonance({"sea", "light"}, {"sea", "stone"}) == pytest.approx(0.5)

    def test_a_long_output_does_not_make_every_prompt_foreign(self) -> None:
        sonnet = {f"word{i}" for i in range(80)} | {"sea", "light"}
        assert dissonance({"sea", "light"}, sonnet) == 0.0

    def test_identical_and_disjoint(self) -> None:
        assert dissonance({"sea"}, {"sea"}) == 0.0
        assert dissonance({"sea"}, {"stone"}) == 1.0

    def test_nothing_said_yet_and_nothing_brought(self) -> None:
        assert dissonance({"sea"}, set()) == 1.0
        assert dissonance(set(), {"sea"}) == 0.5


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
