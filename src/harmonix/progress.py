"""Progress of long work (an evaluation, a training run, an experiment, a benchmark), shown on stderr.

Long-running functions take a :class:`Progress` and report through it: ``with progress.task("eval prose", 72) as
task: ... task.advance(figure="0.96 s")``. They never print. The command line passes :func:`terminal_progress`, which
draws a bar with what is running, n of N, the elapsed time, an estimate of the time left and the current figure —
only when stderr is a terminal, so stdout stays clean and ``--json`` stays one object. Everything else (tests,
pipes, logs) gets :data:`NO_PROGRESS`, which does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Tracker(Protocol):
    def advance(self, steps: int = 1, *, figure: str | None = None) -> None:
        """``steps`` more of the task are done; ``figure`` is the latest measurement worth showing (a loss, a
        latency)."""
        ...


class Progress(Protocol):
    def task(self, description: str, total: int) -> contextlib.AbstractContextManager[Tracker]:
        """A task of ``total`` steps, shown while the block runs."""
        ...


class _Silent:
    def advance(self, steps: int = 1, *, figure: str | None = None) -> None:
        return None


class _NoProgress:
    """Reports nothing: for tests, pipes and library callers."""

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Tracker]:
        yield _Silent()


NO_PROGRESS: Progress = _NoProgress()


class _RichTracker:
    def __init__(self, bar: RichProgress, task_id: object) -> None:
        self._bar, self._task_id = bar, task_id

    def advance(self, steps: int = 1, *, figure: str | None = None) -> None:
        self._bar.update(self._task_id, advance=steps, figure=figure or "")  # type: ignore[arg-type]


class _RichProgress:
    """One bar per task on ``console``, removed when the task ends."""

    def __init__(self, console: Console) -> None:
        self._console = console

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Tracker]:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[figure]}"))
        with RichProgress(*columns, console=self._console, transient=True) as bar:
            yield _RichTracker(bar, bar.add_task(description, total=total, figure=""))


def terminal_progress(console: Console) -> Progress:
    """A progress bar on ``console`` when it is a terminal, else :data:`NO_PROGRESS`."""
    return _RichProgress(console) if console.is_terminal else NO_PROGRESS
