"""A field driven synchronously from threads: the same schema, steps and transactions as :class:`Field`.

It exists for the sync arms of the lock-isolation experiment (:mod:`harmonix.lab.experiments.lock_isolation`), so
that the only differences between its four arms are the execution model (threads or asyncio tasks) and the guard
(a ``threading.Lock`` here, an ``asyncio.Lock`` in :class:`Field`). With ``lock=True`` each turn holds the lock from
its first step to its commit, exactly as :meth:`Field.turn` does; with ``lock=False`` threads share the one
connection unguarded. Organisms never use it.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from pathlib import Path

from harmonix.field.field import Planned, Result, TurnBook
from harmonix.field.model import (
    SELF_SOURCE,
    USER_SOURCE,
    FieldSnapshot,
    IngestReceipt,
    JSONValue,
    SnapshotSpec,
    WrinkleReceipt,
)
from harmonix.field.sqlite.connection import SyncSqliteStore
from harmonix.field.steps import Commit, Rollback


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
    """The steps of one turn, run synchronously: the same :class:`~harmonix.field.field.TurnBook` as the async
    :class:`~harmonix.field.Turn`, run on the calling thread."""

    def __init__(self, store: SyncSqliteStore) -> None:
        self._store = store
        self._book = TurnBook()

    @property
    def began(self) -> bool:
        return self._book.began

    def _run(self, planned: Planned[Result]) -> Result:
        return planned.finish(self._store.run(self._book.opening(planned.step))[-1])

    def wrinkle(self, text: str, source: str = USER_SOURCE) -> WrinkleReceipt:
        return self._run(self._book.wrinkle(text, source))

    def snapshot(self, rng: random.Random, spec: SnapshotSpec = SnapshotSpec()) -> FieldSnapshot:
        return self._run(self._book.snapshot(rng, spec))

    def ingest(self, text: str, source: str = SELF_SOURCE, **meta: JSONValue) -> IngestReceipt:
        return self._run(self._book.ingest(text, source, meta))

    def record(self, *, dissonance: float | None = None, temperature: float | None = None,
               **metrics: JSONValue) -> int:
        return self._run(self._book.record(dissonance, temperature, metrics))
