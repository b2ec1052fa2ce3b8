"""The lock-isolation experiment can see the defect it looks for: without a lock, four concurrent sessions break the
field; with one, or with a single session, nothing does."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harmonix.engines.memory import Memory
from harmonix.field.sqlite.store import SqliteStore
from harmonix.lab.experiments.lock_isolation import (
    WARMUP,
    bootstrap_interval,
    integrity,
    run_lock_isolation,
    starting_field,
)
from harmonix.lab.prompts import standard_prompts
from harmonix.organisms.haiku import load_bootstrap


@pytest.fixture(scope="module")
def result():
    return asyncio.run(run_lock_isolation(runs=2, turns=8, sessions=(1, 4)))


def test_four_sessions_without_a_lock_break_the_field(result) -> None:
    cells = {(c.arm, c.sessions): c for c in result.cells}
    assert cells[("sync-nolock", 4)].violations > 0
    assert cells[("async-nolock", 4)].violations > 0


def test_the_locked_arms_show_no_violation_in_the_same_run(result) -> None:
    cells = {(c.arm, c.sessions): c for c in result.cells}
    for arm in ("sync-lock", "async-lock"):
        assert cells[(arm, 4)].violations == 0 and cells[(arm, 4)].failed_turns == 0


def test_one_session_needs_no_lock(result) -> None:
    assert all(c.violations == 0 for c in result.cells if c.sessions == 1)


def test_every_cell_has_its_measures(result) -> None:
    for cell in result.cells:
        assert cell.runs == 2 and cell.latency_median_s > 0 and 0 <= cell.optimal_share <= 1
        assert cell.echo_mean is not None and cell.echo_ci95 is not None


async def test_integrity_reads_incomplete_and_torn_turns(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "home") as store:
        await starting_field(store, "default", load_bootstrap(), Memory.load(), standard_prompts())
        assert (await integrity(store, "default", WARMUP)).incomplete_turns == 0
        damage(store.field_path("default", "haiku"))
        found = await integrity(store, "default", WARMUP)
    assert found.incomplete_turns == 2, "a disturbance without a turn, a turn without rows"
    assert found.torn_snapshots == 1, "the new turn saw 3 turns, 10 were committed before it"
    assert found.audit_violations > 0


def damage(path: Path) -> None:
    """Write behind the field's back what an unguarded run could leave: an orphan disturbance, a count no text
    accounts for, a turn with no rows that saw the wrong number of turns."""
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO disturbances (source, body, created, tokens) VALUES ('user', 'orphan', 0, 1)")
    conn.execute("UPDATE words SET heard = heard + 1 WHERE word = 'the'")  # a count no stored text accounts for
    conn.execute("INSERT INTO turns (created, seen_turns, metrics) VALUES (0, 3, '{}')")
    conn.commit()
    conn.close()


def test_bootstrap_interval() -> None:
    values = [0.1, 0.2, 0.3, 0.4]
    low, high = bootstrap_interval(values, random.Random(0))
    assert 0.1 <= low <= 0.25 <= high <= 0.4
    assert bootstrap_interval([0.5], random.Random(0)) is None


def test_quick_mode_from_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "HARMONIX_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "harmonix", "experiment", "lock-isolation", "--quick", "--json",
                           "--report-dir", str(tmp_path / "report")], capture_output=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    document = json.loads(done.stdout)
    assert len(document["cells"]) == 8
    assert (tmp_path / "report" / "lock-isolation.md").read_text().startswith("# Does the lock matter?")
    assert (tmp_path / "report" / "lock-isolation.png").stat().st_size > 1000
