"""The long-term memory: counting by stem, association by co-occurrence, resonance by BM25."""

from __future__ import annotations

import math

import pytest

from harmonix.engines.memory import MIN_SHARED, REMEMBERED_QUERIES, Memory, stem, stems_of

PARAGRAPHS = [
    "The sea rolls waves onto the shore and the salt stays on the rocks.",
    "Waves break on the shore at night while the sea keeps its salt.",
    "Fishing boats leave the harbour before the waves rise on the sea.",
    "The kitchen smells of bread and the oven hums while the bread rises.",
    "Bread from the oven cools on the kitchen table by the window.",
    "A train crosses the bridge at dawn and the station wakes slowly.",
]


@pytest.fixture(scope="module")
def memory() -> Memory:
    return Memory.build(PARAGRAPHS)


def test_stems_join_a_word_and_its_plural() -> None:
    assert stem("clouds") == stem("cloud") == "cloud"
    assert stem("stories") == "story" and stem("glass") == "glass" and stem("sea") == "sea"
    assert stems_of("The waves and the wave") == ["wave", "wave"]


def test_counts_are_by_stem(memory: Memory) -> None:
    assert memory.count("wave") == memory.count("waves") == 3
    assert memory.count("quasar") == 0


def test_associates_are_words_seen_together_more_than_chance(memory: Memory) -> None:
    found = dict(memory.associates(["sea"]))
    assert {"waves", "shore", "salt"} <= set(found), "each in its most frequent form"
    assert "bread" not in found and "sea" not in found, "no stranger, and never the query's own word"
    assert all(weight > 0 for weight in found.values())


def test_an_associate_needs_to_share_enough_paragraphs(memory: Memory) -> None:
    """"harbour" shares a single paragraph with "sea": below MIN_SHARED, it is chance."""
    assert MIN_SHARED == 2 and "harbour" not in dict(memory.associates(["sea"]))


def test_the_weight_is_documented_pmi(memory: Memory) -> None:
    n, df_sea, df_salt, both = 6, 3, 2, 2
    expected = both * math.log(n * both / (df_sea * df_salt))
    assert dict(memory.associates(["sea"]))["salt"] == pytest.approx(expected)


def test_resonance_prefers_the_paragraph_about_the_query(memory: Memory) -> None:
    query = memory.query(["bread"])
    ranked = memory.resonant(query, limit=10)
    assert set(ranked[:2]) == {3, 4} and 5 not in ranked, "a paragraph sharing nothing is left out"
    assert memory.resonance("nothing about it", query) == 0.0


def test_associates_of_the_same_query_are_remembered_and_bounded() -> None:
    memory = Memory.build(PARAGRAPHS)
    first = memory.associates(["sea"])
    assert memory.associates(["seas"]) == first, "the same stems are the same query"
    for i in range(REMEMBERED_QUERIES + 10):
        memory.associates([f"word{i}"])
    assert memory.remembered_queries == REMEMBERED_QUERIES


def test_the_packaged_memory_loads_and_associates() -> None:
    memory = Memory.load()
    assert len(memory.texts) >= 1000
    common = ("city", "ocean", "love", "music", "water", "house", "light", "food")
    assert sum(bool(memory.associates([word])) for word in common) >= 6, "common words have associates"
