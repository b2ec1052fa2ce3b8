"""The one small protocol through which the hub talks to organisms.

An organism has a ``name``, a ``field`` (its own memory, its own lock) and answers a :class:`Stimulus` with a
:class:`Reply`. The hub knows nothing else about it: not its engine, not its form, not its observer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from harmonix.field import Field


@dataclass(frozen=True, slots=True)
class Stimulus:
    """What an organism is asked to answer in a cascade: the prompt, its seed, and what the other organisms said
    in this cascade so far (``voices``: organism name -> text; only the Artist listens to it)."""

    prompt: str
    seed: int
    voices: Mapping[str, str] = field(default_factory=dict)


class Reply(Protocol):
    """Every organism's reply has at least its text and the dissonance it measured."""

    @property
    def text(self) -> str: ...

    @property
    def dissonance(self) -> float: ...


class Organism(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def field(self) -> Field: ...

    async def respond(self, stimulus: Stimulus) -> Reply:
        """One whole turn of the organism under its own field lock; its field is unchanged if this raises."""
        ...
