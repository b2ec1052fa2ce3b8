"""The PostgreSQL store: colonies of fields in one database, and the field discipline that runs their steps.

The layout (tables, migrations, the lock key) is in :mod:`harmonix.field.postgres.schema`, the SQL of each step in
:mod:`harmonix.field.postgres.steps`. This module runs the field discipline (docs/architecture.md, "The field
discipline") with them: transactions, the lock, connections, cancellation, and the colonies.

**One operation, one transaction; writes serialised per field across processes.** ``Begin(write=True)`` opens a
``READ COMMITTED`` transaction, bounds lock waits with ``SET LOCAL lock_timeout`` (the store's lock timeout) and takes
``pg_advisory_xact_lock`` on the field's 64-bit key (:func:`~harmonix.field.postgres.schema.field_lock_key`). The lock
is released by COMMIT or ROLLBACK, never left behind on a pooled connection, and when a client process dies its
connection closes and PostgreSQL releases it at once. Under READ COMMITTED every statement after the lock sees what
the previous holder committed (under REPEATABLE READ the snapshot would be fixed by the lock call itself, before
the wait, and a writer could miss the previous holder's rows). A wait past the timeout is SQLSTATE 55P03, raised as
:class:`~harmonix.errors.FieldBusy` with the transaction rolled back. ``Begin(write=False)`` opens a ``REPEATABLE
READ READ ONLY`` transaction: every statement of a snapshot reads the same committed state, so a snapshot is never
torn, and it takes no lock, so readers never wait for a turn that is generating.

**Two round trips per operation, or three.** The steps of one :meth:`PostgresFieldStore.run` go out in libpq's
pipeline mode: statements are queued without waiting, and the client waits only where it needs a result (a new
row's id, a snapshot's count of texts before it can draw its random offsets). ``[Begin, AddText, Commit]`` is two
round trips: the lock, the row and its counts, then the commit. Waiting for the row's id before queueing the
commit is deliberate: it is the moment a cancelled caller is noticed, so an operation cancelled while it waits for
the field's lock never commits (queueing the commit with the rest would save a round trip and lose that; the
cancellation tests caught it).

**Cancellation.** A task cancelled while its operation runs does not interrupt the statement in flight: the steps
run in a task of their own, which finishes the current step, runs no further step (:class:`OperationAbandoned`),
rolls the transaction back and returns the connection clean, exactly as the SQLite backend's database thread does.
A statement interrupted halfway would leave the connection unusable until someone drained it; this way no
connection is ever left in an unknown state, and the wait is bounded by the lock timeout. If the step task itself is
cancelled (the event loop shutting down), its connection is closed, not reused, and PostgreSQL rolls back.

**Connections.** A store holds one ``psycopg_pool.AsyncConnectionPool`` (``pool_size`` connections at most, in
autocommit mode: every transaction is explicit). A field holds a connection only while a transaction is open: an
operation, or a whole turn with its generation. Each connection sets ``idle_in_transaction_session_timeout``, so a
client that stops without closing its socket (a frozen process, a partitioned network) frees its lock after that
time; it must be longer than the longest turn. Waiting for a free connection longer than the lock timeout (at least
:data:`CONNECTION_WAIT_S`) is :class:`FieldBusy` too. Statements are not prepared on the server
(``prepare_threshold=None``): prepared statements break behind PgBouncer in transaction mode, and psycopg's
statement cache lost track of one here when a pipeline aborted on a lock timeout (the next use failed with
"prepared statement … does not exist").

**Why psycopg 3 and not asyncpg** (``harmonix bench field --database URL`` measures both, 300-word turns, the
same three statements in one transaction per ingest, over a Unix socket on this 2-core machine while other jobs
held it): asyncpg took 0.92-0.96 of psycopg's time in pipeline mode against a durable database (an fsync per
commit) and 0.77-0.99 without fsync; psycopg without a pipeline took 1.07-1.21. So on one machine asyncpg is up to
a fifth faster in client CPU. Harmonix still uses psycopg, for what counts beyond one machine: an operation is
two round trips in pipeline mode where asyncpg needs one per statement (five for an ingest), which against a
database across a network (0.2-1 ms each) outweighs the CPU; it is libpq, so every URL, service file and TLS
setting PostgreSQL documents works as documented; psycopg_pool 3.3 no longer loses connections when a task is
cancelled while taking one; and asyncpg's statement cache breaks behind PgBouncer in transaction mode unless
switched off.

**Errors.** A driver error becomes a Harmonix error (:func:`_translate`): a lock wait past the timeout
:class:`FieldBusy`; a disk that refuses the write (SQLSTATE 53100 ``disk_full``, 58030 ``io_error``)
:class:`FieldWriteFailed`, the transaction rolled back by the server, as SQLite's ``SQLITE_FULL`` is; a server
that cannot be reached :class:`StoreUnavailable`.

With ``transactions=False`` (for the tests and experiments that show why the discipline exists, never for real use)
there is no pipeline and no transaction: each statement commits on its own, and each writing step first waits until
no one holds the field's lock (released again as that statement ends), as SQLite's statements wait for its write
lock one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from harmonix.config import public_location
from harmonix.errors import (
    ColonyExists,
    ColonyNotFound,
    FieldBusy,
    FieldError,
    FieldNotFound,
    FieldVersionError,
    FieldWriteFailed,
    OperationAbandoned,
    StoreUnavailable,
)
from harmonix.field.model import (
    ColonyInfo,
)
from harmonix.field.postgres.runs import PostgresRunLog
from harmonix.field.postgres.schema import (
    DATA_COLUMNS,
    DATA_TABLES,
    MIGRATION_LOCK_KEY,
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    field_lock_key,
)
from harmonix.field.postgres.steps import StepRunner, milliseconds
from harmonix.field.steps import (
    Begin,
    Commit,
    Rollback,
    Step,
)
from harmonix.field.store import DEFAULT_IDLE_IN_TRANSACTION_S, DEFAULT_POOL_SIZE

log = logging.getLogger(__name__)
Connection = psycopg.AsyncConnection[Any]
S = SCHEMA
DEFAULT_COLONY = "default"
CONNECTION_WAIT_S = 10.0
"""The least time an operation waits for a free pooled connection (it waits the lock timeout when that is longer):
a new connection itself can take this long to open on a busy server."""


def _translate(error: BaseException, what: str) -> BaseException:
    """The Harmonix error for a driver error (module docstring), or ``error`` itself."""
    if isinstance(error, pg_errors.LockNotAvailable):
        return FieldBusy(f"{what}: another process held it past the lock timeout ({error})")
    if isinstance(error, psycopg_pool.PoolTimeout):
        return FieldBusy(f"{what}: no database connection came free within the lock timeout ({error}); "
                         "more requests hold connections than HARMONIX_DB_POOL allows")
    if isinstance(error, psycopg.IntegrityError):
        return FieldError(f"{what}: {error}")
    if isinstance(error, pg_errors.DiskFull | pg_errors.IoError):
        return FieldWriteFailed(f"{what}: the database's disk refused the write ({error}); the transaction was "
                                "rolled back and the field is unchanged")
    if isinstance(error, psycopg.OperationalError):
        return StoreUnavailable(f"{what}: the database is unreachable or refused: {error}")
    if isinstance(error, psycopg.Error):
        return FieldError(f"{what}: {type(error).__name__}: {error}")
    return error


ARM_IDLE_TIMEOUT = "SELECT 'armed'"
"""Run outside the pipeline when a run leaves its transaction open (a turn between its steps). PostgreSQL arms
``idle_in_transaction_session_timeout`` when it reports ready after a Sync, and disarms it on the next message;
psycopg ends a pipeline with a Sync followed by a Flush, which leaves a session idle in its transaction with no
timer at all (measured: a turn's session outlived a 0.5 s timeout by as long as it liked). A plain statement ends
with a Sync and nothing after it. It costs one round trip per step of a turn, none for a one-transaction
operation."""


class PostgresFieldStore:
    """A field in a PostgreSQL store. Opened by :meth:`PostgresStore.open_field`.

    Runs execute one at a time, in the order they were made (a FIFO lock); the connection of an open transaction
    is held between runs (a turn spans several) and handed back to the pool when the transaction ends."""

    def __init__(self, store: PostgresStore, colony: str, name: str, field: int, *, transactions: bool) -> None:
        self._store = store
        self._location = f"{store.location} (colony {colony}, field {name})"
        self._runner = StepRunner(field, name, field_lock_key(colony, name), store.lock_timeout_s, transactions)
        self._order = asyncio.Lock()
        self._conn: Connection | None = None
        self._pending: set[asyncio.Task[list[object]]] = set()
        self._steps_started = 0

    @property
    def location(self) -> str:
        return self._location

    @property
    def steps_started(self) -> int:
        return self._steps_started

    @property
    def field_id(self) -> int:
        """The field's key in every table (for tools that read or write beside the store, like the benchmark)."""
        return self._runner.field

    @property
    def schema_version(self) -> int:
        return self._store.schema_version

    async def run(self, steps: Sequence[Step]) -> list[object]:
        """Execute ``steps`` (contract: :mod:`harmonix.field.steps`; cancellation: the module docstring)."""
        abandoned = asyncio.Event()
        task = asyncio.create_task(self._execute(steps, abandoned), name=f"harmonix-field-{self._runner.name}")
        self._pending.add(task)
        task.add_done_callback(self._finished)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            abandoned.set()
            raise

    def _finished(self, task: asyncio.Task[list[object]]) -> None:
        """Forget a finished run; an error nobody awaited any more (its caller was cancelled) is logged."""
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("field %s: an abandoned operation ended with %r", self._runner.name, task.exception())

    async def _execute(self, steps: Sequence[Step], abandoned: asyncio.Event) -> list[object]:
        async with self._order:
            runner = self._runner
            conn = self._conn
            results: list[object] = []
            try:
                if conn is None:
                    conn = await self._store.pool.getconn()
                async with conn.pipeline() if runner.transactions else contextlib.nullcontext():
                    for step in steps:
                        if abandoned.is_set():
                            raise OperationAbandoned(f"field {runner.name}: cancelled before {type(step).__name__}")
                        self._steps_started += 1
                        results.append(await self._step(conn, step))
                if self._conn is not None and runner.transactions:
                    await conn.execute(ARM_IDLE_TIMEOUT)
            except BaseException as error:
                if conn is not None:
                    await self._release(conn, healthy=not isinstance(error, asyncio.CancelledError))
                translated = _translate(error, f"field {runner.name}")
                if translated is error:
                    raise
                raise translated from error
            if self._conn is None:
                await self._release(conn, healthy=True)
            return results

    async def _step(self, conn: Connection, step: Step) -> object:
        match step:
            case Begin(write=write):
                if self._conn is not None and self._runner.transactions:
                    raise FieldError(f"field {self._runner.name}: a transaction is already open")
                await self._runner.begin(conn, write)
                if self._runner.transactions:
                    self._conn = conn
                return None
            case Commit():
                if self._conn is not None:
                    await conn.execute("COMMIT")
                    self._conn = None
                return None
            case Rollback():
                if self._conn is not None:
                    await conn.execute("ROLLBACK")
                    self._conn = None
                return None
        return await self._runner.apply(conn, step)

    async def _release(self, conn: Connection, *, healthy: bool) -> None:
        """Give ``conn`` back to the pool with no transaction open: rolled back if one is, closed instead when it
        cannot be trusted (``healthy=False``, or a rollback that fails)."""
        self._conn = None
        try:
            if healthy and not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                await conn.execute("ROLLBACK")
        except psycopg.Error as error:
            log.warning("field %s: closing a connection that could not roll back: %s", self._runner.name, error)
            healthy = False
        if not healthy:
            await conn.close()
        await self._store.pool.putconn(conn)

    async def size_bytes(self) -> int:
        """The bytes of the field's rows (``pg_column_size`` of each row, indexes not counted)."""
        query = " + ".join(f"(SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {S}.{table} t WHERE t.field = %(f)s)"
                           for table in DATA_TABLES)
        async with self._store.connection() as conn:
            cursor = await conn.execute(f"SELECT ({query})::bigint", {"f": self._runner.field})
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def close(self) -> None:
        """Wait for runs still finishing (abandoned ones included), then roll back anything left open."""
        async with self._order:
            if self._conn is not None:
                await self._release(self._conn, healthy=True)


# --- the store -----------------------------------------------------------------------------------------------------


class PostgresStore:
    """Colonies in a PostgreSQL database (module docstring). ``async with PostgresStore.open(url) as store``."""

    kind = "postgresql"

    def __init__(self, url: str, pool: psycopg_pool.AsyncConnectionPool[Connection], *, lock_timeout_s: float,
                 schema_version: int) -> None:
        self.url = url
        self.pool = pool
        self.lock_timeout_s = lock_timeout_s
        self.schema_version = schema_version

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, *, lock_timeout_s: float = 30.0, pool_size: int = DEFAULT_POOL_SIZE,
                   idle_in_transaction_s: float = DEFAULT_IDLE_IN_TRANSACTION_S,
                   ensure_default: bool = True) -> AsyncIterator[PostgresStore]:
        """Connect, migrate the schema forward, make sure colony ``default`` exists (unless ``ensure_default`` is
        false), and hold a pool of at most ``pool_size`` connections for the block."""
        version = await migrate(url, ensure_default=ensure_default)
        idle_ms = milliseconds(idle_in_transaction_s)

        async def configure(conn: Connection) -> None:
            await conn.execute("SELECT set_config('idle_in_transaction_session_timeout', %s, false),"
                               " set_config('application_name', 'harmonix', false)", (f"{idle_ms}ms",))

        pool: psycopg_pool.AsyncConnectionPool[Connection] = psycopg_pool.AsyncConnectionPool(
            url, min_size=1, max_size=pool_size, kwargs={"autocommit": True, "prepare_threshold": None},
            configure=configure, timeout=max(lock_timeout_s, CONNECTION_WAIT_S), open=False, name="harmonix")
        await pool.open()
        try:
            yield cls(url, pool, lock_timeout_s=lock_timeout_s, schema_version=version)
        finally:
            await pool.close()

    @property
    def location(self) -> str:
        return public_location(self.url)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection for the block (statements commit on their own unless a transaction is opened)."""
        try:
            async with self.pool.connection() as conn:
                yield conn
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            raise _translate(error, f"store {self.location}") from error

    async def _field_id(self, conn: Connection, colony: str, name: str) -> int | None:
        cursor = await conn.execute(f"SELECT id FROM {S}.fields WHERE colony = %s AND name = %s", (colony, name))
        row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def open_field(self, colony: str, name: str, *, create: bool = True,
                         transactions: bool = True) -> PostgresFieldStore:
        async with self.connection() as conn:
            await self._info(conn, colony)
            field = await self._field_id(conn, colony, name)
            if field is None:
                if not create:
                    raise FieldNotFound(f"no field {name!r} in colony {colony!r}")
                try:
                    cursor = await conn.execute(
                        f"INSERT INTO {S}.fields (colony, name) VALUES (%s, %s) ON CONFLICT (colony, name) DO NOTHING"
                        f" RETURNING id", (colony, name))
                except psycopg.errors.ForeignKeyViolation:
                    raise ColonyNotFound(f"no colony {colony!r} in {self.location}") from None
                row = await cursor.fetchone()
                field = int(row[0]) if row is not None else await self._field_id(conn, colony, name)
                assert field is not None
        return PostgresFieldStore(self, colony, name, field, transactions=transactions)

    async def create_colony(self, name: str, *, owner: str | None = None, created: float | None = None,
                            forked_from: str | None = None) -> ColonyInfo:
        info = ColonyInfo(name=name, created=time.time() if created is None else created, owner=owner,
                          forked_from=forked_from)
        async with self.connection() as conn:
            try:
                await conn.execute(f"INSERT INTO {S}.colonies (name, created, owner, forked_from)"
                                   f" VALUES (%s, %s, %s, %s)", (info.name, info.created, info.owner, forked_from))
            except psycopg.errors.UniqueViolation:
                raise ColonyExists(f"colony {name!r} already exists") from None
        return info

    async def _info(self, conn: Connection, name: str) -> ColonyInfo:
        cursor = await conn.execute(f"SELECT name, created, owner, forked_from FROM {S}.colonies WHERE name = %s",
                                    (name,))
        row = await cursor.fetchone()
        if row is None:
            raise ColonyNotFound(f"no colony {name!r} in {self.location}")
        return ColonyInfo(name=row[0], created=row[1], owner=row[2], forked_from=row[3])

    async def colony(self, name: str) -> ColonyInfo:
        async with self.connection() as conn:
            return await self._info(conn, name)

    async def colonies(self) -> list[ColonyInfo]:
        async with self.connection() as conn:
            cursor = await conn.execute(f"SELECT name, created, owner, forked_from FROM {S}.colonies ORDER BY name")
            rows = await cursor.fetchall()
        return [ColonyInfo(name=row[0], created=row[1], owner=row[2], forked_from=row[3]) for row in rows]

    async def fork_colony(self, name: str, new: str, *, owner: str | None = None) -> ColonyInfo:
        """Copy every field of ``name`` in one REPEATABLE READ transaction: one consistent reading of all of them at
        once, and the new colony commits whole or not at all. The copy takes no field lock: it waits for no turn."""
        info = ColonyInfo(name=new, created=time.time(), owner=owner, forked_from=name)
        async with self.connection() as conn:
            try:
                async with conn.transaction():
                    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    await self._info(conn, name)
                    await conn.execute(f"INSERT INTO {S}.colonies (name, created, owner, forked_from)"
                                       f" VALUES (%s, %s, %s, %s)", (new, info.created, owner, name))
                    cursor = await conn.execute(
                        f"INSERT INTO {S}.fields (colony, name) SELECT %s, name FROM {S}.fields WHERE colony = %s"
                        f" RETURNING id, name", (new, name))
                    copies = {row[1]: int(row[0]) for row in await cursor.fetchall()}
                    for field_name, target in copies.items():
                        source = await self._field_id(conn, name, field_name)
                        for table in DATA_TABLES:
                            columns = DATA_COLUMNS[table]
                            await conn.execute(f"INSERT INTO {S}.{table} (field, {columns}) SELECT %s, {columns}"
                                               f" FROM {S}.{table} WHERE field = %s", (target, source))
            except psycopg.errors.UniqueViolation:
                raise ColonyExists(f"colony {new!r} already exists") from None
        return info

    async def remove_colony(self, name: str) -> None:
        async with self.connection() as conn:
            cursor = await conn.execute(f"DELETE FROM {S}.colonies WHERE name = %s RETURNING name", (name,))
            if await cursor.fetchone() is None:
                raise ColonyNotFound(f"no colony {name!r} in {self.location}")

    @contextlib.asynccontextmanager
    async def runs(self) -> AsyncIterator[PostgresRunLog]:
        """The store's runs (:mod:`harmonix.field.postgres.runs`), on its pool."""
        yield PostgresRunLog(self)

    async def field_names(self, colony: str) -> list[str]:
        async with self.connection() as conn:
            await self._info(conn, colony)
            cursor = await conn.execute(f"SELECT name FROM {S}.fields WHERE colony = %s ORDER BY name", (colony,))
            return [row[0] for row in await cursor.fetchall()]

    async def remove_field(self, colony: str, name: str) -> bool:
        async with self.connection() as conn:
            await self._info(conn, colony)
            cursor = await conn.execute(f"DELETE FROM {S}.fields WHERE colony = %s AND name = %s RETURNING id",
                                        (colony, name))
            return await cursor.fetchone() is not None


async def migrate(url: str, *, ensure_default: bool = True) -> int:
    """Bring the database to :data:`SCHEMA_VERSION` in one transaction under an advisory lock, and make sure colony
    ``default`` exists unless ``ensure_default`` is false. Returns the version; :class:`FieldVersionError` for a
    database from a newer Harmonix, :class:`StoreUnavailable` when the database cannot be reached."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    except psycopg.Error as error:
        raise StoreUnavailable(f"cannot connect to {public_location(url)}: {error}") from error
    try:
        async with conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {S}.schema_version (version integer NOT NULL)")
            cursor = await conn.execute(f"SELECT max(version) FROM {S}.schema_version")
            row = await cursor.fetchone()
            version = row[0] if row is not None and row[0] is not None else 0
            if version > SCHEMA_VERSION:
                raise FieldVersionError(f"the database {public_location(url)} has Harmonix schema version {version}; "
                                        f"this Harmonix knows up to {SCHEMA_VERSION}")
            for target in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[target]:
                    await conn.execute(statement)
                log.info("store %s: migrated schema to version %d", public_location(url), target + 1)
            if version < SCHEMA_VERSION:
                await conn.execute(f"DELETE FROM {S}.schema_version")
                await conn.execute(f"INSERT INTO {S}.schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
            if ensure_default:
                await conn.execute(f"INSERT INTO {S}.colonies (name, created) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                   (DEFAULT_COLONY, time.time()))
    except psycopg.Error as error:
        raise StoreUnavailable(f"cannot prepare {public_location(url)}: {error}") from error
    return max(version, SCHEMA_VERSION)
