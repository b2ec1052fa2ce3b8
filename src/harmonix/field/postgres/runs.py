"""A PostgreSQL store's runs (:mod:`harmonix.field.runs`): the ``runs`` and ``run_events`` tables of its schema
(:mod:`harmonix.field.postgres.schema`, version 2), each call one statement or one short transaction on a pooled
connection, so every server process on the database sees every run."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any, Protocol

from harmonix.errors import RunNotFound
from harmonix.field.postgres.schema import SCHEMA
from harmonix.field.postgres.steps import Connection
from harmonix.field.runs import RUNNING, RunEvent, RunRecord

S = SCHEMA
_COLUMNS = ("id, colony, kind, owner, status, created, ended, request::text, result::text, cancel_requested,"
            f" (SELECT count(*) FROM {S}.run_events WHERE run = runs.id)")


def _record(row: Sequence[Any]) -> RunRecord:
    return RunRecord(id=row[0], colony=row[1], kind=row[2], owner=row[3], status=row[4], created=row[5], ended=row[6],
                     request=json.loads(row[7]), result=None if row[8] is None else json.loads(row[8]),
                     cancel_requested=bool(row[9]), events=int(row[10]))


class Pool(Protocol):
    """What the run log needs of its store: a pooled connection for a block."""

    def connection(self) -> contextlib.AbstractAsyncContextManager[Connection]: ...


class PostgresRunLog:
    """The runs of one PostgreSQL store (module docstring)."""

    def __init__(self, store: Pool) -> None:
        self._store = store

    async def start(self, run: RunRecord) -> None:
        async with self._store.connection() as conn:
            await conn.execute(f"INSERT INTO {S}.runs (id, colony, kind, owner, status, created, updated, request)"
                               " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::json)",
                               (run.id, run.colony, run.kind, run.owner, RUNNING, run.created, run.created,
                                json.dumps(run.request)))

    async def append(self, run_id: str, events: Sequence[RunEvent]) -> None:
        rows = [(run_id, *event.encoded()) for event in events]
        async with self._store.connection() as conn, conn.transaction():
            if rows:
                async with conn.cursor() as cursor:
                    await cursor.executemany(f"INSERT INTO {S}.run_events (run, seq, name, data)"
                                             " VALUES (%s, %s, %s, %s::json)", rows)
            await conn.execute(f"UPDATE {S}.runs SET updated = %s WHERE id = %s", (time.time(), run_id))

    async def end(self, run_id: str, status: str, result: dict[str, Any] | None, ended: float) -> None:
        async with self._store.connection() as conn:
            await conn.execute(f"UPDATE {S}.runs SET status = %s, result = %s::json, ended = %s, updated = %s"
                               " WHERE id = %s",
                               (status, None if result is None else json.dumps(result, ensure_ascii=False), ended,
                                ended, run_id))

    async def get(self, run_id: str) -> RunRecord:
        async with self._store.connection() as conn:
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM {S}.runs WHERE id = %s", (run_id,))).fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r}")
        return _record(row)

    async def events(self, run_id: str, after: int = 0, limit: int = 1000) -> list[RunEvent]:
        async with self._store.connection() as conn:
            cursor = await conn.execute(f"SELECT seq, name, data::text FROM {S}.run_events WHERE run = %s AND seq > %s"
                                        " ORDER BY seq LIMIT %s", (run_id, after, limit))
            rows = await cursor.fetchall()
        return [RunEvent(int(seq), name, json.loads(data)) for seq, name, data in rows]

    async def running(self, colony: str, fresh_within_s: float) -> list[RunRecord]:
        async with self._store.connection() as conn:
            cursor = await conn.execute(f"SELECT {_COLUMNS} FROM {S}.runs WHERE colony = %s AND status = %s"
                                        " AND updated >= %s ORDER BY created",
                                        (colony, RUNNING, time.time() - fresh_within_s))
            rows = await cursor.fetchall()
        return [_record(row) for row in rows]

    async def request_cancel(self, run_id: str) -> None:
        async with self._store.connection() as conn:
            await conn.execute(f"UPDATE {S}.runs SET cancel_requested = true WHERE id = %s", (run_id,))

    async def prune(self, ended_before: float) -> int:
        async with self._store.connection() as conn:
            cursor = await conn.execute(f"DELETE FROM {S}.runs WHERE ended < %s", (ended_before,))
            return cursor.rowcount

    async def forget_colony(self, colony: str) -> None:
        """Nothing to do: removing the colony's row cascades to its runs."""
