"""The run log (:mod:`harmonix.field.runs`) on every store: a run's record and its events, kept in order, read from
any point, ended, asked to cancel, pruned when old, and gone with its colony."""

from __future__ import annotations

import time

import pytest

from harmonix.errors import RunNotFound
from harmonix.field import Store, ensure_colony
from harmonix.field.runs import RunEvent, RunRecord


def new_run(run_id: str, colony: str = "default", created: float | None = None) -> RunRecord:
    return RunRecord(id=run_id, colony=colony, kind="cascade", owner="someone", status="running",
                     created=time.time() if created is None else created, ended=None,
                     request={"prompt": "What is rain?", "seed": 3}, result=None, cancel_requested=False, events=0)


async def test_a_run_and_its_events(store: Store) -> None:
    async with store.runs() as runs:
        await runs.start(new_run("run-a"))
        await runs.append("run-a", [RunEvent(1, "run", {"run": "run-a"}), RunEvent(2, "token", {"text": "é"})])
        await runs.append("run-a", [RunEvent(3, "stage", {"organism": "haiku"})])
        assert [event.seq for event in await runs.events("run-a")] == [1, 2, 3]
        assert await runs.events("run-a", after=1, limit=1) == [RunEvent(2, "token", {"text": "é"})]
        assert [run.id for run in await runs.running("default", fresh_within_s=60)] == ["run-a"]
        assert await runs.running("default", fresh_within_s=-60) == [], "a run not heard from lately is not running"
        await runs.request_cancel("run-a")
        record = await runs.get("run-a")
        assert record.cancel_requested and record.events == 3 and record.request["seed"] == 3
        assert record.status == "running" and not record.finished
        await runs.end("run-a", "done", {"cascade": 1}, time.time())
        record = await runs.get("run-a")
        assert record.finished and record.result == {"cascade": 1}
        assert await runs.running("default", fresh_within_s=60) == []
        with pytest.raises(RunNotFound):
            await runs.get("run-b")


async def test_old_runs_are_pruned_and_a_removed_colony_takes_its_runs(store: Store) -> None:
    await ensure_colony(store, "other")
    async with store.runs() as runs:
        for run_id, colony in (("old", "default"), ("new", "default"), ("theirs", "other")):
            await runs.start(new_run(run_id, colony))
            await runs.append(run_id, [RunEvent(1, "run", {})])
        await runs.end("old", "failed", {"error": {"type": "X", "message": "y"}}, ended=100.0)
        await runs.end("new", "done", None, ended=time.time())
        assert await runs.prune(ended_before=time.time() - 60) == 1
        with pytest.raises(RunNotFound):
            await runs.get("old")
        assert (await runs.get("new")).status == "done"
        await runs.forget_colony("other")
        await store.remove_colony("other")
        with pytest.raises(RunNotFound):
            await runs.get("theirs")
