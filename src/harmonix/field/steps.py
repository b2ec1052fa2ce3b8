"""The vocabulary between a :class:`~harmonix.field.Field` and its storage backend.

A field operation is a short list of *steps* (plain data) that the backend executes in order, in one round trip::

    [Begin(write=True), AddText(...), Commit()]

Why data and not method calls: one round trip per operation is what makes the discipline cheap (a thread hop costs
~50-100 µs; an operation issuing one await per statement pays it five times), and a backend only has to interpret
these few steps to host a field: SQLite now, PostgreSQL later, without touching the organisms or the lock discipline.

Contract every backend keeps (tested in ``tests/test_field_*.py``, which run on every backend):

- steps run strictly in the order given, and run calls execute in the order they were made;
- if a step fails, an open transaction is rolled back before the error propagates;
- if the awaiting task is cancelled before a step starts, that step and the rest never run and an open transaction
  is rolled back (:class:`~harmonix.errors.OperationAbandoned`); a ``Commit`` that already began completes;
- a write that waits for another process's write longer than the store's lock timeout fails with
  :class:`~harmonix.errors.FieldBusy`, its transaction rolled back;
- ids (texts, disturbances, turns) start at 1 and increase by one per row in commit order of a field that only grows;
  an id is never reused: a new row's id is one more than the highest id its table holds or ever held. Retention
  (:class:`Forget`) only ever removes a table's oldest rows and never all of them; removing chosen rows
  (:class:`RemoveRows`) records the highest id it removed from each table in the state key
  :data:`FORGOTTEN_IDS`, and new ids start above it.

**A snapshot is a function of the field's rows and the step's ``random_seed``** (so a seed reproduces an output on
any backend):

- ``recent``: the ``spec.recent`` texts of highest id, highest first;
- ``random``: ``offsets = sorted(random.Random(random_seed).sample(range(n_texts), min(spec.random, n_texts)))``
  with Python's ``random`` module; the texts at those offsets of the texts ordered by id;
- ``trigrams``: ordered by ``own + heard`` descending, then ``w1``, ``w2``, ``w3`` ascending by Unicode code point
  (SQLite's BINARY collation; PostgreSQL ``COLLATE "C"``), the first ``spec.trigrams``;
- ``words``: among words with ``own + heard >= spec.word_floor``, ordered by ``own + heard`` descending, then the word
  by code point, the first ``spec.words``;
- ``disturbances``: the ``spec.disturbances`` of highest id, highest first; ``last_spoken``: the text of highest id
  whose source is ``spoken_source``; ``lookup``: each asked word's counts (zero when absent); ``state``: every key.

A limit of ``None`` means no limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from harmonix.field.model import FieldDump, SnapshotSpec
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


@dataclass(frozen=True, slots=True)
class ReadTurns:
    """Read up to ``limit`` turns with ids below ``before`` (all when ``None``), newest first, as
    :class:`~harmonix.field.model.TurnView` (each with its disturbance's body, its own text's body and the bodies of
    the texts its metrics name under ``"texts"``)."""

    limit: int
    before: int | None = None


@dataclass(frozen=True, slots=True)
class ReadDump:
    """Read every row of the field: a :class:`~harmonix.field.model.FieldDump` (rows ordered as it documents)."""


@dataclass(frozen=True, slots=True)
class LoadDump:
    """Write every row of ``dump`` into this field, ids kept. The field must hold no text, disturbance or turn yet
    (else :class:`~harmonix.errors.FieldError`). Result: ``None``."""

    dump: FieldDump


@dataclass(frozen=True, slots=True)
class Forget:
    """Forget the oldest rows beyond the newest ``texts`` texts, ``disturbances`` disturbances and ``turns`` turns,
    and exactly the counts they had added (the contract is in :mod:`harmonix.field.retention`). Runs inside a write
    transaction, as its last step before the commit. Result: :class:`~harmonix.field.model.Forgotten`."""

    texts: int
    disturbances: int
    turns: int


@dataclass(frozen=True, slots=True)
class RemoveRows:
    """Remove the named texts, disturbances and turns and exactly the counts they had added, as retention does for
    the oldest rows (the contract in :mod:`harmonix.field.retention`; a turn's link to a removed text or
    disturbance becomes NULL); an id the field no longer holds is skipped, so removing twice is removing once. The
    highest id removed from each table goes into :data:`FORGOTTEN_IDS`, so it is never given again. Result:
    :class:`~harmonix.field.model.Forgotten` (the rows removed)."""

    texts: tuple[int, ...] = ()
    disturbances: tuple[int, ...] = ()
    turns: tuple[int, ...] = ()


FORGOTTEN_IDS = "forgotten-ids"
"""The state key under which a field keeps, per table, the highest id :class:`RemoveRows` removed
(``{"texts": n, "disturbances": n, "turns": n}``): new ids start above it."""


@dataclass(frozen=True, slots=True)
class CheckIntegrity:
    """The backend's own consistency checks (SQLite: ``integrity_check`` and ``foreign_key_check``). Result: a list
    of problems, empty when sound."""


Step = (Begin | Commit | Rollback | AddText | AddDisturbance | AddTurn | PutState | ReadSnapshot | ReadCounts
        | ReadTurns | ReadDump | LoadDump | Forget | RemoveRows | CheckIntegrity)


class FieldStore(Protocol):
    """A storage backend hosting one field. Created open by its :class:`~harmonix.field.store.Store`; closed by
    :meth:`close`."""

    @property
    def location(self) -> str:
        """Where the field lives, for people (a file for SQLite, a schema and key for PostgreSQL)."""
        ...

    @property
    def schema_version(self) -> int:
        """The schema version the backend migrated the field to."""
        ...

    @property
    def steps_started(self) -> int:
        """How many steps this backend has begun to execute since it opened (a step that waits, say for another
        process's write lock, has begun): for monitoring, and the signal a test waits on to cancel an operation
        inside the backend."""
        ...

    async def run(self, steps: Sequence[Step]) -> list[object]:
        """Execute ``steps`` in order, in one round trip, and return one result per step."""
        ...

    async def size_bytes(self) -> int:
        """How much storage the field takes (for SQLite, its file and write-ahead log)."""
        ...

    async def close(self) -> None:
        """Roll back anything open and release the backend's resources."""
        ...
