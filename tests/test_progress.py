"""Progress on long work: a bar with what runs, n of N and an ETA on a terminal's stderr; nothing anywhere else, so
``--json`` stays one object on stdout."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from harmonix.progress import NO_PROGRESS, terminal_progress


def test_a_terminal_gets_a_bar_with_counts_and_an_eta() -> None:
    screen = io.StringIO()
    progress = terminal_progress(Console(file=screen, force_terminal=True, width=120))
    with progress.task("eval prose", 3) as task:
        for latency in (0.5, 0.7, 0.6):
            task.advance(figure=f"{latency:.1f} s")
    drawn = screen.getvalue()
    assert "eval prose" in drawn and "3/3" in drawn and "eta" in drawn and "0.6 s" in drawn


def test_anything_but_a_terminal_gets_nothing() -> None:
    screen = io.StringIO()
    assert terminal_progress(Console(file=screen, force_terminal=False)) is NO_PROGRESS
    with NO_PROGRESS.task("quiet", 2) as task:
        task.advance(figure="x")
    assert screen.getvalue() == ""


def test_a_benchmark_draws_its_bar_on_a_terminal_stderr_and_keeps_stdout_one_object(tmp_path: Path) -> None:
    main, other = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "HARMONIX_HOME": str(tmp_path / "home")}
    process = subprocess.Popen([sys.executable, "-m", "harmonix", "bench", "field", "--repeats", "3", "--ingests", "2",
                                "--json"], stdout=subprocess.PIPE, stderr=other, env=env, cwd=tmp_path)
    os.close(other)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        drawn += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(main)
    assert process.returncode == 0
    assert "ingest_ratio_vs_sqlite3" in json.loads(stdout), "stdout is exactly one JSON object"
    assert b"bench field" in drawn and b"/3" in drawn, drawn[-500:]
