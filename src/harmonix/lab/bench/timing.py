"""Timing helpers shared by the benchmarks: repeated, interleaved measurements reported as medians.

The machine is shared and noisy, so every figure is the median of several repeats, and the arms of a comparison are
measured in rotating order inside each repeat (A B C, B C A, C A B, ...): a burst of background load then hits every
arm, not one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from harmonix.progress import NO_PROGRESS, Progress


def median(values: list[float]) -> float:
    """The median of ``values`` (which must not be empty)."""
    return statistics.median(values)


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """``numerators[i] / denominators[i]`` for each repeat *i*: a ratio of two arms measured back to back, so the
    host's drift between repeats cancels out of it (a ratio of two medians would keep it)."""
    return [top / bottom for top, bottom in zip(numerators, denominators, strict=True)]


def span(values: Sequence[float]) -> tuple[float, float]:
    """The range ``(min, max)`` of ``values``, reported next to their median."""
    return min(values), max(values)


async def interleaved(arms: Mapping[str, Callable[[], Awaitable[float]]], repeats: int, *,
                      progress: Progress = NO_PROGRESS, description: str = "bench") -> dict[str, list[float]]:
    """Run every arm ``repeats`` times in rotating order; each arm returns its own measured seconds per unit."""
    names = list(arms)
    samples: dict[str, list[float]] = {name: [] for name in names}
    with progress.task(description, repeats) as task:
        for repeat in range(repeats):
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(await arms[name]())
            task.advance()
    return samples


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds``: wall time of the block (``perf_counter``)."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self._start
