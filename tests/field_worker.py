"""A field writer in its own OS process, for test_field_processes.py.

    python field_worker.py STORE_URL SEED COUNT LOCK_TIMEOUT_S [--no-transactions] [--keep=N] [--hold]

Opens field "shared" of colony "default" in the store, prints "ready", waits for a line on stdin, then ingests COUNT
texts (0: until killed) and prints "done BUSY" where BUSY counts writes that gave up waiting for another writer
(:class:`~harmonix.errors.FieldBusy`). The texts are a pure function of (SEED, i): see
:func:`text_for`. With ``--keep=N`` the field keeps only its newest N texts (a retention policy), so every ingest
also forgets the oldest text.

With ``--hold`` it instead begins a turn, wrinkles and ingests inside it, prints "holding" and waits, the field's
lock and its transaction held, until it is killed: a process that dies mid-turn.
"""

from __future__ import annotations

import asyncio
import random
import sys

from harmonix.config import Retention
from harmonix.errors import FieldBusy
from harmonix.field import Field, Guards, open_store

SYLLABLES = ["ka", "lo", "mi", "ren", "sa", "tu", "vel", "no", "ri", "sha", "ot", "em"]
VOCABULARY = sorted({a + b for a in SYLLABLES for b in SYLLABLES})
ZIPF = [1.0 / rank for rank in range(1, len(VOCABULARY) + 1)]


def text_for(seed: int, i: int, words: int = 300) -> str:
    """The i-th text of worker ``seed``: ``words`` pseudo-words drawn with Zipfian frequencies, like real text."""
    rng = random.Random(seed * 1_000_003 + i)
    return " ".join(rng.choices(VOCABULARY, weights=ZIPF, k=words))


async def hold(field: Field, seed: int) -> None:
    async with field.turn() as turn:
        await turn.wrinkle(f"a prompt from a turn that will never end {seed}")
        await turn.ingest(text_for(seed, 0))
        print("holding", flush=True)
        await asyncio.Event().wait()


async def main(url: str, seed: int, count: int, lock_timeout_s: float, guards: Guards, retention: Retention,
               holding: bool) -> None:
    busy = 0
    async with open_store(url, lock_timeout_s=lock_timeout_s) as store, \
            Field.open(store, "shared", guards=guards, retention=retention) as field:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        if holding:
            await hold(field, seed)
        i = 0
        while count == 0 or i < count:
            try:
                await field.ingest(text_for(seed, i))
            except FieldBusy:
                busy += 1
            i += 1
    print(f"done {busy}", flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    guards = Guards(transactions="--no-transactions" not in arguments)
    keep = [int(a.split("=", 1)[1]) for a in arguments if a.startswith("--keep=")]
    retention = Retention(texts=keep[0]) if keep else Retention()
    url, seed, count, lock_timeout_s = [a for a in arguments if not a.startswith("--")]
    asyncio.run(main(url, int(seed), int(count), float(lock_timeout_s), guards, retention, "--hold" in arguments))
