"""The SQLite home's runs (:mod:`harmonix.field.runs`): one file, ``HOME/runs.db``, beside the colonies, driven from a
thread of its own (one connection; each call one short transaction), with the field files' settings
(:func:`harmonix.field.sqlite.schema.connect`: WAL, so any process on the home reads while one writes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from harmonix.errors import RunNotFound
from harmonix.field.runs import RUNNING, RunEvent, RunRecord
from harmonix.field.sqlite.schema import connect

T = TypeVar("T")
RUNS_FILE = "runs.db"
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        colony TEXT NOT NULL,
        kind TEXT NOT NULL,
        owner TEXT,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        ended REAL,
        request TEXT NOT NULL,
        result TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS runs_by_colony ON runs (colony, status, created)",
    """CREATE TABLE IF NOT EXISTS run_events (
        run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run, seq)
    ) WITHOUT ROWID""",
)
_COLUMNS = ("id, colony, kind, owner, status, created, ended, request, result, cancel_requested, "
            "(SELECT count(*) FROM run_events WHERE run = runs.id)")


def _record(row: Sequence[Any]) -> RunRecord:
    return RunRecord(id=row[0], colony=row[1], kind=row[2], owner=row[3], status=row[4], created=row[5], ended=row[6],
                     request=json.loads(row[7]), result=None if row[8] is None else json.loads(row[8]),
                     cancel_requested=bool(row[9]), events=row[10])


class SqliteRunLog:
    """The runs of one SQLite home (module docstring). Open with ``async with SqliteRunLog.open(home)``."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._conn = conn
        self._executor = executor

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, home: Path, *, busy_timeout_s: float = 30.0) -> AsyncIterator[SqliteRunLog]:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harmonix-runs")
        loop = asyncio.get_running_loop()

        def prepare() -> sqlite3.Connection:
            conn = connect(home / RUNS_FILE, busy_timeout_s=busy_timeout_s, check_same_thread=False)
            for statement in SCHEMA:
                conn.execute(statement)
            return conn

        try:
            conn = await loop.run_in_executor(executor, prepare)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        try:
            yield cls(conn, executor)
        finally:
            await loop.run_in_executor(executor, conn.close)
            executor.shutdown(wait=False)

    async def _call(self, work: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """``work`` in one transaction on the log's thread: a write takes the file's write lock up front, a read
        only pins a snapshot (so readers never wait for, or hold up, another process's writes)."""
        def transaction() -> T:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
            try:
                result = work(self._conn)
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.execute("COMMIT")
            return result

        # Shielded: a call once queued runs to its end, so a cancelled caller never leaves a transaction open.
        return await asyncio.shield(asyncio.get_running_loop().run_in_executor(self._executor, transaction))

    async def start(self, run: RunRecord) -> None:
        await self._call(lambda conn: conn.execute(
            "INSERT INTO runs (id, colony, kind, owner, status, created, updated, request)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run.id, run.colony, run.kind, run.owner, RUNNING, run.created, run.created, json.dumps(run.request))))

    async def append(self, run_id: str, events: Sequence[RunEvent]) -> None:
        rows = [(run_id, *event.encoded()) for event in events]
        now = time.time()

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT INTO run_events (run, seq, name, data) VALUES (?, ?, ?, ?)", rows)
            conn.execute("UPDATE runs SET updated = ? WHERE id = ?", (now, run_id))

        await self._call(write)

    async def end(self, run_id: str, status: str, result: dict[str, Any] | None, ended: float) -> None:
        await self._call(lambda conn: conn.execute(
            "UPDATE runs SET status = ?, result = ?, ended = ?, updated = ? WHERE id = ?",
            (status, None if result is None else json.dumps(result, ensure_ascii=False), ended, ended, run_id)))

    async def get(self, run_id: str) -> RunRecord:
        row = await self._call(lambda conn: conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?",
                                                         (run_id,)).fetchone(), write=False)
        if row is None:
            raise RunNotFound(f"no run {run_id!r}")
        return _record(row)

    async def events(self, run_id: str, after: int = 0, limit: int = 1000) -> list[RunEvent]:
        rows = await self._call(lambda conn: conn.execute(
            "SELECT seq, name, data FROM run_events WHERE run = ? AND seq > ? ORDER BY seq LIMIT ?",
            (run_id, after, limit)).fetchall(), write=False)
        return [RunEvent(seq, name, json.loads(data)) for seq, name, data in rows]

    async def running(self, colony: str, fresh_within_s: float) -> list[RunRecord]:
        since = time.time() - fresh_within_s
        rows = await self._call(lambda conn: conn.execute(
            f"SELECT {_COLUMNS} FROM runs WHERE colony = ? AND status = ? AND updated >= ? ORDER BY created",
            (colony, RUNNING, since)).fetchall(), write=False)
        return [_record(row) for row in rows]

    async def request_cancel(self, run_id: str) -> None:
        await self._call(lambda conn: conn.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run_id,)))

    async def prune(self, ended_before: float) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM run_events WHERE run IN (SELECT id FROM runs WHERE ended < ?)", (ended_before,))
            return conn.execute("DELETE FROM runs WHERE ended < ?", (ended_before,)).rowcount

        return await self._call(prune)

    async def forget_colony(self, colony: str) -> None:
        """Remove every run of a colony (the colony is being removed)."""
        def forget(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM run_events WHERE run IN (SELECT id FROM runs WHERE colony = ?)", (colony,))
            conn.execute("DELETE FROM runs WHERE colony = ?", (colony,))

        await self._call(forget)
