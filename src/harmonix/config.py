"""One frozen configuration for a Harmonix process: where state lives, and the compute budget.

Every setting comes from an explicit argument, else an environment variable, else a default; nothing is read from
or written to the current directory.

| setting | environment     | default                                              |
|---------|-----------------|------------------------------------------------------|
| home    | HARMONIX_HOME   | the user's data directory (``platformdirs``), e.g. ``~/.local/share/harmonix`` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

HOME_VARIABLE = "HARMONIX_HOME"


def default_home() -> Path:
    """``$HARMONIX_HOME`` if set, else the platform's per-user data directory for Harmonix."""
    configured = os.environ.get(HOME_VARIABLE)
    return Path(configured).expanduser() if configured else Path(platformdirs.user_data_dir("harmonix", appauthor=False))


@dataclass(frozen=True, slots=True)
class Config:
    """Where Harmonix keeps its state. Fields live in ``home / "fields" / NAME.sqlite3``."""

    home: Path

    @classmethod
    def load(cls, home: Path | str | None = None) -> Config:
        """A config from an explicit ``home`` if given, else from the environment and defaults."""
        return cls(home=Path(home).expanduser() if home is not None else default_home())

    @property
    def fields_dir(self) -> Path:
        return self.home / "fields"

    def field_path(self, name: str) -> Path:
        """The file that holds field ``name``."""
        return self.fields_dir / f"{name}.sqlite3"
