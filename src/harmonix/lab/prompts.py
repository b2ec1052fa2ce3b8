"""Prompt sets: the sets shipped with Harmonix (``data/prompts/standard.txt``, and ``memory.txt`` for the memory
experiment) or a user's file.

Format: one prompt per line; a line starting with ``#`` names the theme of the prompts after it (up to a colon) or is
a comment; blank lines are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Prompt:
    theme: str
    text: str


def parse_prompts(text: str) -> list[Prompt]:
    """The prompts of a prompt file's text, in file order, each with its theme."""
    prompts, theme = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            theme = stripped.lstrip("# ").split(":")[0]
        elif stripped:
            prompts.append(Prompt(theme, stripped))
    return prompts


def read_prompts(path: Path | None = None, *, shipped: str = "standard") -> list[Prompt]:
    """The prompts of ``path``, or of the shipped set ``data/prompts/{shipped}.txt`` when ``path`` is ``None``."""
    if path is None:
        text = resources.files("harmonix").joinpath("data", "prompts", f"{shipped}.txt").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return parse_prompts(text)


def standard_prompts() -> list[str]:
    """The texts of the standard prompt set, in order."""
    return [prompt.text for prompt in read_prompts()]
