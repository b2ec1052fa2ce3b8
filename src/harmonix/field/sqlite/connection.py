"""One field's SQLite connection and the thread it lives on: the :class:`~harmonix.field.steps.FieldStore` of one
field file.

**One field** (docs/architecture.md, "The field discipline"; Datasette's ``execute_write_fn``): the connection lives
on a dedicated thread, and every :meth:`SqliteFieldStore.run` ships a whole list of steps there as one function
call. An operation therefore costs one thread hop however many statements it runs (aiosqlite costs one hop *per
statement*; ``harmonix bench field`` measures both). The thread is also the only place the connection is touched,
so SQLite never sees two threads on it. :class:`SyncSqliteStore` drives the same file synchronously from the
caller's threads, for the lock-isolation experiment's thread arms (:mod:`harmonix.lab.sync_field`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harmonix.errors import FieldBusy, StoreUnavailable
from harmonix.field.sqlite.schema import connect, migrate
from harmonix.field.sqlite.steps import StepExecutor, is_busy
from harmonix.field.steps import Step


def _open_connection(path: Path, name: str, busy_timeout_s: float, shared: bool) -> tuple[sqlite3.Connection, int]:
    """Connect and migrate; ``shared=True`` lets several threads use the connection (SyncSqliteStore)."""
    try:
        conn = connect(path, busy_timeout_s=busy_timeout_s, check_same_thread=not shared)
    except sqlite3.OperationalError as error:
        raise StoreUnavailable(f"cannot open field file {path}: {error}") from error
    try:
        return conn, migrate(conn, name)
    except sqlite3.OperationalError as error:
        conn.close()
        if is_busy(error):
            raise FieldBusy(f"field {name}: another process held it past the lock timeout ({error})") from error
        raise StoreUnavailable(f"cannot use field file {path}: {error}") from error
    except BaseException:
        conn.close()
        raise


class SqliteFieldStore:
    """A field in one SQLite file, driven from one dedicated thread. Opened by
    :meth:`~harmonix.field.sqlite.store.SqliteStore.open_field`."""

    def __init__(self, path: Path, executor: ThreadPoolExecutor, steps: StepExecutor, *, schema_version: int) -> None:
        self._path = path
        self._executor = executor
        self._steps = steps
        self._schema_version = schema_version

    @classmethod
    async def open(cls, path: Path, name: str, *, busy_timeout_s: float = 30.0,
                   transactions: bool = True) -> SqliteFieldStore:
        """Open (creating and migrating if needed) the field file ``path`` for field ``name``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"harmonix-field-{name}")
        loop = asyncio.get_running_loop()
        try:
            conn, version = await loop.run_in_executor(executor, _open_connection, path, name, busy_timeout_s, False)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, executor, StepExecutor(conn, name, transactions=transactions), schema_version=version)

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def schema_version(self) -> int:
        return self._schema_version

    @property
    def steps_started(self) -> int:
        return self._steps.steps_started

    async def run(self, steps: Sequence[Step]) -> list[object]:
        """Execute ``steps`` on the database thread in one hop (contract: :mod:`harmonix.field.steps`)."""
        abandoned = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._steps.execute, steps, abandoned)
        try:
            return await future
        except asyncio.CancelledError:
            abandoned.set()
            raise

    async def size_bytes(self) -> int:
        return await asyncio.to_thread(_file_bytes, self._path)

    async def close(self) -> None:
        """Roll back anything left open, close the connection and stop the thread (after queued work finishes)."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, _close, self._steps.conn)
        finally:
            self._executor.shutdown(wait=False)


class SyncSqliteStore:
    """The same field file driven synchronously, from whatever thread calls :meth:`run` (one shared connection).

    Nothing here serialises callers: that is the guard's job (:class:`harmonix.lab.sync_field.SyncField`)."""

    def __init__(self, path: Path, steps: StepExecutor) -> None:
        self.path = path
        self._steps = steps

    @classmethod
    def open(cls, path: Path, name: str, *, busy_timeout_s: float = 30.0, transactions: bool = True) -> SyncSqliteStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn, _ = _open_connection(path, name, busy_timeout_s, True)
        return cls(path, StepExecutor(conn, name, transactions=transactions))

    def run(self, steps: Sequence[Step]) -> list[object]:
        return self._steps.execute(steps, threading.Event())

    def close(self) -> None:
        _close(self._steps.conn)


def _close(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.rollback()
    finally:
        conn.close()


def _file_bytes(path: Path) -> int:
    """A field file's size with its write-ahead log."""
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


