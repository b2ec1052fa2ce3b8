"""Listening: a prompt's dissonance with one field, the lean it calls up, and the resonance it ranks texts by."""

from __future__ import annotations

from harmonix.engines.memory import Memory
from harmonix.field import FieldCounts, FieldSnapshot, WordCount
from harmonix.organisms.listening import PROMPT_WORD_WEIGHT, listen, lookup, prompt_words

MEMORY = Memory.build([
    "The sea rolls waves onto the shore and the salt stays on the rocks.",
    "Waves break on the shore at night while the sea keeps its salt.",
    "Fishing boats leave the harbour before the waves rise on the sea.",
    "The kitchen smells of bread and the oven hums while the bread rises.",
    "Bread from the oven cools on the kitchen table by the window.",
    "A train crosses the bridge at dawn and the station wakes slowly.",
])


def snapshot(counts: dict[str, tuple[int, int]]) -> FieldSnapshot:
    """A field holding ``word -> (own, heard)`` for its lookup."""
    lookup_counts = {word: WordCount(word=word, own=own, heard=heard) for word, (own, heard) in counts.items()}
    return FieldSnapshot(name="test", recent=(), random=(), trigrams=(), words=(), disturbances=(),
                         last_spoken=None, counts=FieldCounts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), state={},
                         lookup=lookup_counts)


def test_the_lookup_holds_the_prompt_words_and_their_associates() -> None:
    assert prompt_words("The sea, the sea at night!") == ("sea", "night")
    assert {"sea", "night", "waves", "shore", "salt"} <= set(lookup("the sea at night", MEMORY))


def test_the_prompt_itself_is_not_counted_as_heard() -> None:
    """The snapshot is read after the prompt's wrinkle: its own words must not make it familiar."""
    fresh = listen("quasar quasar", snapshot({"quasar": (0, 2)}), MEMORY)
    assert fresh.dissonance == 1.0
    heard_before = listen("quasar quasar", snapshot({"quasar": (0, 3)}), MEMORY)
    assert heard_before.dissonance < 1.0


def test_a_field_that_knows_the_neighbourhood_is_less_foreign() -> None:
    stranger = listen("the sea", snapshot({}), MEMORY)
    neighbour = listen("the sea", snapshot({"waves": (6, 0), "shore": (6, 0)}), MEMORY)
    assert neighbour.dissonance < stranger.dissonance < 1.0, "the memory knows the sea a little"


def test_the_lean_is_what_the_prompt_calls_up_never_the_prompt() -> None:
    heard = listen("waves at the sea", snapshot({}), MEMORY)
    assert "sea" not in heard.lean and "waves" not in heard.lean
    assert {"shore", "salt"} <= set(heard.lean) and max(heard.lean.values()) == 1.0
    assert "bread" not in heard.lean


def test_the_lean_holds_only_what_the_organism_can_say() -> None:
    heard = listen("the sea", snapshot({}), MEMORY, can_say=lambda word: word != "shore")
    assert "shore" not in heard.lean and heard.lean


def test_resonance_ranks_texts_and_leaves_out_strangers() -> None:
    heard = listen("the sea", snapshot({}), MEMORY)
    texts = ["bread in the oven", "salt on the rocks", "the sea and its waves on the shore"]
    assert heard.by_resonance(texts) == [texts[2], texts[1]]
    assert heard.leaning(["shore", "shore", "bread"]) == heard.lean["shore"]


def test_choosing_counts_the_prompt_words_an_organism_says_but_its_lean_never_holds_them() -> None:
    """A candidate the organism made that holds its own word for what was asked answers better; what a model is
    given (the lean) still never holds the prompt's words."""
    heard = listen("waves at the sea", snapshot({}), MEMORY)
    assert heard.choosing(["sea", "sea", "bread"]) == PROMPT_WORD_WEIGHT
    assert heard.choosing(["sea", "waves", "bread"]) == PROMPT_WORD_WEIGHT, "one prompt word counts, not each"
    assert heard.choosing(["sea", "shore"]) == PROMPT_WORD_WEIGHT + heard.lean["shore"]
    assert heard.choosing(["bread", "oven"]) == 0.0
    walking = heard.walking_lean(lambda word: word != "waves")
    assert walking["sea"] == PROMPT_WORD_WEIGHT and "waves" not in walking
    assert {word: walking[word] for word in heard.lean} == dict(heard.lean)
    assert "sea" not in heard.lean
