"""The front door: what ``import harmonix`` offers, and the README's Python example run as a newcomer runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import harmonix

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_public_name_resolves_and_says_what_it_is() -> None:
    """Like httpx: ``__all__`` is the contract; each name imports from ``harmonix`` and is documented."""
    assert "Harmonix" in harmonix.__all__ and "Config" in harmonix.__all__ and "CascadeResult" in harmonix.__all__
    for name in harmonix.__all__:
        value = getattr(harmonix, name)
        assert name == "__version__" or (value.__doc__ or "").strip(), f"{name} has no docstring"
    from harmonix.colony import Harmonix
    assert harmonix.Harmonix is Harmonix
    with pytest.raises(AttributeError, match="no attribute 'Store'"):
        harmonix.Store  # noqa: B018 (the access is what is tested)
    assert sorted(dir(harmonix)) == sorted(harmonix.__all__)


def test_errors_are_one_tree() -> None:
    """Every exception the front door offers is a HarmonixError, so one ``except`` catches them all."""
    values = [getattr(harmonix, name) for name in harmonix.__all__]
    errors = [value for value in values if isinstance(value, type) and issubclass(value, BaseException)]
    assert len(errors) >= 10 and all(issubclass(error, harmonix.HarmonixError) for error in errors)


def test_importing_the_package_loads_no_engine() -> None:
    """``import harmonix`` stays cheap: the names load on first use."""
    probe = "import sys, harmonix; print(sorted(m for m in sys.modules if m.startswith('harmonix')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['harmonix']"


def test_the_readme_python_example_breathes(tmp_path: Path) -> None:
    """The README's first Python block, unchanged, on a fresh home and the embedded defaults."""
    example = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert example is not None, "the README opens with a Python example"
    env = {**os.environ, "HARMONIX_HOME": str(tmp_path / "home"), "HARMONIX_LLM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", example.group(1)], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    haiku, _, artist = done.stdout.strip().partition("\n\n")
    assert len(haiku.splitlines()) == 3 and artist.strip()
    assert (tmp_path / "home").is_dir()
