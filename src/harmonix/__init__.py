"""Harmonix: small autonomous text-generation organisms along a constraint gradient, joined by an observer hub.

The front door for Python is :class:`Harmonix` (one process's store of colonies and the engines they share) and the
:class:`Colony` it opens::

    import asyncio
    from harmonix import Config, Harmonix

    async def main() -> None:
        async with Harmonix.open(Config.load()) as harmonix, harmonix.colony("alice") as colony:
            breath = await colony.cascade("What does the harbour keep at night?", seed=1)
            print(breath.artist.text)

    asyncio.run(main())

Everything in :data:`__all__` is public and stays; anything else is reached through its module and may change.
The names load on first use, so ``import harmonix`` alone stays cheap (a field worker or a training script that
needs one module does not load the engines).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Harmonix", "Colony", "Config",
    "CascadeResult", "StageResult", "StageError", "MetaResult", "ColonyInfo", "FieldStats",
    "HarmonixError", "InvalidInput", "InvalidText", "InvalidArgument", "InvalidConfiguration", "NotFound",
    "ColonyNotFound", "OrganismNotFound", "ModelMissing", "ColonyExists", "ColonyBusy", "ServiceBusy",
    "DeadlineExceeded", "StoreUnavailable", "FieldError", "LLMError", "CompositionFailed",
]

_HOMES = {
    "harmonix.colony": ("Harmonix", "Colony"),
    "harmonix.config": ("Config",),
    "harmonix.meta": ("CascadeResult", "StageResult", "StageError", "MetaResult"),
    "harmonix.field": ("ColonyInfo", "FieldStats"),
}
_EXPORTS = {name: module for module, names in _HOMES.items() for name in names}
_EXPORTS.update({name: "harmonix.errors" for name in __all__ if name not in _EXPORTS and name != "__version__"})

if TYPE_CHECKING:
    from harmonix.colony import Colony, Harmonix
    from harmonix.config import Config
    from harmonix.errors import (
        ColonyBusy,
        ColonyExists,
        ColonyNotFound,
        CompositionFailed,
        DeadlineExceeded,
        FieldError,
        HarmonixError,
        InvalidArgument,
        InvalidConfiguration,
        InvalidInput,
        InvalidText,
        LLMError,
        ModelMissing,
        NotFound,
        OrganismNotFound,
        ServiceBusy,
        StoreUnavailable,
    )
    from harmonix.field import ColonyInfo, FieldStats
    from harmonix.meta import CascadeResult, MetaResult, StageError, StageResult


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (PEP 562) and kept here afterwards."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harmonix' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
