"""The text toolkit: pure functions over strings, shared by every layer above (no fields, engines or asyncio)."""

from harmonix.text.phonetics import (
    heuristic_syllables,
    is_known,
    line_syllables,
    pronunciation,
    rhyme_key,
    stress_pattern,
    syllables,
)
from harmonix.text.sentences import ABBREVIATIONS, sentence_ends, sentences
from harmonix.text.stopwords import CONVERSATIONAL, STOPWORDS, content_words, is_content_word, subject_words
from harmonix.text.tokens import Trigram, ngrams, normalize, stem, tokenize, trigrams
from harmonix.text.validate import MAX_TEXT_CHARS, TEXT_SCHEMA, validate_text, visible

__all__ = [
    "ABBREVIATIONS",
    "CONVERSATIONAL",
    "MAX_TEXT_CHARS",
    "STOPWORDS",
    "TEXT_SCHEMA",
    "Trigram",
    "content_words",
    "heuristic_syllables",
    "is_content_word",
    "is_known",
    "line_syllables",
    "ngrams",
    "normalize",
    "pronunciation",
    "rhyme_key",
    "sentence_ends",
    "sentences",
    "stem",
    "stress_pattern",
    "subject_words",
    "syllables",
    "tokenize",
    "trigrams",
    "validate_text",
    "visible",
]
