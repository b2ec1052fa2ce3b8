"""Audit a field: is it exactly the sum of whole operations?

A field is a crystal when every count in it can be recomputed from the texts and disturbances it holds. The audit
reads every row in one read transaction (:class:`~harmonix.field.model.FieldDump`), re-tokenizes every stored text and
disturbance with the one tokenizer and compares, row by row:

- ``own`` trigram and word counts  == counts over all texts;
- ``heard`` trigram and word counts == counts over all disturbances;
- each row's ``tokens`` == its token count;
- every turn points at a text and a disturbance that exist (or at none);
- the backend's own checks pass (SQLite: ``PRAGMA integrity_check`` and ``foreign_key_check``).

A half-applied operation (a text row without its trigrams, trigrams without their text) or a lost update (two
increments of which one vanished) shows up as a violation. The audit never writes and never takes the field's
lock, so it can run beside live writers in any process, on any backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from harmonix.field.model import FieldDump
from harmonix.field.steps import Begin, CheckIntegrity, Commit, ReadDump
from harmonix.field.store import Store
from harmonix.text import tokenize, trigrams

MISMATCHES_SHOWN = 5


@dataclass(frozen=True, slots=True)
class FieldAudit:
    """The audit's verdict. ``violations`` is empty for a sound field; each entry says what is wrong."""

    name: str
    colony: str
    location: str
    texts: int
    disturbances: int
    turns: int
    violations: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


Key = TypeVar("Key", bound=Hashable)


def _compare(kind: str, expected: Mapping[Key, int], stored: Mapping[Key, int]) -> list[str]:
    wrong = sorted((key for key in expected.keys() | stored.keys() if expected.get(key, 0) != stored.get(key, 0)),
                   key=str)
    shown = [f"{kind} {key!r}: recomputed {expected.get(key, 0)}, stored {stored.get(key, 0)}"
             for key in wrong[:MISMATCHES_SHOWN]]
    return shown + ([f"... and {len(wrong) - MISMATCHES_SHOWN} more {kind} mismatches"]
                    if len(wrong) > MISMATCHES_SHOWN else [])


def _recount(kind: str, rows: Iterable[tuple[int, str, int]], column: str,
             stored_trigrams: Mapping[tuple[str, str, str], int], stored_words: Mapping[str, int]) -> list[str]:
    """Recompute the ``column`` ("own" or "heard") counts from ``rows`` of (id, body, tokens)."""
    violations: list[str] = []
    trigram_counts: Counter[tuple[str, str, str]] = Counter()
    word_counts: Counter[str] = Counter()
    for row_id, body, stored_tokens in rows:
        tokens = tokenize(body)
        if len(tokens) != stored_tokens:
            violations.append(f"{kind} {row_id}: {len(tokens)} tokens, stored {stored_tokens}")
        trigram_counts.update(trigrams(tokens))
        word_counts.update(tokens)
    return (violations + _compare(f"{column} trigram", trigram_counts, stored_trigrams)
            + _compare(f"{column} word", word_counts, stored_words))


def dump_violations(dump: FieldDump) -> list[str]:
    """Every way the rows of ``dump`` disagree with each other (module docstring), backend checks aside."""
    own_trigrams = {(w1, w2, w3): own for w1, w2, w3, own, _ in dump.trigrams if own}
    heard_trigrams = {(w1, w2, w3): heard for w1, w2, w3, _, heard in dump.trigrams if heard}
    own_words = {word: own for word, own, _ in dump.words if own}
    heard_words = {word: heard for word, _, heard in dump.words if heard}
    violations = _recount("text", ((t[0], t[2], t[4]) for t in dump.texts), "own", own_trigrams, own_words)
    violations += _recount("disturbance", ((d[0], d[2], d[4]) for d in dump.disturbances), "heard",
                           heard_trigrams, heard_words)
    text_ids = {t[0] for t in dump.texts}
    disturbance_ids = {d[0] for d in dump.disturbances}
    for turn in dump.turns:
        turn_id, disturbance_id, text_id = turn[0], turn[2], turn[3]
        if disturbance_id is not None and disturbance_id not in disturbance_ids:
            violations.append(f"turn {turn_id}: no disturbance {disturbance_id}")
        if text_id is not None and text_id not in text_ids:
            violations.append(f"turn {turn_id}: no text {text_id}")
    return violations


async def audit_field(store: Store, colony: str, name: str) -> FieldAudit:
    """Recompute field ``name`` of ``colony`` from its texts and disturbances and list every disagreement.
    Raises :class:`~harmonix.errors.FieldNotFound` for a field that does not exist (it is never created)."""
    field_store = await store.open_field(colony, name, create=False)
    try:
        _, dump, integrity, _ = await field_store.run([Begin(write=False), ReadDump(), CheckIntegrity(), Commit()])
    finally:
        await field_store.close()
    assert isinstance(dump, FieldDump) and isinstance(integrity, list)
    return FieldAudit(name=name, colony=colony, location=field_store.location, texts=len(dump.texts),
                      disturbances=len(dump.disturbances), turns=len(dump.turns),
                      violations=tuple(integrity + dump_violations(dump)))
