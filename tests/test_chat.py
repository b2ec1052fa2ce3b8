"""`harmonix chat`, `stats` and `reset` as a user meets them: real processes, real stdin, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def harmonix(home: Path, *args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARMONIX_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "harmonix", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=home.parent)


def test_chat_answers_runs_its_commands_and_ends_on_eof(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = harmonix(home, "chat", stdin="What is resonance?\n/fields\n/stats\n/bogus\n/help\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HAiKU" in done.stdout and "Artist" in done.stdout and "resonance=" in done.stdout
    assert "unknown command /bogus" in done.stderr
    assert "haiku.sqlite3" in done.stderr, "/fields lists the field files"
    assert "disturbances" in done.stdout, "/stats prints the field table"
    assert (home / "chat_history").exists() or "readline" not in sys.modules


def test_chat_ends_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "HARMONIX_HOME": str(home)}
    chat = subprocess.Popen([sys.executable, "-m", "harmonix", "chat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not (home / "fields" / "meta.sqlite3").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # the hub is open once its field exists: the chat waits for a line now
    time.sleep(0.5)
    chat.send_signal(signal.SIGINT)
    _, err = chat.communicate(timeout=60)
    assert chat.returncode == 0, err[-2000:]
    assert "bye" in err and "Traceback" not in err


def test_stats_and_reset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert harmonix(home, "haiku", "a first turn", "--seed", "1").returncode == 0
    stats = json.loads(harmonix(home, "stats", "--json").stdout)
    assert stats["fields"]["haiku"]["counts"]["turns"] == 1
    refused = harmonix(home, "reset", "--organism", "haiku", stdin="n\n")
    assert refused.returncode != 0 and (home / "fields" / "haiku.sqlite3").exists(), "no means no"
    done = json.loads(harmonix(home, "reset", "--organism", "haiku", "--yes", "--json").stdout)
    assert done["reset"] == ["haiku"] and not (home / "fields" / "haiku.sqlite3").exists()
    assert json.loads(harmonix(home, "stats", "--json").stdout)["fields"] == {}
