"""Artist's pure parts: what it quotes, how it reads the model's lines, how it weaves, and its provenance."""

from __future__ import annotations

from harmonix.organisms.artist import VOICES, Span, own_lines, provenance_shares, quotes, weave

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
