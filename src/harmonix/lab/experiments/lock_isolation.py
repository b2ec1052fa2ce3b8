"""``harmonix experiment lock-isolation``: does the lock matter, and for what?

The ancestors reported that going async with a lock cut their echo metric by 47 %. Between their two arms they
changed the metric's formula, the observer and its message length; the experiment that would isolate the lock was
planned and never run. This one runs it.

**The organism**: HAiKU, the same code in every arm: snapshot, :func:`harmonix.organisms.haiku.think`, its writes and
its metrics, on the same field schema with the same transactions. **The arms** change only the execution model and
the guard:

| arm            | sessions run as | guard around each turn                     |
|----------------|-----------------|--------------------------------------------|
| ``sync-nolock``  | OS threads      | none (one shared connection)               |
| ``sync-lock``    | OS threads      | ``threading.Lock`` (:class:`SyncField`)    |
| ``async-nolock`` | asyncio tasks   | none (:class:`Field` with ``Guards(lock=False)``) |
| ``async-lock``   | asyncio tasks   | the field's ``asyncio.Lock`` (:class:`Field`) |

**Conditions**: 1 session, and ``sessions`` (4) concurrent sessions driving the one shared organism.
**Controls**: every session replays the standard prompt script (``data/prompts/standard.txt``, session ``s`` from
prompt ``s * turns``); turn ``k`` of session ``s`` in run ``r`` has seed ``r * 100000 + s * 1000 + k`` in every
arm; every run starts from a fresh copy of the same starting field (HAiKU after ``WARMUP`` turns).

**Measures**, per arm and condition:

- *integrity violations*, summed over runs: failed turns (the turn raised), torn snapshots (a recorded turn whose
  snapshot did not see exactly the turns committed before it: its ``seen_turns`` differs from its position),
  incomplete turns (a disturbance or an own text with no turn row, or a turn row missing either), and audit
  violations (a count that does not match the stored texts: :func:`harmonix.field.audit_field`). All are read from
  the field after the run, the same way for every arm;
- *echo* of each reply against its prompt: the mean of the per-run means, with a 95 % bootstrap interval over runs
  (runs are the independent units: turns within a run share a field); the *optimal share* (valid replies with
  echo < 0.2, over all turns) and the *invalid* replies (no content word) apart;
- *latency*: the median seconds of a turn.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harmonix.engines.memory import Memory
from harmonix.field import SELF_SOURCE, Field, Guards, audit_field
from harmonix.field.sqlite.store import SqliteStore
from harmonix.lab.prompts import standard_prompts
from harmonix.lab.sync_field import SyncField
from harmonix.metrics import echo, is_optimal
from harmonix.organisms.haiku import Bootstrap, Haiku, load_bootstrap, snapshot_spec, think
from harmonix.progress import NO_PROGRESS, Progress

WARMUP = 10
START = "start"
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    threads: bool
    lock: bool


ARMS = (Arm("sync-nolock", True, False), Arm("sync-lock", True, True), Arm("async-nolock", False, False),
        Arm("async-lock", False, True))


@dataclass
class TurnOutcome:
    echo: float | None = None
    seconds: float = 0.0
    failed: str | None = None


@dataclass(frozen=True, slots=True)
class Integrity:
    torn_snapshots: int
    incomplete_turns: int
    audit_violations: int


@dataclass(frozen=True, slots=True)
class Cell:
    """One arm under one condition, over all runs."""

    arm: str
    sessions: int
    runs: int
    turns: int
    violations: int
    failed_turns: int
    torn_snapshots: int
    incomplete_turns: int
    audit_violations: int
    echo_mean: float | None
    echo_ci95: tuple[float, float] | None
    optimal_share: float
    invalid: int
    latency_median_s: float


@dataclass(frozen=True, slots=True)
class LockIsolation:
    runs: int
    turns: int
    sessions: tuple[int, ...]
    cells: tuple[Cell, ...]


def _seed(run: int, session: int, turn: int) -> int:
    return run * 100_000 + session * 1_000 + turn


def _prompts(script: Sequence[str], session: int, turns: int) -> list[str]:
    return [script[(session * turns + k) % len(script)] for k in range(turns)]


def _sync_turn(sync_field: SyncField, bootstrap: Bootstrap, memory: Memory, prompt: str, seed: int) -> TurnOutcome:
    """One HAiKU turn driven synchronously: the same steps as :meth:`Haiku.answer`."""
    outcome = TurnOutcome()
    started = time.perf_counter()
    rng = random.Random(seed)
    try:
        with sync_field.turn() as turn:
            turn.wrinkle(prompt)
            snapshot = turn.snapshot(rng, snapshot_spec(prompt, memory))
            thought = think(prompt, snapshot, bootstrap, memory, rng)
            for text, source in thought.writes():
                turn.ingest(text, source=source, seed=seed)
            turn.record(dissonance=thought.dissonance, temperature=thought.temperature, **thought.metrics())
        outcome.echo = echo(thought.composition.chosen.text, prompt)
    except Exception as error:  # the unguarded arm is expected to fail: the failure is what is measured
        outcome.failed = type(error).__name__
    outcome.seconds = time.perf_counter() - started
    return outcome


def _run_sync(path: Path, bootstrap: Bootstrap, memory: Memory, arm: Arm, run: int, sessions: int, turns: int,
              script: Sequence[str]) -> list[TurnOutcome]:
    outcomes: list[TurnOutcome] = []
    with SyncField.open(path, "haiku", lock=arm.lock) as sync_field:

        def session(s: int) -> None:
            for k, prompt in enumerate(_prompts(script, s, turns)):
                outcomes.append(_sync_turn(sync_field, bootstrap, memory, prompt, _seed(run, s, k)))

        threads = [threading.Thread(target=session, args=(s,), name=f"session-{s}") for s in range(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return outcomes


async def _run_async(store: SqliteStore, colony: str, bootstrap: Bootstrap, memory: Memory, arm: Arm, run: int,
                     sessions: int, turns: int, script: Sequence[str]) -> list[TurnOutcome]:
    outcomes: list[TurnOutcome] = []
    async with Field.open(store, "haiku", colony=colony, guards=Guards(lock=arm.lock)) as haiku_field:
        haiku = Haiku(haiku_field, bootstrap, memory, reflect=True)

        async def session(s: int) -> None:
            for k, prompt in enumerate(_prompts(script, s, turns)):
                outcome = TurnOutcome()
                started = time.perf_counter()
                try:
                    outcome.echo = echo((await haiku.answer(prompt, seed=_seed(run, s, k))).text, prompt)
                except Exception as error:  # measured, as in the sync arms
                    outcome.failed = type(error).__name__
                outcome.seconds = time.perf_counter() - started
                outcomes.append(outcome)

        await asyncio.gather(*(session(s) for s in range(sessions)))
    return outcomes


async def integrity(store: SqliteStore, colony: str, first_turn: int) -> Integrity:
    """The violations of the module docstring, read from the field after a run (turn rows from ``first_turn`` on
    are the run's)."""
    async with Field.open(store, "haiku", colony=colony, create=False) as haiku_field:
        dump = await haiku_field.dump()
    torn = sum(turn[4] != position for position, turn in enumerate(dump.turns) if position >= first_turn)
    answered = {turn[2] for turn in dump.turns if turn[2] is not None}
    spoken = {turn[3] for turn in dump.turns if turn[3] is not None}
    incomplete = (sum(d[0] not in answered for d in dump.disturbances)
                  + sum(t[1] == SELF_SOURCE and t[0] not in spoken for t in dump.texts)
                  + sum(turn[2] is None or turn[3] is None for turn in dump.turns))
    audit = await audit_field(store, colony, "haiku")
    return Integrity(torn, incomplete, len(audit.violations))


async def starting_field(store: SqliteStore, colony: str, bootstrap: Bootstrap, memory: Memory,
                         script: Sequence[str]) -> None:
    """HAiKU after ``WARMUP`` guarded turns: every run starts from a copy of this colony."""
    async with Field.open(store, "haiku", colony=colony) as haiku_field:
        haiku = Haiku(haiku_field, bootstrap, memory, reflect=True)
        for k in range(WARMUP):
            await haiku.answer(script[k % len(script)], seed=10_000_000 + k)


def bootstrap_interval(values: Sequence[float], rng: random.Random) -> tuple[float, float] | None:
    """95 % percentile bootstrap interval of the mean of ``values`` (``BOOTSTRAP_RESAMPLES`` resamples)."""
    if len(values) < 2:
        return None
    means = sorted(statistics.mean(rng.choices(values, k=len(values))) for _ in range(BOOTSTRAP_RESAMPLES))
    return means[int(0.025 * len(means))], means[int(0.975 * len(means)) - 1]


def _cell(arm: Arm, sessions: int, runs: list[tuple[list[TurnOutcome], Integrity]], turns: int) -> Cell:
    outcomes = [o for run, _ in runs for o in run]
    run_means = [statistics.mean(vals) for run, _ in runs if (vals := [o.echo for o in run if o.echo is not None])]
    failed = sum(o.failed is not None for o in outcomes)
    torn = sum(i.torn_snapshots for _, i in runs)
    incomplete = sum(i.incomplete_turns for _, i in runs)
    audited = sum(i.audit_violations for _, i in runs)
    replied = [o for o in outcomes if o.failed is None]
    return Cell(
        arm=arm.name, sessions=sessions, runs=len(runs), turns=turns, violations=failed + torn + incomplete + audited,
        failed_turns=failed, torn_snapshots=torn, incomplete_turns=incomplete, audit_violations=audited,
        echo_mean=statistics.mean(run_means) if run_means else None,
        echo_ci95=bootstrap_interval(run_means, random.Random(f"{arm.name}-{sessions}")),
        optimal_share=sum(is_optimal(o.echo) for o in outcomes) / len(outcomes),
        invalid=sum(o.echo is None for o in replied),
        latency_median_s=statistics.median(o.seconds for o in outcomes),
    )


async def run_lock_isolation(runs: int = 10, turns: int = 20, sessions: Sequence[int] = (1, 4),
                             arms: Sequence[Arm] = ARMS, progress: Progress = NO_PROGRESS) -> LockIsolation:
    """Every arm under every condition, ``runs`` times, each from a fresh copy (a fork) of the starting colony."""
    script = standard_prompts()
    bootstrap = await asyncio.to_thread(load_bootstrap)
    memory = await asyncio.to_thread(Memory.load)
    cells = []
    with tempfile.TemporaryDirectory(prefix="harmonix-lock-isolation-") as directory, \
            progress.task("experiment lock-isolation", len(sessions) * len(arms) * runs) as task:
        async with SqliteStore.open(Path(directory)) as store:
            await store.create_colony(START)
            await starting_field(store, START, bootstrap, memory, script)
            for count in sessions:
                for arm in arms:
                    results = []
                    for run in range(runs):
                        colony = f"{arm.name}-{count}-{run}"
                        await store.fork_colony(START, colony)
                        if arm.threads:
                            outcomes = await asyncio.to_thread(_run_sync, store.field_path(colony, "haiku"),
                                                               bootstrap, memory, arm, run, count, turns, script)
                        else:
                            outcomes = await _run_async(store, colony, bootstrap, memory, arm, run, count, turns,
                                                        script)
                        results.append((outcomes, await integrity(store, colony, WARMUP)))
                        await store.remove_colony(colony)
                        task.advance()
                    cells.append(_cell(arm, count, results, turns))
    return LockIsolation(runs=runs, turns=turns, sessions=tuple(sessions), cells=tuple(cells))


def _interval(cell: Cell) -> str:
    if cell.echo_mean is None:
        return "n/a"
    if cell.echo_ci95 is None:
        return f"{cell.echo_mean:.4f}"
    low, high = cell.echo_ci95
    return f"{cell.echo_mean:.4f} [{low:.4f}, {high:.4f}]"


def findings(result: LockIsolation) -> list[str]:
    """The result in plain sentences, computed from the figures (never written in advance)."""
    lines = []
    for count in result.sessions:
        cells = [c for c in result.cells if c.sessions == count]
        broken = [c.arm for c in cells if c.violations]
        guarded = [c for c in cells if c.arm.endswith("-lock")]
        word = "session" if count == 1 else "concurrent sessions"
        if broken:
            lines.append(f"With {count} {word}, the arms without a lock broke their field "
                         f"({', '.join(f'{c.arm}: {c.violations} violations' for c in cells if c.violations)}); "
                         f"the locked arms had {sum(c.violations for c in guarded)}.")
        else:
            lines.append(f"With {count} {word}, no arm had an integrity violation: with nothing running at the same "
                         f"time there is nothing for a lock to prevent.")
        intervals = [c.echo_ci95 for c in cells if c.echo_ci95 is not None]
        overlapping = len(intervals) == len(cells) and max(lo for lo, _ in intervals) <= min(hi for _, hi in intervals)
        if overlapping:
            lines.append(f"With {count} {word}, echo shows no measurable effect of the lock: every arm's 95 % "
                         f"interval overlaps every other's.")
        else:
            means = ", ".join(f"{c.arm} {_interval(c)}" for c in cells)
            lines.append(f"With {count} {word}, echo intervals do not all overlap: {means}.")
    return lines


def markdown(result: LockIsolation, command: str) -> str:
    rows = ["| arm | sessions | violations | failed | torn | incomplete | audit | echo mean [95 % CI] | optimal | "
            "invalid | latency (median s) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in result.cells:
        rows.append(f"| {c.arm} | {c.sessions} | **{c.violations}** | {c.failed_turns} | {c.torn_snapshots} | "
                    f"{c.incomplete_turns} | {c.audit_violations} | {_interval(c)} | {c.optimal_share:.1%} | "
                    f"{c.invalid} | {c.latency_median_s:.4f} |")
    return "\n".join([
        "# Does the lock matter? The lock-isolation experiment", "",
        f"Reproduce with: `{command}`", "",
        f"{result.runs} runs × {result.turns} turns per session, per arm and condition; HAiKU, the standard prompt "
        "script, every RNG seeded, each run from a fresh copy of the same starting field. Definitions: "
        "`harmonix/lab/experiments/lock_isolation.py`.", "",
        *rows, "",
        "**Findings**", "",
        *[f"- {line}" for line in findings(result)], "",
        "Optimal share counts every turn, failed ones included (a failed turn gave no reply), so it falls where "
        "turns fail; echo is averaged over the replies that exist.", "",
    ])


def chart(result: LockIsolation, png: Path) -> None:
    """Violations and echo per arm and condition, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    arms = [arm.name for arm in ARMS if any(c.arm == arm.name for c in result.cells)]
    width = 0.8 / len(result.sessions)
    for index, count in enumerate(result.sessions):
        cells = {c.arm: c for c in result.cells if c.sessions == count}
        positions = [a + index * width for a in range(len(arms))]
        left.bar(positions, [cells[a].violations for a in arms], width, label=f"{count} session(s)")
        means = [cells[a].echo_mean or 0.0 for a in arms]
        errors = [[m - (cells[a].echo_ci95 or (m, m))[0] for m, a in zip(means, arms, strict=True)],
                  [(cells[a].echo_ci95 or (m, m))[1] - m for m, a in zip(means, arms, strict=True)]]
        right.bar(positions, means, width, yerr=errors, capsize=3, label=f"{count} session(s)")
    for axes, title in ((left, "integrity violations (sum over runs)"), (right, "echo (mean of run means, 95 % CI)")):
        axes.set_xticks([a + width * (len(result.sessions) - 1) / 2 for a in range(len(arms))], arms)
        axes.set_title(title)
        axes.legend()
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=110)
    plt.close(figure)
