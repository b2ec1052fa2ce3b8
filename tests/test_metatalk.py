"""Meta-talk: the phrases a reply about its task or persona is caught by, and prose that is not caught."""

from __future__ import annotations

import pytest

from harmonix.metatalk import meta_talk, meta_talk_rate

FOUND_IN_THE_WILD = [  # the replies issue 13 quotes, as Prose wrote them
    "The sentence is quite long, but I will try to make it shorter.",
    "You are Prose, and you have always been a quiet voice.",
    "I am Prose, and this is me who remembers the kettle.",
    "A well-crafted piece of prose that captures the evening light.",
    "The train waits at the platform before we get back to your next task.",
    "Here is a paragraph about the garden.",
    "Sure! The beans climbed the fence.",
    "As an AI language model, I cannot remember rain.",
    "These fragments speak of a drawer of keys.",
    # issue 24's unseen conversation: talk about sentences that the first guard missed
    "BreakItUp: The original sentence has been broken up into its constituent parts.",
    "Each clause is broken up into smaller pieces so that the reader can follow.",
    "The constituent parts of the phrase are listed below, one to a line.",
]

PROSE = [
    "The kettle had been humming for a while before anyone noticed it.",
    "Rain gathered in the gutters and the street lamps came on one after another.",
    "She kept the letters in a tin box under the stairs, tied with a blue ribbon.",
    "Here, the river slows, and the herons stand in the shallows.",
    "The light on the floor moved slowly to the wall, and the text of the letter faded.",
    "The shed was broken into twice that winter, and the village waited for spring.",
    "Its original owner kept bees behind the house.",
]


@pytest.mark.parametrize("text", FOUND_IN_THE_WILD)
def test_task_and_persona_talk_is_caught(text: str) -> None:
    assert meta_talk(text) is not None


@pytest.mark.parametrize("text", PROSE)
def test_plain_prose_is_not(text: str) -> None:
    assert meta_talk(text) is None


def test_the_match_is_case_blind_and_reads_curly_apostrophes() -> None:
    assert meta_talk("HERE’S A poem for you") is not None
    assert meta_talk("I’m Prose") is not None


def test_the_rate_is_the_share_of_texts() -> None:
    assert meta_talk_rate([FOUND_IN_THE_WILD[0], PROSE[0], PROSE[1], FOUND_IN_THE_WILD[1]]) == 0.5
    assert meta_talk_rate([]) == 0.0
