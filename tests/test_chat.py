"""`harmonix chat`, `stats` and `reset` as a user meets them: real processes, real stdin, real signals.

The signal tests act at a known moment of the chat's life by waiting for the line the chat prints there (its help
line once its handlers are installed, "ready" once the colony is open, "breathing in" once a cascade has started),
never after a fixed sleep. ``HARMONIX_SIGNAL_REPEATS`` runs each case that many times (20 for the acceptance run,
with another process keeping both cores busy).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fieldtools import audit
from harmonix.field import open_store, sqlite_url
from harmonix.organisms.base import ORGANISMS

REPEATS = int(os.environ.get("HARMONIX_SIGNAL_REPEATS", "1"))


def harmonix(home: Path, *args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARMONIX_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "harmonix", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=home.parent)


def test_chat_answers_runs_its_commands_and_ends_on_eof(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = harmonix(home, "chat", stdin="What is resonance?\n/fields\n/stats\n/bogus [red]x[/red]\n/help\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HAiKU" in done.stdout and "Artist" in done.stdout and "resonance=" in done.stdout
    assert "unknown command /bogus [red]x[/red]" in done.stderr, "a user's line is shown as typed, never as markup"
    assert "haiku.sqlite3" in done.stderr, "/fields tells where each field lives"
    assert "disturbances" in done.stdout, "/stats prints the field table"
    assert "bye" in done.stderr and "Traceback" not in done.stderr


class Chat:
    """A running ``harmonix chat`` whose stderr is read line by line (stdout goes to a file)."""

    def __init__(self, home: Path, directory: Path) -> None:
        self.home = home
        env = {**os.environ, "HARMONIX_HOME": str(home)}
        self._stdout = (directory / "stdout.txt").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "harmonix", "chat"], stdin=subprocess.PIPE,
                                        stdout=self._stdout, stderr=subprocess.PIPE, text=True, env=env,
                                        cwd=directory)
        self.stderr: list[str] = []

    def wait_for(self, marker: str) -> None:
        """Read stderr until a line holds ``marker`` (the readiness signal); fail if the chat ends first."""
        assert self.process.stderr is not None
        while line := self.process.stderr.readline():
            self.stderr.append(line)
            if marker in line:
                return
        raise AssertionError(f"the chat ended before {marker!r}: {''.join(self.stderr)[-2000:]}")

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def end(self, number: int) -> tuple[int, str]:
        self.process.send_signal(number)
        _, rest = self.process.communicate(timeout=120)
        self._stdout.close()
        return self.process.returncode, "".join(self.stderr) + rest


MOMENTS = {
    "start-up": [],
    "waiting for a line": ["ready: colony"],
    "mid-cascade": ["ready: colony", "> What does the sea remember?", "breathing in"],
}


@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("moment", list(MOMENTS))
async def test_a_signal_at_any_moment_ends_the_chat_cleanly(tmp_path: Path, moment: str, number: int,
                                                            repeat: int) -> None:
    home = tmp_path / "home"
    chat = Chat(home, tmp_path)
    chat.wait_for("Type a prompt")  # printed once the chat's signal handlers are installed
    for step in MOMENTS[moment]:
        if step.startswith("> "):
            chat.say(step[2:])
        else:
            chat.wait_for(step)
    returncode, stderr = chat.end(number)
    assert returncode == 0, stderr[-2000:]
    assert "bye" in stderr and "Traceback" not in stderr, stderr[-2000:]
    async with open_store(sqlite_url(home)) as store:
        held = await store.field_names("default")
        for name in held:
            result = await audit(store, name)
            assert result.ok, (name, result.violations)
            assert name == "meta" or result.turns <= 1, "a breath cut short: each organism has its whole turn or none"
    if moment == "mid-cascade":
        assert set(held) >= set(ORGANISMS), "the colony was open when the breath began"


def test_stats_and_reset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    field = home / "colonies" / "default" / "haiku.sqlite3"
    assert harmonix(home, "haiku", "a first turn", "--seed", "1").returncode == 0
    stats = json.loads(harmonix(home, "stats", "--json").stdout)
    assert stats["colony"] == "default" and stats["fields"]["haiku"]["counts"]["turns"] == 1
    refused = harmonix(home, "reset", "--organism", "haiku", stdin="n\n")
    assert refused.returncode != 0 and field.exists(), "no means no"
    done = json.loads(harmonix(home, "reset", "--organism", "haiku", "--yes", "--json").stdout)
    assert done["reset"] == ["haiku"] and done["removed"] == ["haiku"] and not field.exists()
    assert json.loads(harmonix(home, "stats", "--json").stdout)["fields"] == {}
