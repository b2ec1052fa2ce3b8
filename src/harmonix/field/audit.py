"""Audit a field file: is it exactly the sum of whole operations?

A field is a crystal when every count in it can be recomputed from the texts and disturbances it holds. The audit
re-tokenizes every stored text and disturbance with the one tokenizer and compares, row by row:

- ``own`` trigram and word counts  == counts over all texts;
- ``heard`` trigram and word counts == counts over all disturbances;
- each row's ``tokens`` == its token count;
- ``PRAGMA integrity_check`` is "ok" and ``PRAGMA foreign_key_check`` finds nothing (no turn points at a text or
  disturbance that is not there).

A half-applied operation (a text row without its trigrams, trigrams without their text) or a lost update (two
increments of which one vanished) shows up as a violation. The audit reads in one transaction through its own
connection (it never writes; opening read-write lets SQLite recover the WAL a killed writer left behind), so it can
run beside live writers.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harmonix.text import tokenize, trigrams


@dataclass(frozen=True, slots=True)
class FieldAudit:
    """The audit's verdict. ``violations`` is empty for a sound field; each entry says what is wrong."""

    path: Path
    texts: int
    disturbances: int
    turns: int
    violations: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def _compare(kind: str, expected: Counter, stored: dict, limit: int = 5) -> list[str]:
    wrong = [key for key in expected.keys() | stored.keys() if expected.get(key, 0) != stored.get(key, 0)]
    wrong.sort(key=str)
    return [f"{kind} {key!r}: recomputed {expected.get(key, 0)}, stored {stored.get(key, 0)}" for key in wrong[:limit]] + (
        [f"... and {len(wrong) - limit} more {kind} mismatches"] if len(wrong) > limit else []
    )


def _audit_counts(conn: sqlite3.Connection, table: str, column: str) -> tuple[int, list[str]]:
    """Recompute the ``column`` ("own" or "heard") counts from the rows of ``table``; return (rows, violations)."""
    violations: list[str] = []
    trigram_counts: Counter = Counter()
    word_counts: Counter = Counter()
    rows = conn.execute(f"SELECT id, body, tokens FROM {table}").fetchall()
    for row_id, body, stored_tokens in rows:
        tokens = tokenize(body)
        if len(tokens) != stored_tokens:
            violations.append(f"{table} {row_id}: {len(tokens)} tokens, stored {stored_tokens}")
        trigram_counts.update(trigrams(tokens))
        word_counts.update(tokens)
    stored_trigrams = {
        (w1, w2, w3): n for w1, w2, w3, n in conn.execute(f"SELECT w1, w2, w3, {column} FROM trigrams WHERE {column} != 0")
    }
    stored_words = dict(conn.execute(f"SELECT word, {column} FROM words WHERE {column} != 0").fetchall())
    violations += _compare(f"{column} trigram", trigram_counts, stored_trigrams)
    violations += _compare(f"{column} word", word_counts, stored_words)
    return len(rows), violations


def audit_field(path: Path | str) -> FieldAudit:
    """Recompute the field at ``path`` from its texts and disturbances and list every disagreement."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no field file at {path}")
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        conn.execute("BEGIN")
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        violations = [f"integrity_check: {line}" for line in integrity if integrity != ["ok"]]
        violations += [f"foreign_key_check: {row}" for row in conn.execute("PRAGMA foreign_key_check")]
        texts, own_violations = _audit_counts(conn, "texts", "own")
        disturbances, heard_violations = _audit_counts(conn, "disturbances", "heard")
        turns = conn.execute("SELECT count(*) FROM turns").fetchone()[0]
        conn.execute("COMMIT")
    finally:
        conn.close()
    return FieldAudit(path=path, texts=texts, disturbances=disturbances, turns=turns,
                      violations=tuple(violations + own_violations + heard_violations))
