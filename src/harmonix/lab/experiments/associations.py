"""``harmonix experiment associations``: which source of "what a prompt calls up" carries the prompt's meaning?

An organism can only lean towards the words a prompt calls up in it; if those words do not carry the prompt's
meaning, no organism built on them can answer it. This experiment measures the ceiling of each source without any
organism: for every standard prompt, the ``WORDS`` strongest words a source calls up (never the prompt's own
words) are read as one text, and the judge (:mod:`harmonix.lab.judge`) scores their prompt influence, as if that text
were the reply.

**Sources**: ``co-occurrence`` (the long-term memory's paragraphs, :meth:`~harmonix.engines.memory.Memory.associates`),
``lexicon`` (WordNet's meanings, :meth:`~harmonix.engines.lexicon.Lexicon.called_up`) and ``both`` (what listening
uses, :meth:`~harmonix.engines.memory.Memory.called_up`). **Vocabularies**: every word, and only the words HAiKU
can say (its ~500-word core): a ceiling for the most constrained organism. For reference, the prompts' own content
words as the text (the influence of pure echo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harmonix.engines.memory import Memory
from harmonix.lab.judge import Influence, Judge
from harmonix.organisms.haiku import load_bootstrap
from harmonix.organisms.listening import prompt_words

WORDS = 16
CANDIDATES = 200
Source = Callable[[Sequence[str]], list[str]]


@dataclass(frozen=True, slots=True)
class Arm:
    """One source in one vocabulary: its prompt influence and what it called up for the first prompt."""

    source: str
    vocabulary: str
    influence: Influence
    example: str


def sources(memory: Memory) -> dict[str, Source]:
    """Each source as a function from a prompt's words to the words it calls up, strongest first."""
    def co_occurrence(words: Sequence[str]) -> list[str]:
        return [word for word, _ in memory.associates(words, CANDIDATES)]

    def lexicon(words: Sequence[str]) -> list[str]:
        found = memory.lexicon.called_up(words)
        return sorted(found, key=lambda word: (-found[word], word))

    def both(words: Sequence[str]) -> list[str]:
        return [word for word, _ in memory.called_up(words, CANDIDATES)]

    return {"co-occurrence": co_occurrence, "lexicon": lexicon, "both": both}


def run_associations(prompts: Sequence[str], memory: Memory, judge: Judge) -> list[Arm]:
    haiku = load_bootstrap().vocabulary
    vocabularies: dict[str, Callable[[str], bool]] = {"every word": lambda word: True,
                                                      "HAiKU's": haiku.__contains__}
    arms = []
    for name, source in sources(memory).items():
        for vocabulary, can_say in vocabularies.items():
            texts = [" ".join([word for word in source(prompt_words(prompt)) if can_say(word)][:WORDS]) or "nothing"
                     for prompt in prompts]
            arms.append(Arm(name, vocabulary, judge.influence(texts, prompts), texts[0]))
    echo = [" ".join(prompt_words(prompt)) or "nothing" for prompt in prompts]
    arms.append(Arm("the prompt's own words", "every word", judge.influence(echo, prompts), echo[0]))
    return arms


def markdown(arms: Sequence[Arm], prompts: Sequence[str], command: str) -> str:
    lines = ["# What a prompt calls up", "", f"Reproduce with: `{command}`", "",
             f"The {WORDS} strongest words each source calls up for each of {len(prompts)} prompts, read as a "
             f"reply and scored by the judge (prompt influence, 95 % interval). First prompt: {prompts[0]!r}.", "",
             "| source | vocabulary | prompt influence [95 % CI] | called up for the first prompt |",
             "|---|---|---|---|"]
    for arm in arms:
        found = arm.influence
        lines.append(f"| {arm.source} | {arm.vocabulary} | {found.mean:+.3f} [{found.low:+.3f}, {found.high:+.3f}] "
                     f"| {arm.example} |")
    return "\n".join(lines) + "\n"
