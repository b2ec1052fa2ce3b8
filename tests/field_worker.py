"""A field writer in its own OS process, for test_field_processes.py.

    python field_worker.py PATH SEED COUNT BUSY_TIMEOUT_S [--no-transactions]

Opens the field, prints "ready", waits for a line on stdin, then ingests COUNT texts (0: until killed) and prints
"done LOCKED" where LOCKED counts "database is locked" errors. The texts are a pure function of (SEED, i): see
:func:`text_for`.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys

from harmonix.field import Field, Guards

SYLLABLES = ["ka", "lo", "mi", "ren", "sa", "tu", "vel", "no", "ri", "sha", "ot", "em"]
VOCABULARY = sorted({a + b for a in SYLLABLES for b in SYLLABLES})
ZIPF = [1.0 / rank for rank in range(1, len(VOCABULARY) + 1)]


def text_for(seed: int, i: int, words: int = 300) -> str:
    """The i-th text of worker ``seed``: ``words`` pseudo-words drawn with Zipfian frequencies, like real text."""
    rng = random.Random(seed * 1_000_003 + i)
    return " ".join(rng.choices(VOCABULARY, weights=ZIPF, k=words))


async def main(path: str, seed: int, count: int, busy_timeout_s: float, guards: Guards) -> None:
    locked = 0
    async with Field.open(path, "shared", guards=guards, busy_timeout_s=busy_timeout_s) as field:
        print("ready", flush=True)
        sys.stdin.readline()
        i = 0
        while count == 0 or i < count:
            try:
                await field.ingest(text_for(seed, i))
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
                locked += 1
            i += 1
    print(f"done {locked}", flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    guards = Guards(transactions="--no-transactions" not in arguments)
    path, seed, count, busy_timeout_s = [a for a in arguments if not a.startswith("--")]
    asyncio.run(main(path, int(seed), int(count), float(busy_timeout_s), guards))
