"""The pure parts of the experiments: recurring n-grams and the liveliness of a window (long conversation), the
sources of what a prompt calls up (associations)."""

from __future__ import annotations

import random

import pytest

from harmonix.engines.lexicon import Lexicon
from harmonix.engines.memory import Memory
from harmonix.experiments.associations import sources
from harmonix.experiments.long_conversation import ALIVE_RATIO, MAX_RECURRING, life, most_recurring


def test_the_most_recurring_ngram_counts_each_text_once() -> None:
    texts = ["the sea is grey and the sea is cold", "the sea again", "a train at dawn"]
    gram, share = most_recurring(texts, n=2)
    assert gram == "the sea" and share == pytest.approx(2 / 3)
    assert most_recurring(["too short"], n=4) == (None, 0.0)


def test_a_voice_that_narrows_is_not_alive() -> None:
    words = ["amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "iris", "juniper", "kestrel",
             "lichen", "maple", "nettle", "orchid", "pebble", "quartz", "raven", "sorrel", "thistle", "umber",
             "violet", "willow", "yarrow", "zinnia"]
    rng = random.Random(0)
    varied = [" ".join(rng.sample(words, 6)) for _ in range(40)]
    narrowing = varied[:20] + ["the same old song again"] * 20
    alive, stale = life("x", varied, ["p"] * 40), life("x", narrowing, ["p"] * 40)
    assert alive.ratio is not None and alive.ratio > 0.9 and alive.alive
    assert stale.ratio is not None and stale.ratio < ALIVE_RATIO and not stale.alive
    assert stale.recurring_share == pytest.approx(0.5) and stale.recurring_share > MAX_RECURRING


def test_each_association_source_calls_up_its_own_words() -> None:
    lexicon = Lexicon.of({"sea": [("ocean", 1.0), ("salt", 0.4)]})
    memory = Memory.build(["The sea rolls waves onto the shore.", "Waves break on the shore while the sea sleeps.",
                           "The kitchen smells of bread.", "Bread cools on the kitchen table."], lexicon)
    found = {name: source(["sea"]) for name, source in sources(memory).items()}
    assert found["lexicon"] == ["ocean", "salt"]
    assert set(found["co-occurrence"]) == {"waves", "shore"}
    assert found["both"][0] == "ocean" and set(found["both"]) == {"ocean", "salt", "waves", "shore"}
