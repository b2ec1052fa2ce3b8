"""The field discipline across OS processes: concurrent writers on one file, and writers killed with SIGKILL.

Inside one process the asyncio.Lock orders a field's operations; across processes only SQLite's own locking does.
These tests show that each operation being one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, with
``busy_timeout``) is enough: exact totals with four writers, and an all-or-nothing field after every kill. The
inverted crash test switches transactions off and shows the kills then leave half-written operations behind.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from field_worker import text_for
from harmonix.field import audit_field
from harmonix.text import tokenize

WORKER = Path(__file__).with_name("field_worker.py")


def start_worker(path: Path, seed: int, count: int, *, transactions: bool = True,
                 busy_timeout_s: float = 60.0) -> subprocess.Popen[str]:
    command = [sys.executable, str(WORKER), str(path), str(seed), str(count), str(busy_timeout_s)]
    if not transactions:
        command.append("--no-transactions")
    worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    return worker


def four_writers(path: Path, busy_timeout_s: float) -> int:
    """Four processes open the field, then ingest 100 texts each at once; returns their "database is locked" errors."""
    workers = [start_worker(path, seed, 100, busy_timeout_s=busy_timeout_s) for seed in range(4)]
    for worker in workers:  # all four are open before any starts writing
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=240)[0].split() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    return sum(int(locked) for _, locked in outputs)


def test_four_processes_hundred_ingests_each(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    assert four_writers(path, busy_timeout_s=60) == 0, "no 'database is locked' errors"
    audit = audit_field(path)
    assert audit.ok, audit.violations
    assert audit.texts == 400
    conn = sqlite3.connect(path)
    own_words, own_trigrams = conn.execute("SELECT sum(own), (SELECT sum(own) FROM trigrams) FROM words").fetchone()
    conn.close()
    expected = [len(tokenize(text_for(seed, i))) for seed in range(4) for i in range(100)]
    assert own_words == sum(expected)
    assert own_trigrams == sum(n - 2 for n in expected)


def test_inverted_without_busy_timeout_writers_collide(tmp_path: Path) -> None:
    """Proof the test above can see lock errors: the same load with ``busy_timeout=0`` produces them."""
    assert four_writers(tmp_path / "shared.sqlite3", busy_timeout_s=0) > 0


def crash_violations(path: Path, *, transactions: bool, kills: int = 20, stop_at_first: bool = False) -> list[str]:
    """Start a writer, SIGKILL it at a random moment mid-stream, audit the file; ``kills`` times."""
    rng = random.Random(20261121)
    violations = []
    for kill in range(kills):
        worker = start_worker(path, seed=kill, count=0, transactions=transactions)
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
        time.sleep(rng.uniform(0.05, 0.4))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        audit = audit_field(path)
        violations += [f"after kill {kill}: {v}" for v in audit.violations]
        if violations and stop_at_first:
            break
    return violations


def test_sigkill_mid_stream_leaves_a_whole_field(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    assert crash_violations(path, transactions=True) == []
    assert audit_field(path).texts > 20, "the writers did write between the kills"


def test_inverted_without_transactions_kills_leave_half_operations(tmp_path: Path) -> None:
    assert crash_violations(tmp_path / "shared.sqlite3", transactions=False, stop_at_first=True)
