"""What a field holds and returns, as immutable values.

A field's reads come back as frozen dataclasses built inside one read transaction, so a generator works from a
consistent picture of the field that no later write can change under it.

Vocabulary:

- *text*: something the organism itself holds as its own: what it said (``source="self"``), its bootstrap corpus,
  a reflection, the hub's meta sentence. Texts feed the *own* trigram and word counts.
- *disturbance*: what a user said to it. Its trigrams and words are counted as *heard*, never as own text, so the
  user's words can shape the field's weights without ever being quoted back as the organism's memory.
- *turn*: one organism turn's metrics row, linked to the disturbance it answered and the text it produced.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harmonix.text import Trigram

SELF_SOURCE = "self"
USER_SOURCE = "user"

JSONValue = Any
"""A value ``json.dumps`` accepts without a custom encoder (dicts with str keys, lists, str, int, float, bool, None)."""


def frozen_mapping(values: Mapping[str, JSONValue] | None = None) -> Mapping[str, JSONValue]:
    """A read-only view of a copy of ``values``: snapshots must not be mutable by their readers."""
    return types.MappingProxyType(dict(values or {}))


@dataclass(frozen=True, slots=True)
class TextRow:
    """One text of the field: ``id`` increases with insertion order."""

    id: int
    source: str
    body: str
    created: float
    meta: Mapping[str, JSONValue] = field(default_factory=frozen_mapping)


@dataclass(frozen=True, slots=True)
class Disturbance:
    """One thing a user said to the organism (a wrinkle)."""

    id: int
    source: str
    body: str
    created: float


@dataclass(frozen=True, slots=True)
class OwnHeard:
    """How often the field met an entry in its own texts (``own``) and in disturbances (``heard``)."""

    own: int
    heard: int

    @property
    def count(self) -> int:
        """``own + heard``."""
        return self.own + self.heard


@dataclass(frozen=True, slots=True)
class TrigramCount(OwnHeard):
    """A trigram with its own and heard counts."""

    words: Trigram


@dataclass(frozen=True, slots=True)
class WordCount(OwnHeard):
    """A word with its own and heard counts."""

    word: str


@dataclass(frozen=True, slots=True)
class FieldCounts:
    """Sizes of a field, read in one transaction.

    ``*_trigrams`` and ``*_words`` are token totals (sums of counts); ``trigram_types`` and ``word_types`` are the
    number of distinct entries. ``last_turn`` is the highest turn id the field holds (0 when none): equal to
    ``turns`` until the field forgets its oldest turns (:mod:`harmonix.field.retention`), and from then on larger.
    """

    texts: int
    disturbances: int
    turns: int
    trigram_types: int
    own_trigrams: int
    heard_trigrams: int
    word_types: int
    own_words: int
    heard_words: int
    last_turn: int


@dataclass(frozen=True, slots=True)
class Forgotten:
    """How many rows one :class:`~harmonix.field.steps.Forget` step removed from each table."""

    texts: int
    disturbances: int
    turns: int


@dataclass(frozen=True, slots=True)
class WrittenRows:
    """The ids of the rows one or more committed operations wrote into one field."""

    texts: tuple[int, ...] = ()
    disturbances: tuple[int, ...] = ()
    turns: tuple[int, ...] = ()

    def __add__(self, other: WrittenRows) -> WrittenRows:
        return WrittenRows(self.texts + other.texts, self.disturbances + other.disturbances,
                           self.turns + other.turns)

    def document(self) -> dict[str, list[int]]:
        return {"texts": list(self.texts), "disturbances": list(self.disturbances), "turns": list(self.turns)}

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> WrittenRows:
        """Read back :meth:`document` (a missing table: no rows)."""
        return cls(*(tuple(int(row_id) for row_id in document.get(table) or ())
                     for table in ("texts", "disturbances", "turns")))


class RowLedger:
    """What a breath wrote, field by field: every committed turn and operation given the ledger adds the ids of its
    rows (:meth:`~harmonix.field.field.Field.turn`, :meth:`~harmonix.field.field.Field.ingest`), so the breath can
    later be forgotten row by row. A rolled-back turn adds nothing."""

    def __init__(self) -> None:
        self._rows: dict[str, WrittenRows] = {}

    def add(self, field: str, rows: WrittenRows) -> None:
        self._rows[field] = self._rows.get(field, WrittenRows()) + rows

    def rows(self) -> dict[str, WrittenRows]:
        return dict(self._rows)


@dataclass(frozen=True, slots=True)
class SnapshotSpec:
    """How much of the field a snapshot carries. ``None`` means everything (use with care on large fields).

    ``trigrams`` are the most frequent by ``own + heard`` (ties broken alphabetically); ``words`` likewise, among
    the words met at least ``word_floor`` times; ``random`` texts are drawn uniformly without replacement with the
    caller's RNG; ``lookup`` names words whose counts the snapshot must carry whatever their rank.
    """

    recent: int = 8
    random: int = 4
    trigrams: int | None = 256
    words: int | None = 0
    disturbances: int = 4
    word_floor: int = 0
    lookup: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("recent", "random", "trigrams", "words", "disturbances", "word_floor"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"SnapshotSpec.{name} must be a non-negative int or None, got {value!r}")
        if not isinstance(self.lookup, tuple) or not all(isinstance(word, str) for word in self.lookup):
            raise ValueError("SnapshotSpec.lookup must be a tuple of words")


@dataclass(frozen=True, slots=True)
class FieldSnapshot:
    """Everything a generator needs from a field, read in one transaction and immutable afterwards.

    - ``recent``: the newest texts, newest first.
    - ``random``: texts drawn uniformly at random (seeded by the caller's RNG), oldest first.
    - ``trigrams`` / ``words``: the most frequent entries, most frequent first.
    - ``disturbances``: the newest disturbances, newest first.
    - ``last_spoken``: the organism's previous output (newest text with ``source="self"``), for dissonance.
    - ``state``: the organism's small persistent state (e.g. Sonnet's phase), keyed by name.
    - ``lookup``: the counts of the words the spec asked for (zero counts for words the field never met).
    """

    name: str
    recent: tuple[TextRow, ...]
    random: tuple[TextRow, ...]
    trigrams: tuple[TrigramCount, ...]
    words: tuple[WordCount, ...]
    disturbances: tuple[Disturbance, ...]
    last_spoken: TextRow | None
    counts: FieldCounts
    state: Mapping[str, JSONValue]
    lookup: Mapping[str, WordCount] = field(default_factory=frozen_mapping)


@dataclass(frozen=True, slots=True)
class IngestReceipt:
    """What one ingest stored: the new text's id and how many tokens and trigrams it counted."""

    text_id: int
    tokens: int
    trigrams: int


@dataclass(frozen=True, slots=True)
class WrinkleReceipt:
    """What one wrinkle stored: the disturbance's id and how many tokens and trigrams were counted as heard."""

    disturbance_id: int
    tokens: int
    trigrams: int


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One turn's metrics row.

    ``seen_turns`` is the highest turn id the field held when the turn read its snapshot
    (:attr:`FieldCounts.last_turn`): in a field whose turns are strictly sequential, turn ``n`` saw exactly
    ``n - 1``, whether or not the field has forgotten its oldest turns.
    """

    disturbance_id: int | None = None
    text_id: int | None = None
    seen_turns: int | None = None
    dissonance: float | None = None
    temperature: float | None = None
    duration_ms: float | None = None
    metrics: Mapping[str, JSONValue] = field(default_factory=frozen_mapping)


@dataclass(frozen=True, slots=True)
class TurnView:
    """One recorded turn as a reader sees it, read in one transaction with what it links to: the disturbance it
    answered, its own text, and the texts its metrics name under ``"texts"`` (a mapping of name to text id, as the
    hub records each breath's stage texts)."""

    id: int
    created: float
    seen_turns: int | None
    dissonance: float | None
    temperature: float | None
    duration_ms: float | None
    metrics: Mapping[str, JSONValue]
    disturbance: str | None
    text: str | None
    texts: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class FieldStats:
    """A field's identity and sizes, for ``harmonix stats`` and the tests."""

    name: str
    colony: str
    location: str
    schema_version: int
    counts: FieldCounts
    size_bytes: int


TextTuple = tuple[int, str, str, float, int, str]
"""(id, source, body, created, tokens, meta JSON)"""
DisturbanceTuple = tuple[int, str, str, float, int]
"""(id, source, body, created, tokens)"""
TurnTuple = tuple[int, float, int | None, int | None, int | None, float | None, float | None, float | None, str]
"""(id, created, disturbance_id, text_id, seen_turns, dissonance, temperature, duration_ms, metrics JSON)"""
TrigramTuple = tuple[str, str, str, int, int]
"""(w1, w2, w3, own, heard)"""
WordTuple = tuple[str, int, int]
"""(word, own, heard)"""


@dataclass(frozen=True, slots=True)
class FieldDump:
    """Every row of a field, read in one transaction: what export, fork, migration and the audit work from.

    Texts, disturbances and turns are ordered by id; trigrams, words and state by their key (code point order).
    Two fields hold the same memory exactly when their dumps are equal (``name`` aside)."""

    name: str
    texts: tuple[TextTuple, ...]
    disturbances: tuple[DisturbanceTuple, ...]
    turns: tuple[TurnTuple, ...]
    trigrams: tuple[TrigramTuple, ...]
    words: tuple[WordTuple, ...]
    state: tuple[tuple[str, str], ...]

    def rows(self) -> dict[str, tuple[tuple[object, ...], ...]]:
        """The rows by table name (everything but the name)."""
        return {"texts": self.texts, "disturbances": self.disturbances, "turns": self.turns,
                "trigrams": self.trigrams, "words": self.words, "state": self.state}


@dataclass(frozen=True, slots=True)
class ColonyInfo:
    """A colony: one conversation's memory, an independent set of fields.

    ``owner`` is an opaque id of whoever created it (the server stores a hash of the API key, never the key);
    ``forked_from`` names the colony it was copied from, if any; ``created`` is a Unix time."""

    name: str
    created: float
    owner: str | None = None
    forked_from: str | None = None
