"""Artist's pure parts: what it quotes, how it reads the model's lines, how it weaves, and its provenance."""

from __future__ import annotations

import random

from harmonix.engines.memory import Memory
from harmonix.field import FieldCounts, FieldSnapshot, TextRow
from harmonix.field.model import frozen_mapping
from harmonix.organisms.artist import (
    MIN_OWN_LINES,
    VOICES,
    Settling,
    Span,
    own_lines,
    provenance_shares,
    quotes,
    remembered_lines,
    weave,
)
from harmonix.organisms.listening import listen

VOICES_SAID = {
    "haiku": "the morning light\nfalls on the quiet water now\nand the bird is gone",
    "sonnet": "\n".join(f"Line {i} of the sonnet, with its words" for i in range(1, 13))
    + "\nSo long as men can breathe or eyes can see,\nSo long lives this, and this gives life to thee.",
    "prose": "The kettle hums. A long train of grey carriages counted the evening hours slowly. It was late.",
}


def test_quotes_are_verbatim_parts_of_each_voice() -> None:
    chosen = quotes(VOICES_SAID)
    assert chosen["haiku"] == VOICES_SAID["haiku"]
    assert chosen["sonnet"] == "So long as men can breathe or eyes can see,\nSo long lives this, and this gives life to thee."
    assert chosen["prose"] == "A long train of grey carriages counted the evening hours slowly."
    assert all(chosen[voice] in VOICES_SAID[voice] for voice in chosen)


def test_prose_is_quoted_a_whole_sentence_never_from_inside_an_abbreviation() -> None:
    """A cut at "e.g." once quoted "humanity) to share their own stories, …" as a sentence of Prose."""
    prose = ("A more modern example is a platform where people from different worlds (e.g. humanity) share "
             "their own stories and pictures of the harbour. It grew.")
    chosen = quotes({"prose": prose}, resonance=lambda text: float("harbour" in text))
    assert chosen["prose"] == prose[: prose.index(" It grew.")]


def test_a_missing_voice_is_left_out() -> None:
    assert set(quotes({"haiku": VOICES_SAID["haiku"], "prose": ""})) == {"haiku"}


def test_own_lines_are_cleaned_and_deduplicated() -> None:
    answer = "1. Light keeps what the water forgets\n- light keeps what the water forgets\n\"A bell in the fog\"\nok\nSo long lives this, and this gives life to thee."
    chosen = quotes(VOICES_SAID)
    assert own_lines(answer, chosen) == ["Light keeps what the water forgets", "A bell in the fog"]


def test_a_paragraph_gives_its_sentences_as_lines() -> None:
    paragraph = "The water keeps the light. A bell rings in the fog somewhere. Nobody answers it tonight."
    assert own_lines(paragraph, {}) == ["The water keeps the light.", "A bell rings in the fog somewhere.",
                                        "Nobody answers it tonight."]


def test_weave_and_provenance() -> None:
    chosen = quotes(VOICES_SAID)
    spans = weave(chosen, ["one of my own lines", "another of my own", "a third of mine"])
    assert [span.source for span in spans] == ["haiku", "artist", "sonnet", "artist", "prose", "artist"]
    shares = provenance_shares(spans)
    assert abs(sum(shares.values()) - 1) < 1e-9 and set(shares) == {*VOICES, "artist"}
    assert provenance_shares([Span("artist", "only my words here")])["artist"] == 1.0


def test_a_line_cut_by_the_token_budget_is_dropped() -> None:
    answer = "The water keeps the light\nA bell rings in the fog\nAnd in one of the"
    assert own_lines(answer, {}, truncated=True) == ["The water keeps the light", "A bell rings in the fog"]
    assert len(own_lines(answer, {})) == 3


def test_a_cut_line_is_kept_when_dropping_it_would_leave_too_few() -> None:
    answer = "The water keeps the light\nAnd in one of the"
    assert own_lines(answer, {}, truncated=True) == ["The water keeps the light", "And in one of the"]


def test_quotes_follow_resonance_and_stay_verbatim() -> None:
    """A prompt about the sea: the sonnet's pair and the prose sentence that speak of it are quoted."""
    said = dict(VOICES_SAID)
    said["sonnet"] = said["sonnet"].replace("Line 5 of the sonnet, with its words", "The sea keeps its salt upon the shore")
    said["prose"] = "A long train of grey carriages counted the evening hours slowly. The waves were cold."

    def resonance(text: str) -> float:
        return sum(word in text.lower() for word in ("sea", "waves", "shore"))

    chosen = quotes(said, resonance)
    assert chosen["sonnet"] == "The sea keeps its salt upon the shore\nLine 6 of the sonnet, with its words"
    assert chosen["prose"] == "The waves were cold."
    assert all(chosen[voice] in said[voice] for voice in chosen)


def test_own_lines_never_talk_about_the_task_nor_copy_what_was_read() -> None:
    given = "the morning light\nfalls on the quiet water now\nand the bird is gone\n\n"
    answer = ("Here is a poem that joins the three voices\nfalls on the quiet water now and then\n"
              "A bell rings in the fog\nThe harbour sleeps with one eye open")
    assert own_lines(answer, {}, given=given) == ["A bell rings in the fog", "The harbour sleeps with one eye open"]


def test_remembered_lines_are_artists_own_spans() -> None:
    piece = "the morning light\nA bell rings over the sea\nThe bread is warm"
    provenance = [["haiku", len("the morning light")], ["artist", len("A bell rings over the sea")],
                  ["artist", len("The bread is warm")]]
    row = TextRow(id=1, source="self", body=piece, created=0.0, meta=frozen_mapping({"provenance": provenance}))
    memory = Memory.build(["The sea and the bell and the shore.", "The sea at the shore.", "Bread and an oven."])
    snapshot = FieldSnapshot(name="artist", recent=(row,), random=(), trigrams=(), words=(), disturbances=(),
                             last_spoken=row, counts=FieldCounts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), state={})
    heard = listen("the sea", snapshot, memory)
    assert remembered_lines([row], heard)[0] == "A bell rings over the sea"
    assert set(remembered_lines([row], heard)) == {"A bell rings over the sea", "The bread is warm"}


def test_raw_completion_debris_is_cleaned_from_own_lines() -> None:
    answer = "161504284 I would live in the world of the sea\n167039528 In the name of the tide"
    assert own_lines(answer, {}) == ["I would live in the world of the sea", "In the name of the tide"]


LINES = ["The water keeps the light", "ok", "A bell rings in the fog somewhere", "the morning light",
         "Nobody answers it tonight", "Here is a poem about the morning, as you asked:",
         "A lantern sways above the quay", "The gulls come home before the rain", "And in one of the"]


def test_what_settles_while_the_model_writes_begins_the_woven_piece() -> None:
    """Answers of any lines, streamed in pieces of any size, cut by the token budget or not: what settles, joined,
    begins the piece the whole answer weaves into, and an answer with too few usable lines (the attempt is
    rejected) settles nothing."""
    for seed in range(200):
        rng = random.Random(seed)
        chosen = {voice: text for voice, text in quotes(VOICES_SAID).items() if rng.random() < 0.7}
        answer = "\n".join(rng.sample(LINES, rng.randint(1, 7))) + rng.choice(["", "\n"])
        settling = Settling(chosen, "")
        position, settled = 0, []
        while position < len(answer):
            step = rng.randint(1, 12)
            settled.append(settling.add(answer[position:position + step]))
            position += step
        own = own_lines(answer, chosen, truncated=rng.random() < 0.5)
        shown = "".join(settled)
        if len(own) < MIN_OWN_LINES:
            assert shown == "", seed
            continue
        assert "\n".join(span.text for span in weave(chosen, own)).startswith(shown), seed
        if len(own_lines(answer[: answer.rfind("\n") + 1], chosen)) >= MIN_OWN_LINES:
            assert shown, f"{seed}: two usable lines that have ended settle the piece's opening"


def test_two_usable_lines_settle_the_quote_before_them_the_first_line_and_the_next_quote() -> None:
    chosen = quotes(VOICES_SAID)
    settling = Settling(chosen, "")
    assert settling.add("The water keeps the light\nA bell rings in the fog") == ""
    opened = settling.add(" somewhere\n")
    assert opened == "\n".join([chosen["haiku"], "The water keeps the light", chosen["sonnet"]])
    assert settling.add("Nobody answers it tonight\n") == "\n" + "\n".join(
        ["A bell rings in the fog somewhere", chosen["prose"], "Nobody answers it tonight"])
