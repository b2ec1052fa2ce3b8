"""Where fields live: the :class:`Store` interface, and what every backend shares about store URLs.

A *store* holds colonies; a *colony* is one conversation's memory, an independent set of fields (one per organism
and one for the hub). Everything Harmonix does to storage beyond a single field's transactions goes through this
interface: opening a field, listing, creating, forking and removing colonies, removing a field. A field itself is
driven through the :class:`~harmonix.field.steps.FieldStore` a store opens for it, so a second backend is one new
package implementing both (:mod:`harmonix.field.sqlite`, :mod:`harmonix.field.postgres`). This module imports no
backend; :mod:`harmonix.field.backends` chooses one from a store URL (``sqlite:PATH`` or ``postgresql://…``).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Protocol

from harmonix.errors import ColonyExists, ColonyNotFound
from harmonix.field.model import ColonyInfo
from harmonix.field.runs import RunLog
from harmonix.field.steps import FieldStore

log = logging.getLogger(__name__)
SQLITE_SCHEME = "sqlite:"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_POOL_SIZE = 16
DEFAULT_IDLE_IN_TRANSACTION_S = 900.0


class Store(Protocol):
    """Colonies of fields in one place. Open with the backend's ``open`` (an ``async with`` block)."""

    @property
    def kind(self) -> str:
        """The backend: ``"sqlite"`` or ``"postgresql"``."""
        ...

    @property
    def location(self) -> str:
        """The store's URL, without secrets."""
        ...

    async def open_field(self, colony: str, name: str, *, create: bool = True,
                         transactions: bool = True) -> FieldStore:
        """Open field ``name`` of ``colony`` (created when missing if ``create``, else
        :class:`~harmonix.errors.FieldNotFound`). The colony must exist (:class:`~harmonix.errors.ColonyNotFound`).
        ``transactions=False`` exists only for the experiments that show why transactions matter."""
        ...

    async def create_colony(self, name: str, *, owner: str | None = None, created: float | None = None,
                            forked_from: str | None = None) -> ColonyInfo:
        """A new, empty colony; :class:`~harmonix.errors.ColonyExists` if the name is taken. ``created`` (default:
        now) and ``forked_from`` are for a colony moved from another store."""
        ...

    async def colony(self, name: str) -> ColonyInfo:
        """The colony ``name``, or :class:`~harmonix.errors.ColonyNotFound`."""
        ...

    async def colonies(self) -> list[ColonyInfo]:
        """Every colony, by name."""
        ...

    async def fork_colony(self, name: str, new: str, *, owner: str | None = None) -> ColonyInfo:
        """Copy colony ``name`` as ``new``: every field as it is now, each copied in one consistent read. The new
        colony appears whole or not at all."""
        ...

    async def remove_colony(self, name: str) -> None:
        """Remove a colony and all its fields (:class:`~harmonix.errors.ColonyNotFound` if there is none)."""
        ...

    async def field_names(self, colony: str) -> list[str]:
        """The names of the fields the colony holds, sorted."""
        ...

    async def remove_field(self, colony: str, name: str) -> bool:
        """Erase one field of a colony; ``False`` when it did not exist."""
        ...

    def runs(self) -> contextlib.AbstractAsyncContextManager[RunLog]:
        """The store's runs (:mod:`harmonix.field.runs`) for the block."""
        ...


async def ensure_colony(store: Store, name: str) -> ColonyInfo:
    """Colony ``name``, created (empty) if it does not exist yet, whoever wins a race to create it."""
    try:
        return await store.colony(name)
    except ColonyNotFound:
        try:
            info = await store.create_colony(name)
            log.info("created colony %s in %s", name, store.location)
            return info
        except ColonyExists:  # another process created it meanwhile
            return await store.colony(name)


def sqlite_url(home: Path) -> str:
    """The store URL of a home directory."""
    return f"{SQLITE_SCHEME}{home}"
