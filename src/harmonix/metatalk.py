"""Meta-talk: a reply that talks about its task, its instructions or itself instead of speaking.

A small instruction-tuned model asked to "write a paragraph from these fragments" often answers about the request
("The sentence is quite long, but I will try to make it shorter.", "Here is a paragraph…") or about the persona it
was given ("I am Prose, and…"). Such a reply must never be kept: an organism's own words seed its next turns, so one
kept flaw spreads through its field.

:func:`meta_talk` is the one definition, used both to reject replies (Prose, Artist, the memory builder) and to
measure a rate (``harmonix eval``). It matches, case-insensitively and on word boundaries, the phrases of
:data:`PHRASES`, in four groups:

- *persona*: naming an organism or an assistant as oneself ("I am Prose", "you are Artist", "as an AI",
  "language model", "assistant");
- *the request*: "here is", "here's a", "sure,", "certainly", "as requested", "as you asked", "your task", "next
  task", "the prompt", "the instructions";
- *the material*: "the fragments", "fragments of", "these fragments", "the sentence(s)", "this sentence",
  "the paragraph", "this paragraph", "the passage", "this passage", "the text above", "this text", "your memory",
  "in your own words", "the original sentence" (text, paragraph, passage, version), "broken up into",
  "constituent parts" (the talk about sentences an unseen conversation showed:
  "BreakItUp: The original sentence has been broken up into its constituent parts");
- *the writing itself*: "piece of prose", "this piece", "well-crafted", "make it shorter", "word count", "I will
  try to", "let me know", "rewrite", "rephrase", "summary", "summarize".
"""

from __future__ import annotations

import re

PHRASES: tuple[str, ...] = (
    # persona
    r"i am (?:prose|artist|sonnet|haiku)", r"i'm (?:prose|artist)", r"you are (?:prose|artist|sonnet|haiku)",
    r"as (?:an ai|a language model|an assistant)", r"language model", r"\bassistant\b", r"my name is (?:prose|artist)",
    # the request
    r"here is", r"here's (?:a|an|the|my)", r"^sure\b", r"^certainly\b", r"as requested", r"as you asked",
    r"your task", r"next task", r"the prompt", r"the instructions?",
    # the material
    r"the fragments?", r"fragments of", r"these fragments", r"the sentences?\b", r"this sentence",
    r"the paragraph", r"this paragraph", r"the passage", r"this passage", r"the text above", r"this text",
    r"your memory", r"in your own words", r"the original (?:sentences?|text|paragraph|passage|version)",
    r"broken up into", r"constituent parts",
    # the writing itself
    r"piece of prose", r"this piece", r"well-crafted", r"make it shorter", r"word count", r"i will try to",
    r"let me know", r"\brewrite", r"\brephrase", r"\bsummary\b", r"\bsummari[sz]e",
)
_PATTERN = re.compile("|".join(f"(?:{phrase})" for phrase in PHRASES), re.IGNORECASE | re.MULTILINE)


def meta_talk(text: str) -> str | None:
    """The first task or persona phrase in ``text`` (as written there), or ``None`` when it has none."""
    match = _PATTERN.search(text.replace("\u2019", "'"))
    return None if match is None else match.group(0)


def meta_talk_rate(texts: list[str]) -> float:
    """The share of ``texts`` that hold a task or persona phrase (0 for no texts)."""
    return sum(meta_talk(text) is not None for text in texts) / len(texts) if texts else 0.0
