"""The one small protocol through which the hub talks to organisms, and the registry of organisms.

An organism has a ``name``, answers a :class:`Stimulus` with a :class:`Reply` (one whole turn under its own field
lock), and can :meth:`~Organism.hear` a text that then belongs to its memory (the hub's reverse wave). The hub knows
nothing else about it: not its engine, not its field, not its form, not its observer. A reply shows its text, the
dissonance it measured, and its other details as a JSON-ready mapping (:meth:`Reply.details`).

The registry (:data:`INHALE`, :data:`SYNTHESIS`, :data:`ORGANISMS`, :data:`HUB`, :data:`TITLES`) is the one place
that names the organisms; :func:`organism_class` finds each one's class.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from harmonix.engines.memory import Memory
from harmonix.errors import OrganismNotFound

if TYPE_CHECKING:
    from harmonix.config import Config
    from harmonix.engines.llm import Generation, LLMEngine, Sampling
    from harmonix.engines.shared import SharedEngines
    from harmonix.field import Field, RowLedger

INHALE = ("haiku", "sonnet", "prose")
"""The organisms that breathe in together, in parallel, each answering the prompt from its own field."""
SYNTHESIS = "artist"
"""The organism that answers after them, weaving what they said."""
ORGANISMS = (*INHALE, SYNTHESIS)
HUB = "meta"
"""The hub's own field (a colony holds one field per organism and this one)."""
FIELDS = (*ORGANISMS, HUB)
LLM_MODES = ("completion", "chat")
"""How an LLM organism speaks: continuing a text of its own memory, or answering chat messages."""
TITLES = {"haiku": "HAiKU", "sonnet": "Sonnet", "prose": "Prose", "artist": "Artist", HUB: "MetaHarmonix"}
_MODULES = {name: f"harmonix.organisms.{name}" for name in ORGANISMS}
_CLASSES = {"haiku": "Haiku", "sonnet": "Sonnet", "prose": "Prose", "artist": "Artist"}


TokenListener = Callable[[str, int], None]
"""Receives each piece of text an organism's model writes, with the attempt it belongs to (1, 2, …): a later attempt
replaces an earlier one the organism rejected."""
SettledListener = Callable[[str], None]
"""Receives each piece of an organism's reply the moment it is settled: it will stand in the reply whatever the model
writes next, and the pieces, joined, begin the reply's text (they are all of it but what settles at the end). A
rejected attempt never settles anything."""


class Settles(Protocol):
    """What an LLM organism's attempt has settled while its model writes (Prose: whole sentences, Artist: spans)."""

    def add(self, piece: str) -> str:
        """Take the next piece the model wrote; return the text it settles (often "")."""
        ...


@dataclass(frozen=True, slots=True)
class Stimulus:
    """What an organism is asked to answer in a cascade: the prompt, its seed, what the other organisms said in
    this cascade so far (``voices``: organism name -> text; only the Artist listens to it), who wants its
    tokens as they are written (``on_token``) and its reply as it settles (``on_settled``; organisms without a
    language model have neither to give), and the breath's ledger, told every row the turn writes once it commits
    (``ledger``; so the breath can be forgotten)."""

    prompt: str
    seed: int
    voices: Mapping[str, str] = field(default_factory=dict)
    on_token: TokenListener | None = None
    ledger: RowLedger | None = None
    on_settled: SettledListener | None = None


_DEBRIS = re.compile(r"^(?:[^A-Za-z\"']+|\S*[\d_./\\|#@]\S*\s+|[b-hj-z]\s+)+")


def without_debris(text: str) -> str:
    """``text`` without raw completion's leading debris: a run of digits and marks, a token holding a digit or a file
    mark, a stray lowercase letter other than "a" and "i" ("1502384974 The Most …" → "The Most …", "d8.jpg An …" →
    "An …"). A small model continuing its memory as raw text writes what scraped web text holds."""
    return _DEBRIS.sub("", text)


def attempt_listener(attempt: int, settling: Settles, on_token: TokenListener | None,
                     on_settled: SettledListener | None) -> Callable[[str], None] | None:
    """An engine's text listener for one attempt: each piece goes to ``on_token`` with the attempt's number and to
    ``settling``, and what that settles to ``on_settled``; ``None`` when nobody listens (the attempt's reply is then
    settled from its whole text, to the same result)."""
    if on_token is None and on_settled is None:
        return None

    def hear(piece: str) -> None:
        if on_token is not None:
            on_token(piece, attempt)
        settled = settling.add(piece)
        if settled and on_settled is not None:
            on_settled(settled)

    return hear


class Reply(Protocol):
    """Every organism's reply has its text, the dissonance it measured, and JSON-ready details."""

    @property
    def text(self) -> str: ...

    @property
    def dissonance(self) -> float: ...

    def details(self) -> dict[str, Any]:
        """Everything else the reply knows (form, temperature, seed, provenance …), as plain JSON values."""
        ...


class Organism(Protocol):
    @property
    def name(self) -> str: ...

    async def respond(self, stimulus: Stimulus) -> Reply:
        """One whole turn of the organism under its own field lock; its field is unchanged if this raises."""
        ...

    async def hear(self, text: str, source: str, ledger: RowLedger | None = None) -> None:
        """Take ``text`` into the organism's memory as its own (one atomic operation on its field); ``ledger`` is
        told the row it wrote."""
        ...


class OrganismClass(Protocol):
    """What the registry finds for each organism: a class that loads its engine and builds the organism."""

    async def prepare(self, engines: SharedEngines, config: Config) -> object:
        """Load (once per process, through ``engines``) what the organism computes with."""
        ...

    async def build(self, field: Field, engines: SharedEngines, config: Config) -> Organism:
        """The organism on ``field``, with its engine from ``engines``."""
        ...


class FieldOrganism:
    """What every organism does alike: it keeps its field (for its own turns; the hub never touches it) and hears
    the hub's reverse wave as one atomic ingest of its own."""

    name: str
    _field: Field

    @property
    def field(self) -> Field:
        return self._field

    async def hear(self, text: str, source: str, ledger: RowLedger | None = None) -> None:
        """The organism protocol: ``text`` joins the organism's own texts."""
        await self._field.ingest(text, source=source, ledger=ledger)


class LLMOrganism(FieldOrganism):
    """An organism that speaks through the process's shared LLM engine of its role (``name``: Prose, Artist), in one
    ``mode`` ("completion": the model continues a text; "chat": it answers messages), with a timeout per answer,
    listening with the shared memory."""

    def __init__(self, field: Field, engine: LLMEngine, memory: Memory, *, timeout_s: float,
                 mode: str = "completion") -> None:
        if mode not in LLM_MODES:
            raise ValueError(f"mode must be one of {LLM_MODES}, got {mode!r}")
        self._field, self._engine, self._memory = field, engine, memory
        self._timeout_s, self._mode = timeout_s, mode

    async def _continue(self, given: str, first: str, sampling: Sampling,
                        listener: Callable[[str], None] | None) -> Generation:
        """Completion mode's answer: the model continues ``given``, which ends on ``first``, the word what it writes
        opens on (Prose's paragraph, Artist's lines); ``first`` is streamed before the model's text and stands at the
        start of the returned text."""
        if first and listener is not None:
            listener(first)
        generation = await self._engine.complete(given, sampling, timeout=self._timeout_s, on_text=listener)
        return dataclasses.replace(generation, text=first + generation.text)

    @classmethod
    async def prepare(cls, engines: SharedEngines, config: Config) -> tuple[LLMEngine, Memory]:
        """The LLM engine of this organism's role (one engine for both roles when they use the same model or
        server) and the memory, each opened once per process."""
        return await engines.llm(cls.name), await Memory.shared(engines)

    @classmethod
    async def build(cls, field: Field, engines: SharedEngines, config: Config) -> Self:
        """The organism on ``field``, with the shared LLM engine of its role, in the configured mode."""
        engine, memory = await cls.prepare(engines, config)
        return cls(field, engine, memory, timeout_s=config.llm_timeout_s, mode=config.llm_mode)


def organism_class(name: str) -> OrganismClass:
    """The class of organism ``name`` (imported on first use); :class:`OrganismNotFound` for any other name."""
    if name not in _MODULES:
        raise OrganismNotFound(f"no organism {name!r}; the organisms are {', '.join(ORGANISMS)}")
    cls: OrganismClass = getattr(importlib.import_module(_MODULES[name]), _CLASSES[name])
    return cls


def plain(value: Any) -> Any:
    """``value`` as plain JSON values: dataclasses and mappings as objects, tuples as lists, paths as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def reply_details(reply: Any) -> dict[str, Any]:
    """A reply dataclass's fields but ``text``, as plain JSON values (the usual :meth:`Reply.details`)."""
    return {k: v for k, v in plain(reply).items() if k != "text"}
