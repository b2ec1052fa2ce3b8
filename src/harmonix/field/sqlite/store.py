"""The SQLite store: a home directory of colonies, each a directory of field files.

**Layout.** ``HOME/colonies/NAME/`` holds colony ``NAME``: a ``colony.json`` (name, created, owner, forked_from)
and one ``FIELD.sqlite3`` per field. A colony directory appears by an atomic ``mkdir`` (create) or ``rename``
(fork: the copy is built in a hidden directory first), and disappears by a ``rename`` out of the way before its
files are deleted, so no other process ever lists half a colony. A home from before colonies (``HOME/fields/``)
becomes colony ``default`` the first time it is opened. Each field file is opened as a
:class:`~harmonix.field.sqlite.connection.SqliteFieldStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

from harmonix.errors import ColonyExists, ColonyNotFound, FieldNotFound, StoreUnavailable
from harmonix.field.model import ColonyInfo
from harmonix.field.sqlite.connection import SqliteFieldStore
from harmonix.field.sqlite.runs import SqliteRunLog
from harmonix.field.sqlite.schema import connect

log = logging.getLogger(__name__)

COLONIES = "colonies"
COLONY_FILE = "colony.json"
FIELD_SUFFIX = ".sqlite3"
LEGACY_FIELDS = "fields"
DEFAULT_COLONY = "default"


class SqliteStore:
    """A home directory of colonies (module docstring). Open with ``async with SqliteStore.open(home) as store``."""

    kind = "sqlite"

    def __init__(self, home: Path, lock_timeout_s: float) -> None:
        self.home = home
        self._colonies = home / COLONIES
        self._lock_timeout_s = lock_timeout_s

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, home: Path, *, lock_timeout_s: float = 30.0,
                   ensure_default: bool = True) -> AsyncIterator[SqliteStore]:
        store = cls(home, lock_timeout_s)
        await asyncio.to_thread(store._prepare, ensure_default)
        yield store

    def _prepare(self, ensure_default: bool) -> None:
        """Create the colonies directory (refusing a home that cannot be written), adopt a pre-colony home, and
        (unless ``ensure_default`` is false: a listing) make sure colony ``default`` exists, so that a home nobody
        has used yet lists no colonies while a pre-colony home lists the one it holds (adopted with its
        ``colony.json``, whoever opens it first)."""
        try:
            self._colonies.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(f"cannot create {self._colonies}: {error.strerror or error}") from error
        if not os.access(self._colonies, os.W_OK | os.X_OK):
            raise StoreUnavailable(f"the home {self.home} is not writable")
        legacy = self.home / LEGACY_FIELDS
        target = self._colonies / DEFAULT_COLONY
        adopted = False
        if legacy.is_dir() and not target.exists():
            with contextlib.suppress(FileNotFoundError):  # another process adopted it first
                legacy.rename(target)
                adopted = True
                log.info("adopted %s as colony %s", legacy, DEFAULT_COLONY)
        if not (ensure_default or adopted):
            return
        target.mkdir(exist_ok=True)
        if not (target / COLONY_FILE).exists():
            _write_info(target, ColonyInfo(name=DEFAULT_COLONY, created=time.time()))

    @property
    def location(self) -> str:
        return f"sqlite:{self.home}"

    def colony_dir(self, colony: str) -> Path:
        return self._colonies / colony

    def field_path(self, colony: str, name: str) -> Path:
        """The file of field ``name`` in ``colony``."""
        return self._colonies / colony / f"{name}{FIELD_SUFFIX}"

    async def open_field(self, colony: str, name: str, *, create: bool = True,
                         transactions: bool = True) -> SqliteFieldStore:
        path = self.field_path(colony, name)
        if not (self.colony_dir(colony) / COLONY_FILE).is_file():
            raise ColonyNotFound(f"no colony {colony!r} in {self.home}")
        if not create and not path.is_file():
            raise FieldNotFound(f"no field {name!r} in colony {colony!r}")
        return await SqliteFieldStore.open(path, name, busy_timeout_s=self._lock_timeout_s, transactions=transactions)

    async def create_colony(self, name: str, *, owner: str | None = None, created: float | None = None,
                            forked_from: str | None = None) -> ColonyInfo:
        info = ColonyInfo(name=name, created=time.time() if created is None else created, owner=owner,
                          forked_from=forked_from)
        await asyncio.to_thread(self._create, info)
        return info

    def _create(self, info: ColonyInfo) -> None:
        directory = self.colony_dir(info.name)
        try:
            directory.mkdir()
        except FileExistsError:
            raise ColonyExists(f"colony {info.name!r} already exists") from None
        _write_info(directory, info)

    async def colony(self, name: str) -> ColonyInfo:
        return await asyncio.to_thread(self._read_info, name)

    def _read_info(self, name: str) -> ColonyInfo:
        try:
            document = json.loads((self.colony_dir(name) / COLONY_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ColonyNotFound(f"no colony {name!r} in {self.home}") from None
        return ColonyInfo(name=document["name"], created=document["created"], owner=document.get("owner"),
                          forked_from=document.get("forked_from"))

    async def colonies(self) -> list[ColonyInfo]:
        def names() -> list[str]:
            if not self._colonies.is_dir():
                return []
            return sorted(path.name for path in self._colonies.iterdir()
                          if not path.name.startswith(".") and (path / COLONY_FILE).is_file())

        infos = []
        for name in await asyncio.to_thread(names):
            with contextlib.suppress(ColonyNotFound):  # removed since it was listed
                infos.append(await self.colony(name))
        return infos

    async def fork_colony(self, name: str, new: str, *, owner: str | None = None) -> ColonyInfo:
        info = ColonyInfo(name=new, created=time.time(), owner=owner, forked_from=name)
        await asyncio.to_thread(self._fork, name, info)
        return info

    def _fork(self, name: str, info: ColonyInfo) -> None:
        """Copy each field with SQLite's backup API (one read transaction per field: a consistent copy) into a
        hidden directory, then rename it into place: the fork appears whole or not at all."""
        self._read_info(name)
        if self.colony_dir(info.name).exists():
            raise ColonyExists(f"colony {info.name!r} already exists")
        building = self._colonies / f".fork-{info.name}-{secrets.token_hex(4)}"
        building.mkdir()
        try:
            for path in sorted(self.colony_dir(name).glob(f"*{FIELD_SUFFIX}")):
                source = connect(path, busy_timeout_s=self._lock_timeout_s)
                target = sqlite3.connect(building / path.name)
                try:
                    source.backup(target)
                finally:
                    target.close()
                    source.close()
            _write_info(building, info)
            try:
                building.rename(self.colony_dir(info.name))
            except OSError:
                raise ColonyExists(f"colony {info.name!r} already exists") from None
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise

    async def remove_colony(self, name: str) -> None:
        await asyncio.to_thread(self._remove, name)

    def _remove(self, name: str) -> None:
        self._read_info(name)
        doomed = self._colonies / f".removed-{name}-{secrets.token_hex(4)}"
        try:
            self.colony_dir(name).rename(doomed)
        except FileNotFoundError:
            raise ColonyNotFound(f"no colony {name!r} in {self.home}") from None
        shutil.rmtree(doomed)

    async def field_names(self, colony: str) -> list[str]:
        await self.colony(colony)

        def names() -> list[str]:
            return sorted(path.name[: -len(FIELD_SUFFIX)] for path in self.colony_dir(colony).glob(f"*{FIELD_SUFFIX}"))

        return await asyncio.to_thread(names)

    def runs(self) -> contextlib.AbstractAsyncContextManager[SqliteRunLog]:
        """The home's runs (:mod:`harmonix.field.sqlite.runs`)."""
        return SqliteRunLog.open(self.home, busy_timeout_s=self._lock_timeout_s)

    async def remove_field(self, colony: str, name: str) -> bool:
        await self.colony(colony)
        base = self.field_path(colony, name)

        def remove() -> bool:
            existed = base.exists()
            for path in (base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")):
                path.unlink(missing_ok=True)
            return existed

        return await asyncio.to_thread(remove)


def _write_info(directory: Path, info: ColonyInfo) -> None:
    """Write ``colony.json`` atomically (a temporary file renamed over it)."""
    document = {"name": info.name, "created": info.created, "owner": info.owner, "forked_from": info.forked_from}
    temporary = directory / f".{COLONY_FILE}.{secrets.token_hex(4)}"
    temporary.write_text(json.dumps(document, sort_keys=True) + "\n", encoding="utf-8")
    temporary.rename(directory / COLONY_FILE)
