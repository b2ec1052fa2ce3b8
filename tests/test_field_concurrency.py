"""The field discipline under concurrent load and cancellation, in one process.

Each invariant is checked by a function that returns its violations. The guarded test asserts there are none; the
inverted test switches one guard off (``Guards``) and asserts the same check finds violations: proof that the test
can catch the bug the guard prevents. Which guard each invariant depends on:

| invariant                                     | lock | transactions |
|-----------------------------------------------|------|--------------|
| concurrent turns are strictly sequential      | yes  |              |
| snapshots never see half a batch              |      | yes          |
| a cancelled turn leaves the field unchanged   |      | yes          |
| a cancelled operation is rolled back          |      | yes          |

Concurrent *single* operations (200 ingests) need neither guard inside one process: the field's database thread
already runs one operation at a time. That invariant is tested guarded only; the lock exists for what spans several
steps, a turn. Across processes it is the transaction (and ``busy_timeout``) that matters: test_field_processes.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from fieldtools import audit, fingerprint
from harmonix.errors import FieldBusy
from harmonix.field import Field, Guards, SnapshotSpec, Store, open_store
from harmonix.text import tokenize

GUARDED = Guards()
NO_LOCK = Guards(lock=False)
NO_TRANSACTIONS = Guards(transactions=False)
SMALL = SnapshotSpec(recent=1, random=1, trigrams=8, words=0, disturbances=1)


# --- 200 concurrent ingests ----------------------------------------------------------------------------------------


async def test_200_concurrent_ingests_exact_totals_unique_ids(store: Store) -> None:
    texts = [f"ingest carries the river stone toward batch{i}" * (1 + i % 3) for i in range(200)]
    async with Field.open(store, "test") as field:
        receipts = await asyncio.gather(*(field.ingest(text) for text in texts))
        stats = await field.stats()
    assert len({r.text_id for r in receipts}) == 200
    assert stats.counts.texts == 200
    expected_tokens = [len(tokenize(text)) for text in texts]
    assert stats.counts.own_words == sum(r.tokens for r in receipts) == sum(expected_tokens)
    assert stats.counts.own_trigrams == sum(r.trigrams for r in receipts) == sum(n - 2 for n in expected_tokens)
    assert (await audit(store, "test")).ok


# --- concurrent turns are strictly sequential ----------------------------------------------------------------------


async def turn_violations(store: Store, guards: Guards, turns: int = 200) -> list[str]:
    """Run ``turns`` concurrent turns on one field; list every way they were not strictly sequential and whole."""

    async def one_turn(field: Field, i: int) -> None:
        async with field.turn() as turn:
            await turn.wrinkle(f"prompt batch{i} asks the sea")
            await turn.snapshot(random.Random(i), SMALL)
            await asyncio.sleep(0)  # generation: other turns get the event loop here
            await turn.ingest(f"reply batch{i} answers with salt")
            await turn.record(dissonance=0.5)

    async with Field.open(store, "test", guards=guards) as field:
        outcomes = await asyncio.gather(*(one_turn(field, i) for i in range(turns)), return_exceptions=True)
        dump = await field.dump()
    violations = [f"turn raised {error!r}" for error in outcomes if isinstance(error, BaseException)]
    violations += list((await audit(store, "test")).violations)
    prompts = {row[0]: row[2] for row in dump.disturbances}
    replies = {row[0]: row[2] for row in dump.texts}
    rows = [(turn[0], turn[4], prompts.get(turn[2]), replies.get(turn[3])) for turn in dump.turns]
    if len(rows) != turns:
        violations.append(f"{len(rows)} turn rows for {turns} turns")
    for position, (turn_id, seen, prompt, reply) in enumerate(rows):
        if seen != position:
            violations.append(f"turn {turn_id} saw {seen} earlier turns, {position} were committed before it")
        if prompt is None or reply is None or prompt.split()[1] != reply.split()[1]:
            violations.append(f"turn {turn_id} links prompt {prompt!r} to reply {reply!r}")
    return violations


async def test_concurrent_turns_are_strictly_sequential(store: Store) -> None:
    assert await turn_violations(store, GUARDED) == []


async def test_inverted_without_the_lock_turns_interleave(store: Store) -> None:
    assert await turn_violations(store, NO_LOCK, turns=50)


async def test_two_fields_turn_in_parallel(store: Store) -> None:
    """Organisms share nothing: a turn on one field never waits for a turn on another.

    Each turn waits, while holding its own field's lock, for the other turn to arrive; if fields were serialised
    globally this would deadlock (and time out).
    """
    arrived = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def turn(field: Field, me: str, other: str) -> None:
        async with field.turn() as held:
            await held.wrinkle(f"prompt for {me}")
            arrived[me].set()
            await arrived[other].wait()
            await held.ingest(f"reply from {me}")

    async with Field.open(store, "a") as a, Field.open(store, "b") as b:
        async with asyncio.timeout(10):
            await asyncio.gather(turn(a, "a", "b"), turn(b, "b", "a"))
        assert (await a.stats()).counts.texts == (await b.stats()).counts.texts == 1


# --- snapshots never see half a batch ------------------------------------------------------------------------------

PROMPT = "prompt batch{} asks the grey sea"
REPLY = "reply batch{} answers with salt and cold silence"
PROMPT_TOKENS = len(tokenize(PROMPT))
REPLY_TOKENS = len(tokenize(REPLY))


async def torn_snapshot_violations(store: Store, guards: Guards, snapshots: int = 400) -> list[str]:
    """Two writers on their own connections commit batches (a turn: disturbance + text + turn row) while a third
    connection takes snapshots. Every batch adds exactly one row to three tables and fixed token counts, so a
    snapshot is whole only if its counts satisfy the linear relations below."""
    stop = asyncio.Event()

    async def writer(field: Field, base: int) -> None:
        i = 0
        while not stop.is_set():
            async with field.turn() as turn:
                await turn.wrinkle(PROMPT.format(base + i))
                await turn.ingest(REPLY.format(base + i))
                await turn.record(batch=base + i)
            i += 1

    async def reader(field: Field) -> list[str]:
        violations = []
        seen_sizes = set()
        try:
            for i in range(snapshots):
                counts = (await field.snapshot(random.Random(i), SMALL)).counts
                seen_sizes.add(counts.texts)
                whole = (
                    counts.texts == counts.disturbances == counts.turns
                    and counts.own_words == counts.texts * REPLY_TOKENS
                    and counts.own_trigrams == counts.texts * (REPLY_TOKENS - 2)
                    and counts.heard_words == counts.disturbances * PROMPT_TOKENS
                    and counts.heard_trigrams == counts.disturbances * (PROMPT_TOKENS - 2)
                )
                if not whole:
                    violations.append(f"torn snapshot: {counts}")
                    break
                await asyncio.sleep(0)
        finally:
            stop.set()
        if not violations and len(seen_sizes) < snapshots // 10:
            violations.append(f"vacuous: only {len(seen_sizes)} field sizes seen in {snapshots} snapshots")
        return violations

    async with (
        Field.open(store, "test", guards=guards) as first,
        Field.open(store, "test", guards=guards) as second,
        Field.open(store, "test", guards=guards) as observer,
    ):
        results = await asyncio.gather(writer(first, 0), writer(second, 1_000_000), reader(observer),
                                       return_exceptions=True)
    return [f"raised {r!r}" for r in results if isinstance(r, BaseException)] + (
        results[2] if isinstance(results[2], list) else []
    )


async def test_snapshots_see_each_batch_wholly_or_not_at_all(store: Store) -> None:
    assert await torn_snapshot_violations(store, GUARDED) == []
    assert (await audit(store, "test")).ok


async def test_inverted_without_transactions_snapshots_tear(store: Store) -> None:
    assert await torn_snapshot_violations(store, NO_TRANSACTIONS, snapshots=2000)


# --- cancellation --------------------------------------------------------------------------------------------------


class Probe(Exception):
    """Raised inside a probing turn so that it rolls back."""


async def write_lock_is_free(store_url: str) -> str | None:
    """``None`` if a write on field "test" can begin at once from another connection, else why not: a turn on a
    second store handle (with a one-second lock timeout) writes and rolls back."""
    async with open_store(store_url, lock_timeout_s=1.0) as other, Field.open(other, "test") as probe:
        try:
            async with probe.turn() as turn:
                await turn.wrinkle("a probe for the write lock")
                raise Probe
        except Probe:
            return None
        except FieldBusy as error:
            return f"a write transaction was left open: {error}"
    return None


async def cancelled_turn_violations(store: Store, store_url: str, guards: Guards) -> list[str]:
    """Cancel a turn while it generates (after its wrinkle and a partial ingest); list what it left behind."""
    violations = []
    async with Field.open(store, "test", guards=guards) as field:
        await field.ingest("the field before the turn")
        before = await fingerprint(store, "test")
        generating = asyncio.Event()

        async def turn() -> None:
            async with field.turn() as held:
                await held.wrinkle("a prompt that will be abandoned")
                await held.snapshot(random.Random(0))
                await held.ingest("a first stanza already written")
                generating.set()
                await asyncio.sleep(3600)

        task = asyncio.create_task(turn())
        await generating.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        if await fingerprint(store, "test") != before:
            violations.append("the cancelled turn changed the field")
        if (problem := await write_lock_is_free(store_url)) is not None:
            violations.append(problem)
        async with asyncio.timeout(5):
            await field.ingest("the field works after the cancellation")
    return violations


async def test_cancelled_turn_rolls_back_and_frees_the_lock(store: Store, store_url: str) -> None:
    assert await cancelled_turn_violations(store, store_url, GUARDED) == []


async def test_inverted_without_transactions_a_cancelled_turn_leaves_debris(store: Store, store_url: str) -> None:
    assert await cancelled_turn_violations(store, store_url, NO_TRANSACTIONS)


async def until(condition: Callable[[], bool]) -> None:
    """Give the event loop to other tasks until ``condition`` holds (a readiness signal; 5 s at most)."""
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0)


async def cancelled_operation_violations(store: Store, store_url: str, guards: Guards) -> list[str]:
    """Cancel an ingest while it is inside the backend (blocked on the write lock another connection holds, in a
    turn on a second store handle), then release that lock; list what the cancelled operation left behind."""
    violations = []
    async with Field.open(store, "test", guards=guards) as field:
        await field.ingest("the field before")
        before = await fingerprint(store, "test")
        async with open_store(store_url) as other, Field.open(other, "test") as blocker_field:
            holding, release = asyncio.Event(), asyncio.Event()

            async def blocker() -> None:
                try:
                    async with blocker_field.turn() as turn:
                        await turn.wrinkle("holding the write lock")
                        holding.set()
                        await release.wait()
                        raise Probe
                except Probe:
                    pass

            blocking = asyncio.create_task(blocker())
            await holding.wait()
            # The step that waits for the write lock: Begin, or without transactions the write itself (PostgreSQL
            # pipelines the steps, so it may have begun more of them by then).
            waits_at = field.steps_started + (1 if guards.transactions else 2)
            task = asyncio.create_task(field.ingest("an ingest that is cancelled mid-operation"))
            await until(lambda: field.steps_started >= waits_at)  # inside the backend, waiting for the lock
            task.cancel()
            release.set()
            await blocking
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5):
            await field.stats()  # queued behind the cancelled operation: it has finished when this returns
        if await fingerprint(store, "test") != before:
            violations.append("the cancelled ingest changed the field")
        async with asyncio.timeout(5):
            await field.ingest("the next operation is fine")
    return violations


async def test_cancelled_operation_is_rolled_back(store: Store, store_url: str) -> None:
    assert await cancelled_operation_violations(store, store_url, GUARDED) == []


async def test_inverted_without_transactions_a_cancelled_operation_lands(store: Store, store_url: str) -> None:
    assert await cancelled_operation_violations(store, store_url, NO_TRANSACTIONS)


async def test_operation_cancelled_while_waiting_for_the_lock_never_runs(store: Store) -> None:
    async with Field.open(store, "test") as field:
        inside = asyncio.Event()
        release = asyncio.Event()

        async def long_turn() -> None:
            async with field.turn() as turn:
                await turn.wrinkle("holding the lock")
                inside.set()
                await release.wait()

        holder = asyncio.create_task(long_turn())
        await inside.wait()
        waiter = asyncio.create_task(field.ingest("queued and cancelled"))
        await until(lambda: field.waiting == 1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        await holder
        async with asyncio.timeout(5):
            stats = await field.stats()
    assert (stats.counts.texts, stats.counts.disturbances) == (0, 1)


async def test_big_ingest_cancelled_in_flight_is_all_or_nothing(store: Store) -> None:
    words = " ".join(f"word{i % 997}" for i in range(4000))
    async with Field.open(store, "test") as field:
        for delay in (0.0, 0.001, 0.005, 0.02):
            task = asyncio.create_task(field.ingest(words))
            await asyncio.sleep(delay)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # cancelled, or done if it committed first
            async with asyncio.timeout(5):
                await field.stats()
    assert (await audit(store, "test")).ok
