"""Choosing a store from its URL: the one module that knows every backend, and opens the one a URL names.

Store URLs:

- ``sqlite:PATH`` (``sqlite:///abs/path`` also works): a home directory; colony ``C``'s field ``F`` is the file
  ``PATH/colonies/C/F.sqlite3`` (:mod:`harmonix.field.sqlite`).
- ``postgresql://…`` (or ``postgres://…``): a PostgreSQL database, any libpq URL
  (``postgresql://user@host:5432/db``, ``postgresql:///db?host=/run/postgresql``); every process and machine that
  opens the same URL shares the same colonies (:mod:`harmonix.field.postgres`).

Each backend is imported only when its URL is opened, so a process on SQLite never loads the PostgreSQL driver.
The interface (:mod:`harmonix.field.store`) and the backends import nothing from here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from harmonix.errors import InvalidConfiguration
from harmonix.field.store import (
    DEFAULT_IDLE_IN_TRANSACTION_S,
    DEFAULT_POOL_SIZE,
    POSTGRES_SCHEMES,
    SQLITE_SCHEME,
    Store,
)


@contextlib.asynccontextmanager
async def open_store(url: str, *, lock_timeout_s: float = 30.0, pool_size: int = DEFAULT_POOL_SIZE,
                     idle_in_transaction_s: float = DEFAULT_IDLE_IN_TRANSACTION_S,
                     ensure_default: bool = True) -> AsyncIterator[Store]:
    """The store at ``url`` (module docstring) for the duration of the block. ``lock_timeout_s`` bounds how long a
    write waits for another process's write before :class:`~harmonix.errors.FieldBusy`. For PostgreSQL,
    ``pool_size`` bounds this process's connections and ``idle_in_transaction_s`` is how long the database lets a
    connection sit in a transaction with nothing to do before it ends it (freeing the field lock of a client that
    stopped answering); it must be longer than the longest turn. Opening makes sure colony ``default`` exists unless
    ``ensure_default`` is false: a listing opens the store that way, so that reading a new home writes nothing
    into it."""
    if url.startswith(SQLITE_SCHEME):
        from harmonix.field.sqlite.store import SqliteStore

        path = url[len(SQLITE_SCHEME):]
        path = path[2:] if path.startswith("///") else path
        async with SqliteStore.open(Path(path).expanduser(), lock_timeout_s=lock_timeout_s,
                                    ensure_default=ensure_default) as store:
            yield store
        return
    if url.startswith(POSTGRES_SCHEMES):
        from harmonix.field.postgres.store import PostgresStore

        async with PostgresStore.open(url, lock_timeout_s=lock_timeout_s, pool_size=pool_size,
                                      idle_in_transaction_s=idle_in_transaction_s,
                                      ensure_default=ensure_default) as postgres:
            yield postgres
        return
    raise InvalidConfiguration(f"unknown store URL {url!r}: expected sqlite:PATH or postgresql://…")
