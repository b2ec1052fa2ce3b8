"""Listening: a prompt's dissonance with one field, the lean it calls up, and the resonance it ranks texts by."""

from __future__ import annotations

import random

from harmonix.engines.memory import Memory
from harmonix.field import Disturbance, FieldCounts, FieldSnapshot, WordCount
from harmonix.organisms.listening import (
    AFTERGLOW,
    PROMPT_WORD_WEIGHT,
    RECALL_TURNS,
    heard_before,
    listen,
    lookup,
    prompt_words,
    subject_of,
)

MEMORY = Memory.build([
    "The sea rolls waves onto the shore and the salt stays on the rocks.",
    "Waves break on the shore at night while the sea keeps its salt.",
    "Fishing boats leave the harbour before the waves rise on the sea.",
    "The kitchen smells of bread and the oven hums while the bread rises.",
    "Bread from the oven cools on the kitchen table by the window.",
    "A train crosses the bridge at dawn and the station wakes slowly.",
])


def snapshot(counts: dict[str, tuple[int, int]], heard: tuple[str, ...] = ()) -> FieldSnapshot:
    """A field holding ``word -> (own, heard)`` for its lookup, and the prompts ``heard`` (newest first: the turn's
    own prompt, then those before it)."""
    lookup_counts = {word: WordCount(word=word, own=own, heard=heard) for word, (own, heard) in counts.items()}
    disturbances = tuple(Disturbance(id=len(heard) - i, source="user", body=body, created=0.0)
                         for i, body in enumerate(heard))
    return FieldSnapshot(name="test", recent=(), random=(), trigrams=(), words=(), disturbances=disturbances,
                         last_spoken=None, counts=FieldCounts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), state={},
                         lookup=lookup_counts)


def after(prompt: str, earlier: list[str]) -> tuple[str, ...]:
    """The disturbances of a field that heard ``earlier`` (oldest first) and then ``prompt``."""
    return (prompt, *reversed(earlier))


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


SEA = ["waves on the shore", "salt on the rocks by the shore", "the waves and the salt"]


def test_what_was_heard_before_lingers_in_the_lean_of_a_neutral_prompt() -> None:
    """Three prompts about the sea, then one that calls up nothing: only the field can give it a theme."""
    fresh = listen("continue", snapshot({}, after("continue", [])), MEMORY)
    remembering = listen("continue", snapshot({}, after("continue", SEA)), MEMORY)
    assert not fresh.lean
    assert remembering.lean and max(remembering.lean.values()) == 1.0
    assert {"sea"} <= set(remembering.lean), "what the waves and the salt called up"
    assert remembering.recalled["salt"] == AFTERGLOW, "the newest prompt, one turn back"
    assert remembering.recalled["shore"] == AFTERGLOW ** 2, "the one before it"
    assert remembering.query["wave"] == remembering.recalled["wave"], "the recalled stems join the query"
    assert "waves" not in remembering.words


def test_the_present_prompt_leads_and_the_past_fades() -> None:
    """An ordinary prompt after the sea still leans towards what it calls up itself, and six turns later the sea
    is gone from the lean."""
    present = listen("bread in the kitchen", snapshot({}, after("bread in the kitchen", SEA)), MEMORY)
    alone = listen("bread in the kitchen", snapshot({}, after("bread in the kitchen", [])), MEMORY)
    assert present.strongest(1) == alone.strongest(1)
    lingering = [word for word in present.lean if word not in alone.lean]
    assert lingering and all(present.lean[word] < 1.0 for word in lingering)
    unrelated = ["a train at the station"] * RECALL_TURNS
    faded = listen("continue", snapshot({}, after("continue", [*SEA, *unrelated])), MEMORY)
    assert "shore" not in faded.recalled and "salt" not in faded.recalled
    one_on = listen("continue", snapshot({}, after("continue", [*SEA, "a train at the station"])), MEMORY)
    assert one_on.recalled["salt"] == AFTERGLOW ** 2


def test_a_request_to_go_on_names_no_subject() -> None:
    assert subject_of("Tell me more.") == ()
    assert subject_of("Continue, please. What else do you think?") == ()
    assert subject_of("Tell me more about the harbour.") == ("harbour",)
    assert prompt_words("Tell me more.") == ("tell",), "still a content word for echo and dissonance"


def test_a_request_to_go_on_leans_on_what_was_heard_before_it() -> None:
    """"Tell me more." after the sea is about the sea: its own words call nothing up, and even an organism that
    listens to the present prompt alone (``recall=False``) hears it through the prompts before it."""
    heard = snapshot({}, after("Tell me more.", SEA))
    for recall in (True, False):
        told = listen("Tell me more.", heard, MEMORY, recall=recall)
        assert told.words == ()
        assert {"sea"} <= set(told.lean) and max(told.lean.values()) == 1.0
        assert told.recalled["salt"] == AFTERGLOW
    named = listen("bread in the kitchen", snapshot({}, after("bread in the kitchen", SEA)), MEMORY, recall=False)
    assert not named.recalled and "sea" not in named.lean, "a prompt that names a subject is heard alone"


def test_only_the_prompts_before_this_one_are_recalled() -> None:
    heard = snapshot({}, after("now", [f"prompt {i}" for i in range(RECALL_TURNS + 3)]))
    earlier = heard_before(heard)
    assert len(earlier) == RECALL_TURNS and "now" not in earlier
    assert earlier[0] == f"prompt {RECALL_TURNS + 2}", "newest first"


def test_a_first_word_is_one_the_model_opens_sentences_on() -> None:
    """Prose and Artist open on a called-up word only if the memory (the embedded model's own writing) begins
    sentences with it often enough: never a dictionary word it would only continue as a heading."""
    memory = Memory.build([
        "Waves rise on the sea at night. Waves fall at dawn. Waves keep the shore.",
        "The sea leaves the shore wet and the salt dries on the rocks.",
        "Bread cools in the kitchen. The oven hums.",
    ] * 2)
    heard = listen("the sea", snapshot({}), memory)
    assert memory.opens("Waves") == 6 and memory.opens("shore") == 0
    assert {"waves", "shore"} <= set(heard.lean)
    draws = {heard.first_word(random.Random(seed)) for seed in range(20)}
    assert draws == {"Waves"}, "the only lean word the memory opens a sentence on at least three times"
    never = Memory.build(["On the sea and the shore.", "On the sea by the shore.", "In the kitchen, bread."] * 2)
    assert "shore" in listen("the sea", snapshot({}), never).lean
    assert listen("the sea", snapshot({}), never).first_word(random.Random(0)) == "", \
        "no lean word the model opens on: no planted opening"
