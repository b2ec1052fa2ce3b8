"""The field discipline across OS processes: concurrent writers on one field, and writers killed with SIGKILL.

Inside one process the asyncio.Lock orders a field's operations; across processes only the backend's own locking
does. These tests show that each operation being one transaction (SQLite: ``BEGIN IMMEDIATE`` ... ``COMMIT`` with
``busy_timeout``) is enough: exact totals with four writers, and an all-or-nothing field after every kill. The
inverted tests take the lock timeout away (writers then collide) and switch transactions off (kills then leave
half-written operations behind).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from field_worker import text_for
from fieldtools import audit
from harmonix.errors import FieldBusy
from harmonix.field import Field, Store, open_store
from harmonix.text import tokenize

WORKER = Path(__file__).with_name("field_worker.py")


def start_worker(url: str, seed: int, count: int, *, transactions: bool = True,
                 lock_timeout_s: float = 60.0, hold: bool = False) -> subprocess.Popen[str]:
    command = [sys.executable, str(WORKER), url, str(seed), str(count), str(lock_timeout_s)]
    if not transactions:
        command.append("--no-transactions")
    if hold:
        command.append("--hold")
    worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    return worker


def four_writers(url: str, lock_timeout_s: float) -> int:
    """Four processes open the field, then ingest 100 texts each at once; returns how many writes gave up waiting."""
    workers = [start_worker(url, seed, 100, lock_timeout_s=lock_timeout_s) for seed in range(4)]
    for worker in workers:  # all four are open before any starts writing
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=240)[0].split() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    return sum(int(busy) for _, busy in outputs)


async def test_four_processes_hundred_ingests_each(store: Store, store_url: str) -> None:
    assert four_writers(store_url, lock_timeout_s=60) == 0, "no write gave up waiting"
    result = await audit(store, "shared")
    assert result.ok, result.violations
    assert result.texts == 400
    async with Field.open(store, "shared", create=False) as field:
        counts = (await field.stats()).counts
    expected = [len(tokenize(text_for(seed, i))) for seed in range(4) for i in range(100)]
    assert counts.own_words == sum(expected)
    assert counts.own_trigrams == sum(n - 2 for n in expected)


async def test_inverted_without_a_lock_timeout_writers_collide(store_url: str) -> None:
    """Proof the test above can see collisions: the same load with no time to wait produces them."""
    assert four_writers(store_url, lock_timeout_s=0.001) > 0


async def crash_violations(store: Store, url: str, *, transactions: bool, kills: int = 20,
                           stop_at_first: bool = False) -> list[str]:
    """Start a writer, SIGKILL it at a random moment mid-stream, audit the file; ``kills`` times."""
    rng = random.Random(20261121)
    violations = []
    for kill in range(kills):
        worker = start_worker(url, seed=kill, count=0, transactions=transactions)
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
        time.sleep(rng.uniform(0.05, 0.4))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        violations += [f"after kill {kill}: {v}" for v in (await audit(store, "shared")).violations]
        if violations and stop_at_first:
            break
    return violations


async def test_sigkill_mid_stream_leaves_a_whole_field(store: Store, store_url: str) -> None:
    assert await crash_violations(store, store_url, transactions=True) == []
    assert (await audit(store, "shared")).texts > 20, "the writers did write between the kills"


async def test_inverted_without_transactions_kills_leave_half_operations(store: Store, store_url: str) -> None:
    assert await crash_violations(store, store_url, transactions=False, stop_at_first=True)


async def test_a_process_killed_while_it_holds_the_field_mid_turn_frees_it_whole(store: Store, store_url: str) -> None:
    """A process dies in the middle of a turn, holding the field's lock and an open transaction: the database frees
    the lock (PostgreSQL ends the dead client's session; SQLite's lock dies with the process), the next writer goes
    on well within its lock timeout, and nothing of the dead turn is left."""
    async with Field.open(store, "shared") as field:
        await field.ingest("the field before the turn that dies")
    worker = start_worker(store_url, seed=7, count=0, hold=True)
    assert worker.stdin is not None and worker.stdout is not None
    try:
        async with open_store(store_url, lock_timeout_s=0.5) as impatient, \
                Field.open(impatient, "shared") as blocked:
            worker.stdin.write("go\n")
            worker.stdin.flush()
            assert worker.stdout.readline().strip() == "holding"
            with pytest.raises(FieldBusy):
                await blocked.ingest("a write while the turn holds the field")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    lock_timeout_s = 20.0
    async with open_store(store_url, lock_timeout_s=lock_timeout_s) as other, Field.open(other, "shared") as next_:
        started = time.monotonic()
        async with next_.turn() as turn:
            await turn.wrinkle("the next turn, after the kill")
            await turn.ingest("it goes on")
            await turn.record()
        waited = time.monotonic() - started
    assert waited < lock_timeout_s / 2, f"the next turn waited {waited:.1f} s for a dead process's lock"
    result = await audit(store, "shared")
    assert result.ok, result.violations
    assert (result.texts, result.disturbances, result.turns) == (2, 1, 1), "nothing of the dead turn is left"
    async with Field.open(store, "shared") as field:
        assert [row[2] for row in (await field.dump()).texts][0] == "the field before the turn that dies"
