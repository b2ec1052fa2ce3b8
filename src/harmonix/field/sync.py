"""A field driven synchronously from threads: the same schema, steps and transactions as :class:`Field`.

It exists for the sync arms of the lock-isolation experiment (:mod:`harmonix.experiments.lock_isolation`), so
that the only differences between its four arms are the execution model (threads or asyncio tasks) and the guard
(a ``threading.Lock`` here, an ``asyncio.Lock`` in :class:`Field`). With ``lock=True`` each turn holds the lock from
its first step to its commit, exactly as :meth:`Field.turn` does; with ``lock=False`` threads share the one
connection unguarded. Organisms never use it.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from harmonix.field.field import disturbance_step, snapshot_step, text_step, turn_step
from harmonix.field.model import (
    SELF_SOURCE,
    USER_SOURCE,
    FieldSnapshot,
    IngestReceipt,
    JSONValue,
    SnapshotSpec,
    TurnRecord,
    WrinkleReceipt,
)
from harmonix.field.sqlite import SyncSqliteStore
from harmonix.field.steps import Begin, Commit, Rollback, Step


class SyncField:
    """Open with ``with SyncField.open(path, name, lock=True) as field:``; a turn is ``with field.turn() as t:``."""

    def __init__(self, store: SyncSqliteStore, *, lock: bool) -> None:
        self._store = store
        self._lock: threading.Lock | None = threading.Lock() if lock else None

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, name: str, *, lock: bool) -> Iterator[SyncField]:
        store = SyncSqliteStore.open(path, name)
        try:
            yield cls(store, lock=lock)
        finally:
            store.close()

    @contextlib.contextmanager
    def turn(self) -> Iterator[SyncTurn]:
        """A whole turn as one transaction, under the lock if there is one; rolled back on any exception."""
        with self._lock if self._lock is not None else contextlib.nullcontext():
            turn = SyncTurn(self._store)
            try:
                yield turn
            except BaseException:
                self._store.run([Rollback()])
                raise
            else:
                if turn.began:
                    self._store.run([Commit()])


class SyncTurn:
    """The steps of one turn, synchronously (the twin of :class:`harmonix.field.Turn`)."""

    def __init__(self, store: SyncSqliteStore) -> None:
        self._store = store
        self.began = False
        self._started = time.perf_counter()
        self._disturbance_id: int | None = None
        self._text_id: int | None = None
        self._seen_turns: int | None = None

    def _run(self, steps: list[Step]) -> list[object]:
        if self.began:
            return self._store.run(steps)
        self.began = True
        return self._store.run([Begin(write=True), *steps])[1:]

    def wrinkle(self, text: str, source: str = USER_SOURCE) -> WrinkleReceipt:
        step = disturbance_step(text, source, time.time())
        (self._disturbance_id,) = self._run([step])
        return WrinkleReceipt(self._disturbance_id, step.tokens, sum(n for _, n in step.trigrams))

    def snapshot(self, rng: random.Random, spec: SnapshotSpec = SnapshotSpec()) -> FieldSnapshot:
        (snapshot,) = self._run([snapshot_step(rng, spec)])
        self._seen_turns = snapshot.counts.turns
        return snapshot

    def ingest(self, text: str, source: str = SELF_SOURCE, **meta: JSONValue) -> IngestReceipt:
        step = text_step(text, source, meta, time.time())
        (text_id,) = self._run([step])
        if source == SELF_SOURCE:
            self._text_id = text_id
        return IngestReceipt(text_id, step.tokens, sum(n for _, n in step.trigrams))

    def record(self, *, dissonance: float | None = None, temperature: float | None = None,
               **metrics: JSONValue) -> int:
        record = TurnRecord(disturbance_id=self._disturbance_id, text_id=self._text_id, seen_turns=self._seen_turns,
                            dissonance=dissonance, temperature=temperature,
                            duration_ms=(time.perf_counter() - self._started) * 1000.0, metrics=metrics)
        (turn_id,) = self._run([turn_step(record, time.time())])
        return turn_id
