"""The Field: one organism's memory and the discipline that keeps it a crystal.

Rules (docs/architecture.md, "The field discipline"), and where they live:

1. **One asyncio.Lock per Field instance.** Every public coroutine takes it exactly once, in :meth:`Field._exclusive`.
   Nothing else takes it: the SQL lives in the backend, which never sees the lock, so there are no nested
   acquisitions and no ``_unlocked`` twins by construction. A task that already holds the lock and asks again gets
   :class:`~harmonix.errors.FieldReentry` instead of a silent deadlock.
2. **One public operation = one transaction**, shipped to the backend as one list of steps
   (:mod:`harmonix.field.steps`): atomic inside the process and against other processes sharing the store. An
   error or a cancellation before the commit rolls it back.
3. **A turn holds the lock and one write transaction from its first step to its end**::

       async with field.turn() as turn:
           await turn.wrinkle(prompt)                   # the user's disturbance
           snapshot = await turn.snapshot(rng)          # sees the wrinkle
           reply = await asyncio.to_thread(generate, snapshot)   # off the event loop, lock still held
           await turn.ingest(reply)                     # the organism's own words
           await turn.record(dissonance=d, temperature=t)

   Leaving the block normally commits everything; an exception or a cancellation anywhere inside (generation
   included) rolls everything back, so a failed turn leaves the field exactly as it was. Consequence: one organism's
   turns are strictly sequential, and while a turn generates, other processes' writes to the same field wait (up to
   the store's lock timeout, then :class:`~harmonix.errors.FieldBusy`).
4. **Bad input never reaches storage**: texts are validated (:func:`harmonix.text.validate_text`) and tokenized
   before the lock is taken.
5. **A field forgets only whole rows, inside the write that overflowed it**: with a
   :class:`~harmonix.config.Retention` (the default policy unless ``retention=None``), every write
   transaction ends with a :class:`~harmonix.field.steps.Forget` step before its commit, so the field never holds
   more than the policy's newest rows, and never a half-forgotten one.

:class:`Guards` can switch the lock or the transactions off. That exists only so tests and the lock-isolation
experiment can show what goes wrong without them; real fields always run guarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from harmonix.config import Retention
from harmonix.errors import FieldClosed, FieldReentry, InvalidArgument
from harmonix.field.model import (
    SELF_SOURCE,
    USER_SOURCE,
    FieldCounts,
    FieldDump,
    FieldSnapshot,
    FieldStats,
    Forgotten,
    IngestReceipt,
    JSONValue,
    RowLedger,
    SnapshotSpec,
    TurnRecord,
    TurnView,
    WrinkleReceipt,
    WrittenRows,
)
from harmonix.field.seed import DEFAULT_SEED_WEIGHTS, Seed, SeedMode, build_seed
from harmonix.field.steps import (
    AddDisturbance,
    AddText,
    AddTurn,
    Begin,
    Commit,
    FieldStore,
    Forget,
    LoadDump,
    PutState,
    ReadCounts,
    ReadDump,
    ReadSnapshot,
    ReadTurns,
    RemoveRows,
    Rollback,
    Step,
)
from harmonix.field.store import Store
from harmonix.text import tokenize, trigrams, validate_text

FIELD_NAME = re.compile(r"[a-z][a-z0-9_-]{0,47}")
_SOURCE = re.compile(r"[a-z][a-z0-9_.:-]{0,47}")
MAX_META_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Guards:
    """Which parts of the discipline are on. Both on is the only setting for real use.

    ``Guards(lock=False)`` or ``Guards(transactions=False)`` exist so that tests can prove their invariants catch
    the defects the guards prevent, and so the lock-isolation experiment can run its unguarded arms.
    """

    lock: bool = True
    transactions: bool = True


def _check_name(kind: str, value: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidArgument(f"{kind} must match {pattern.pattern!r}, got {value!r}")
    return value


def _json(what: str, value: JSONValue) -> str:
    """Serialise metadata, metrics or state: plain JSON (str keys, no NaN), at most ``MAX_META_CHARS``."""
    try:
        encoded = json.dumps(value, allow_nan=False, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"{what} must be JSON-serialisable without NaN: {error}") from None
    if len(encoded) > MAX_META_CHARS:
        raise InvalidArgument(f"{what} is too large: {len(encoded)} characters of JSON (at most {MAX_META_CHARS})")
    try:
        encoded.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidArgument(f"{what} is not valid Unicode: {error.reason}") from None
    return encoded


def _counted(text: str) -> tuple[int, list[tuple[tuple[str, str, str], int]], list[tuple[str, int]]]:
    """Tokens, trigram deltas and word deltas of a validated text (duplicates within the text are summed)."""
    tokens = tokenize(text)
    return len(tokens), list(Counter(trigrams(tokens)).items()), list(Counter(tokens).items())


def text_step(text: str, source: str, meta: Mapping[str, JSONValue], now: float) -> AddText:
    validate_text(text)
    _check_name("source", source, _SOURCE)
    tokens, trigram_deltas, word_deltas = _counted(text)
    return AddText(source=source, body=text, created=now, tokens=tokens, meta_json=_json("meta", dict(meta)),
                   trigrams=trigram_deltas, words=word_deltas)


def disturbance_step(text: str, source: str, now: float) -> AddDisturbance:
    validate_text(text, what="prompt")
    _check_name("source", source, _SOURCE)
    tokens, trigram_deltas, word_deltas = _counted(text)
    return AddDisturbance(source=source, body=text, created=now, tokens=tokens, trigrams=trigram_deltas,
                          words=word_deltas)


def turn_step(record: TurnRecord, now: float) -> AddTurn:
    for name in ("dissonance", "temperature", "duration_ms"):
        value = getattr(record, name)
        if value is not None and not math.isfinite(value):
            raise InvalidArgument(f"turn {name} must be finite, got {value!r}")
    return AddTurn(created=now, disturbance_id=record.disturbance_id, text_id=record.text_id,
                   seen_turns=record.seen_turns, dissonance=record.dissonance, temperature=record.temperature,
                   duration_ms=record.duration_ms, metrics_json=_json("metrics", dict(record.metrics)))


def snapshot_step(rng: random.Random, spec: SnapshotSpec) -> ReadSnapshot:
    return ReadSnapshot(spec=spec, random_seed=rng.getrandbits(64), spoken_source=SELF_SOURCE)


def check_field_name(name: str) -> str:
    """``name`` if it is a valid field name (``[a-z][a-z0-9_-]{0,47}``), else :class:`InvalidArgument`."""
    return _check_name("field name", name, FIELD_NAME)


Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class Planned(Generic[Result]):
    """One step of a turn, planned but not yet run: the step, and what its result becomes once it has run."""

    step: Step
    finish: Callable[[object], Result]


class TurnBook:
    """What a turn writes, as steps, and what it remembers of them, independent of how the steps run.

    The async :class:`Turn` and the threaded :class:`harmonix.lab.sync_field.SyncTurn` share it, so the two execution
    models of the lock-isolation experiment differ only in how they run the same steps. The book remembers the
    turn's disturbance, its own text and how many turns its snapshot saw, so :meth:`record` links the metrics row to
    them; it opens the transaction with the turn's first step (:meth:`opening`). When the turn took a snapshot,
    the metrics also get ``seen_sizes``: the field's texts, trigram types and word types as that snapshot saw them
    (the field's growth, turn by turn, at no extra read)."""

    def __init__(self) -> None:
        self.began = False
        self._started = time.perf_counter()
        self._disturbance_id: int | None = None
        self._text_id: int | None = None
        self._seen_turns: int | None = None
        self._seen_sizes: dict[str, int] | None = None
        self._written: dict[str, list[int]] = {"texts": [], "disturbances": [], "turns": []}

    @property
    def written(self) -> WrittenRows:
        """The ids of every row this turn's steps wrote so far."""
        return WrittenRows(tuple(self._written["texts"]), tuple(self._written["disturbances"]),
                           tuple(self._written["turns"]))

    def opening(self, step: Step) -> list[Step]:
        """The steps to run for ``step``: preceded by ``Begin(write=True)`` when it is the turn's first."""
        if self.began:
            return [step]
        self.began = True
        return [Begin(write=True), step]

    def wrinkle(self, text: str, source: str) -> Planned[WrinkleReceipt]:
        step = disturbance_step(text, source, time.time())

        def finish(disturbance_id: object) -> WrinkleReceipt:
            assert isinstance(disturbance_id, int)
            self._disturbance_id = disturbance_id
            self._written["disturbances"].append(disturbance_id)
            return WrinkleReceipt(disturbance_id, step.tokens, sum(n for _, n in step.trigrams))

        return Planned(step, finish)

    def snapshot(self, rng: random.Random, spec: SnapshotSpec) -> Planned[FieldSnapshot]:
        def finish(snapshot: object) -> FieldSnapshot:
            assert isinstance(snapshot, FieldSnapshot)
            counts = snapshot.counts
            self._seen_turns = counts.last_turn
            self._seen_sizes = {"texts": counts.texts, "trigram_types": counts.trigram_types,
                                "word_types": counts.word_types}
            return snapshot

        return Planned(snapshot_step(rng, spec), finish)

    def ingest(self, text: str, source: str, meta: Mapping[str, JSONValue]) -> Planned[IngestReceipt]:
        step = text_step(text, source, meta, time.time())

        def finish(text_id: object) -> IngestReceipt:
            assert isinstance(text_id, int)
            self._written["texts"].append(text_id)
            if source == SELF_SOURCE:
                self._text_id = text_id
            return IngestReceipt(text_id, step.tokens, sum(n for _, n in step.trigrams))

        return Planned(step, finish)

    def set_state(self, key: str, value: JSONValue) -> Planned[None]:
        _check_name("state key", key, FIELD_NAME)
        return Planned(PutState(key=key, value_json=_json("state", value)), lambda _: None)

    def record(self, dissonance: float | None, temperature: float | None,
               metrics: Mapping[str, JSONValue]) -> Planned[int]:
        if self._seen_sizes is not None:
            metrics = {"seen_sizes": self._seen_sizes, **metrics}
        record = TurnRecord(disturbance_id=self._disturbance_id, text_id=self._text_id, seen_turns=self._seen_turns,
                            dissonance=dissonance, temperature=temperature,
                            duration_ms=(time.perf_counter() - self._started) * 1000.0, metrics=metrics)

        def finish(turn_id: object) -> int:
            assert isinstance(turn_id, int)
            self._written["turns"].append(turn_id)
            return turn_id

        return Planned(turn_step(record, time.time()), finish)


class Field:
    """One organism's memory. Open with ``async with Field.open(store, name, colony=...) as field:``."""

    def __init__(self, name: str, colony: str, store: FieldStore, guards: Guards,
                 retention: Retention | None) -> None:
        self._name = name
        self._colony = colony
        self._store = store
        self._guards = guards
        self._forget: list[Step] = [] if retention is None else [
            Forget(texts=retention.texts, disturbances=retention.disturbances, turns=retention.turns)]
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[object] | None = None
        self._open = True
        self._waiting = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, store: Store, name: str, *, colony: str = "default", create: bool = True,
                   guards: Guards = Guards(), retention: Retention | None = Retention()) -> AsyncIterator[Field]:
        """Open field ``name`` of ``colony`` in ``store`` (created if missing, unless ``create=False``) for the
        duration of the block; it keeps what ``retention`` says (``None``: everything, for ever)."""
        check_field_name(name)
        field_store = await store.open_field(colony, name, create=create, transactions=guards.transactions)
        field = cls(name, colony, field_store, guards, retention)
        try:
            yield field
        finally:
            await field._close()

    @property
    def name(self) -> str:
        return self._name

    @property
    def colony(self) -> str:
        return self._colony

    @property
    def location(self) -> str:
        return self._store.location

    @property
    def waiting(self) -> int:
        """How many operations (or turns) wait for this field's lock now: contention, for monitoring, and the
        signal a test waits on before it cancels a queued operation."""
        return self._waiting

    @property
    def steps_started(self) -> int:
        """How many steps the field's backend has begun to execute since it opened
        (:attr:`~harmonix.field.steps.FieldStore.steps_started`)."""
        return self._store.steps_started

    # --- the discipline ---------------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Hold this field's lock for one public operation or one turn. The only place the lock is taken."""
        if not self._open:
            raise FieldClosed(f"field {self._name} is closed")
        task = asyncio.current_task()
        if self._holder is task and task is not None:
            raise FieldReentry(f"field {self._name}: this task already holds the lock (use the turn's methods)")
        if not self._guards.lock:
            yield
            return
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            self._holder = task
            yield
        finally:
            self._holder = None
            self._lock.release()

    async def _transaction(self, steps: Sequence[Step], *, write: bool) -> list[object]:
        """Run ``steps`` as one transaction under the lock (a write ends by forgetting what the retention policy
        lets go); returns the steps' results."""
        async with self._exclusive():
            results = await self._store.run([Begin(write=write), *steps, *(self._forget if write else []), Commit()])
        return results[1:1 + len(steps)]

    async def _close(self) -> None:
        async with self._exclusive():
            self._open = False
            await self._store.close()

    # --- public operations: each takes the lock once and is one transaction ---------------------------------------

    async def ingest(self, text: str, source: str = SELF_SOURCE, *, ledger: RowLedger | None = None,
                     **meta: JSONValue) -> IngestReceipt:
        """Store ``text`` as the organism's own, with its trigram and word counts, atomically.

        ``source`` says where it came from ("self", "bootstrap", "meta", ...); ``meta`` is a small JSON object kept
        with it; ``ledger`` is told the new text's id once it is committed. Raises
        :class:`~harmonix.errors.InvalidText` / :class:`~harmonix.errors.InvalidArgument` before touching the field.
        """
        book = TurnBook()
        planned = book.ingest(text, source, meta)
        (text_id,) = await self._transaction([planned.step], write=True)
        receipt = planned.finish(text_id)
        if ledger is not None:
            ledger.add(self._name, book.written)
        return receipt

    async def remove(self, rows: WrittenRows) -> Forgotten:
        """Remove exactly these rows and the counts they added, in one transaction (:class:`RemoveRows`: rows the
        field no longer holds are skipped, and no removed id is given again)."""
        (forgotten,) = await self._transaction([RemoveRows(rows.texts, rows.disturbances, rows.turns)], write=True)
        assert isinstance(forgotten, Forgotten)
        return forgotten

    async def wrinkle(self, text: str, source: str = USER_SOURCE) -> WrinkleReceipt:
        """Record a user disturbance: a disturbance row plus its trigrams and words counted as *heard*.

        Never stored as the organism's own text.
        """
        planned = TurnBook().wrinkle(text, source)
        (disturbance_id,) = await self._transaction([planned.step], write=True)
        return planned.finish(disturbance_id)

    async def snapshot(self, rng: random.Random, spec: SnapshotSpec = SnapshotSpec()) -> FieldSnapshot:
        """Read a consistent, immutable :class:`FieldSnapshot`; ``rng`` chooses its random texts."""
        (snapshot,) = await self._transaction([snapshot_step(rng, spec)], write=False)
        assert isinstance(snapshot, FieldSnapshot)
        return snapshot

    async def seed(self, rng: random.Random, mode: SeedMode = "auto",
                   weights: tuple[float, float, float] = DEFAULT_SEED_WEIGHTS, words: int = 48,
                   spec: SnapshotSpec = SnapshotSpec()) -> Seed:
        """A generation seed from one snapshot: recent / trigram / random blend (see :func:`build_seed`)."""
        return build_seed(await self.snapshot(rng, spec), rng, mode=mode, weights=weights, words=words)

    async def record_turn(self, record: TurnRecord) -> int:
        """Store one per-turn metrics row; returns its id."""
        (turn_id,) = await self._transaction([turn_step(record, time.time())], write=True)
        assert isinstance(turn_id, int)
        return turn_id

    async def stats(self) -> FieldStats:
        """The field's name, colony, location, schema version and sizes (counts read in one transaction)."""
        (counts,) = await self._transaction([ReadCounts()], write=False)
        assert isinstance(counts, FieldCounts)
        return FieldStats(name=self._name, colony=self._colony, location=self._store.location,
                          schema_version=self._store.schema_version, counts=counts,
                          size_bytes=await self._store.size_bytes())

    async def turns(self, limit: int, before: int | None = None) -> tuple[TurnView, ...]:
        """Up to ``limit`` turns older than turn ``before`` (the newest when ``None``), newest first, each with the
        disturbance, own text and named texts it links to (one read transaction)."""
        if not isinstance(limit, int) or limit < 1 or (before is not None and not isinstance(before, int)):
            raise InvalidArgument(f"turns: limit must be a positive int and before an int, got {limit!r}, {before!r}")
        (turns,) = await self._transaction([ReadTurns(limit, before)], write=False)
        assert isinstance(turns, tuple)
        return turns

    async def dump(self) -> FieldDump:
        """Every row of the field, read in one transaction (export, fork, migration, fingerprints)."""
        (dump,) = await self._transaction([ReadDump()], write=False)
        assert isinstance(dump, FieldDump)
        return dump

    async def load(self, dump: FieldDump) -> None:
        """Write every row of ``dump`` into this empty field in one transaction, ids kept."""
        await self._transaction([LoadDump(dump)], write=True)

    @contextlib.asynccontextmanager
    async def turn(self, ledger: RowLedger | None = None) -> AsyncIterator[Turn]:
        """Hold the lock and one write transaction for a whole organism turn (see the module docstring); once it
        has committed, ``ledger`` is told the ids of every row it wrote."""
        async with self._exclusive():
            turn = Turn(self._name, self._store, self._forget, ledger)
            try:
                yield turn
            except BaseException:
                await turn.finish(commit=False)
                raise
            else:
                await turn.finish(commit=True)


class Turn:
    """The steps of one organism turn, all inside one held lock and one transaction. Made by :meth:`Field.turn`.

    What the turn writes and remembers is its :class:`TurnBook`; this class only runs the steps, in order."""

    def __init__(self, name: str, store: FieldStore, forget: Sequence[Step], ledger: RowLedger | None = None) -> None:
        self._name = name
        self._store = store
        self._forget = list(forget)
        self._ledger = ledger
        self._book = TurnBook()
        self._finished = False

    async def _run(self, planned: Planned[Result]) -> Result:
        if self._finished:
            raise FieldClosed(f"field {self._name}: this turn has ended")
        steps = self._book.opening(planned.step)
        return planned.finish((await self._store.run(steps))[-1])

    async def wrinkle(self, text: str, source: str = USER_SOURCE) -> WrinkleReceipt:
        """:meth:`Field.wrinkle`, inside the turn."""
        return await self._run(self._book.wrinkle(text, source))

    async def snapshot(self, rng: random.Random, spec: SnapshotSpec = SnapshotSpec()) -> FieldSnapshot:
        """:meth:`Field.snapshot`, inside the turn: it sees the turn's own writes so far."""
        return await self._run(self._book.snapshot(rng, spec))

    async def ingest(self, text: str, source: str = SELF_SOURCE, **meta: JSONValue) -> IngestReceipt:
        """:meth:`Field.ingest`, inside the turn."""
        return await self._run(self._book.ingest(text, source, meta))

    async def set_state(self, key: str, value: JSONValue) -> None:
        """Set one key of the organism's persistent state (visible in later snapshots as ``snapshot.state``)."""
        await self._run(self._book.set_state(key, value))

    async def record(self, *, dissonance: float | None = None, temperature: float | None = None,
                     **metrics: JSONValue) -> int:
        """Store this turn's metrics row, linked to its disturbance, its own text and its snapshot's turn count."""
        return await self._run(self._book.record(dissonance, temperature, metrics))

    async def finish(self, *, commit: bool) -> None:
        """End the turn: commit its transaction, or roll it back. Called by :meth:`Field.turn` only."""
        if self._finished:
            return
        self._finished = True
        if not self._book.began:
            return
        if commit:
            await self._store.run([*self._forget, Commit()])
            if self._ledger is not None:
                self._ledger.add(self._name, self._book.written)
            return
        # Rollback is queued on the database thread before the lock is released, so even if this await is
        # cancelled again, no later operation can run before it.
        await asyncio.shield(self._store.run([Rollback()]))
