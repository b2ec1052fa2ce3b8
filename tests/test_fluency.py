"""The fluency judge: the documented shuffle, and the real model telling Shakespeare's order from word salad."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from harmonix.lab.corpora import cache_dir
from harmonix.lab.eval import reference_texts
from harmonix.lab.fluency import FluencyJudge, shuffled_lines

SONNET_LINES = ("Shall I compare thee to a summer's day?\n"
                "Thou art more lovely and more temperate:\n"
                "Rough winds do shake the darling buds of May,\n"
                "And summer's lease hath all too short a date.")


def test_a_shuffle_keeps_each_lines_words_and_the_line_breaks() -> None:
    shuffled = shuffled_lines(SONNET_LINES, random.Random(3))
    assert shuffled != SONNET_LINES
    assert [sorted(line.split()) for line in shuffled.splitlines()] == \
        [sorted(line.split()) for line in SONNET_LINES.splitlines()]
    assert shuffled_lines(SONNET_LINES, random.Random(3)) == shuffled, "seeded"


def test_the_references_are_whole_sonnets_and_poem_excerpts() -> None:
    references = reference_texts(5)
    assert all(len(text.splitlines()) == 14 for text in references["shakespeare's sonnets"])
    assert all(len(text.splitlines()) == 3 for text in references["the bootstrap's poems"])
    assert reference_texts(5) == references, "seeded"


@pytest.fixture(scope="module")
def judge() -> Iterator[FluencyJudge]:
    yield FluencyJudge.load(cache_dir())


def test_the_judge_hears_the_order_of_shakespeares_words(judge: FluencyJudge) -> None:
    salad = shuffled_lines(SONNET_LINES, random.Random(0))
    assert judge.nll(SONNET_LINES) < judge.nll(salad) - 1.0
    sense, nonsense = judge.fluency([SONNET_LINES]), judge.fluency([salad])
    assert sense.order_gain.mean > 1.0
    assert nonsense.order_gain.mean < sense.order_gain.mean - 1.0
    assert judge.nll(SONNET_LINES) == judge.nll(SONNET_LINES), "a reader, not a sampler"


def test_planting_compares_what_opens_on_a_lean_word_with_the_rest(judge: FluencyJudge) -> None:
    """A line that opens on a word no sentence would put there reads as less likely than the organism's other
    lines: the gap the planting figure reports (``harmonix eval --fluency``)."""
    from harmonix.lab.eval import planting

    natural = ["The sea comes in and leaves the shore to salt.", "The night is long and the light is low."]
    forced = ["Descriptor thee that bade before their prayers.", "Category and grave state to the post."]
    measured = planting(judge, forced, natural)
    assert measured is not None and measured.count == 2
    assert measured.gap == measured.planted.mean - measured.others.mean > 0.5
    assert planting(judge, [], natural) is None and planting(judge, forced, ["  "]) is None
