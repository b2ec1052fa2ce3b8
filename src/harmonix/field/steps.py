"""The vocabulary between a :class:`~harmonix.field.Field` and its storage backend.

A field operation is a short list of *steps* (plain data) that the backend executes in order, in one round trip::

    [Begin(write=True), AddText(...), Commit()]

Why data and not method calls: one round trip per operation is what makes the discipline cheap (a thread hop costs
~50-100 µs; an operation issuing one await per statement pays it five times), and a backend only has to interpret
these few steps to host a field: SQLite now, PostgreSQL later, without touching the organisms or the lock discipline.

Contract every backend keeps (tested in ``tests/test_field_*.py``):

- steps run strictly in the order given, and run calls execute in the order they were made;
- if a step fails, an open transaction is rolled back before the error propagates;
- if the awaiting task is cancelled before a step starts, that step and the rest never run and an open transaction
  is rolled back (:class:`~harmonix.errors.OperationAbandoned`); a ``Commit`` that already began completes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harmonix.field.model import SnapshotSpec
from harmonix.text import Trigram

TrigramDelta = tuple[Trigram, int]
WordDelta = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Begin:
    """Open a transaction. ``write=True`` takes the write lock up front (SQLite ``BEGIN IMMEDIATE``), so a
    read-then-write transaction can never fail half-way on lock upgrade; ``write=False`` pins a read snapshot."""

    write: bool


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit the open transaction."""


@dataclass(frozen=True, slots=True)
class Rollback:
    """Roll back the open transaction; a no-op when none is open."""


@dataclass(frozen=True, slots=True)
class AddText:
    """Store one text and add its trigram and word counts to the *own* columns. Result: the new text id."""

    source: str
    body: str
    created: float
    tokens: int
    meta_json: str
    trigrams: Sequence[TrigramDelta]
    words: Sequence[WordDelta]


@dataclass(frozen=True, slots=True)
class AddDisturbance:
    """Store one disturbance and add its trigram and word counts to the *heard* columns. Result: its id."""

    source: str
    body: str
    created: float
    tokens: int
    trigrams: Sequence[TrigramDelta]
    words: Sequence[WordDelta]


@dataclass(frozen=True, slots=True)
class AddTurn:
    """Store one turn's metrics row. Result: the turn id."""

    created: float
    disturbance_id: int | None
    text_id: int | None
    seen_turns: int | None
    dissonance: float | None
    temperature: float | None
    duration_ms: float | None
    metrics_json: str


@dataclass(frozen=True, slots=True)
class PutState:
    """Set one key of the organism's persistent state to a JSON document. Result: ``None``."""

    key: str
    value_json: str


@dataclass(frozen=True, slots=True)
class ReadSnapshot:
    """Read a :class:`~harmonix.field.model.FieldSnapshot`. ``random_seed`` chooses the random texts, so the caller's
    RNG decides them. ``spoken_source`` names the organism's own voice (for ``last_spoken``)."""

    spec: SnapshotSpec
    random_seed: int
    spoken_source: str


@dataclass(frozen=True, slots=True)
class ReadCounts:
    """Read :class:`~harmonix.field.model.FieldCounts`."""


Step = Begin | Commit | Rollback | AddText | AddDisturbance | AddTurn | PutState | ReadSnapshot | ReadCounts


class FieldStore(Protocol):
    """A storage backend hosting one field. Created open by the backend's own ``open``; closed by :meth:`close`."""

    @property
    def path(self) -> Path:
        """Where the field lives (a file for SQLite)."""
        ...

    @property
    def schema_version(self) -> int:
        """The schema version the backend migrated the field to."""
        ...

    async def run(self, steps: Sequence[Step]) -> list[object]:
        """Execute ``steps`` in order, in one round trip, and return one result per step."""
        ...

    async def close(self) -> None:
        """Roll back anything open and release the backend's resources."""
        ...
