"""``harmonix chat``: a conversation with the whole system, one cascade per line.

Lines are read on a daemon thread (with readline editing and a history file under the home directory when the
terminal has one), so the event loop stays free and an interrupted program never waits for a reader.
Commands: ``/stats`` (every field's sizes), ``/fields`` (the field files), ``/help``, ``/quit``; end of input
(Ctrl-D) ends the chat like ``/quit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from harmonix.config import Config
from harmonix.errors import InvalidText
from harmonix.meta import MetaHarmonix

log = logging.getLogger(__name__)
HISTORY_LENGTH = 1000
COMMANDS = "/stats  /fields  /help  /quit"


class Lines:
    """Reads one line at a time on a daemon thread; ``None`` at end of input."""

    def __init__(self, history: Path) -> None:
        self._history = history
        try:
            import readline
        except ImportError:  # no readline on this platform: plain input() still works, without history
            self._readline = None
        else:
            self._readline = readline
            readline.set_history_length(HISTORY_LENGTH)
            if history.is_file():
                readline.read_history_file(history)

    async def next(self, prompt: str) -> str | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str | None] = loop.create_future()

        def deliver(line: str | None) -> None:
            if not answer.done():  # a Ctrl-C may have cancelled the wait meanwhile
                answer.set_result(line)

        def read() -> None:
            try:
                line: str | None = input(prompt)
            except EOFError:
                line = None
            with contextlib.suppress(RuntimeError):  # the loop is closed: the chat ended while this line was read
                loop.call_soon_threadsafe(deliver, line)

        threading.Thread(target=read, name="harmonix-chat-input", daemon=True).start()
        return await answer

    def save(self) -> None:
        if self._readline is not None:
            self._history.parent.mkdir(parents=True, exist_ok=True)
            self._readline.write_history_file(self._history)


async def run_chat(config: Config, *, sequential: bool, render: Callable[[Any], None],
                   show_stats: Callable[[], Awaitable[None]], console: Console | None = None) -> None:
    console = console or Console(stderr=True)
    lines = Lines(config.home / "chat_history")
    try:
        async with MetaHarmonix.open(config) as hub:
            while (line := await lines.next("you › ")) is not None:
                line = line.strip()
                if not line:
                    continue
                if line in ("/quit", "/exit"):
                    break
                if line == "/help":
                    console.print(COMMANDS, style="dim")
                elif line == "/stats":
                    await show_stats()
                elif line == "/fields":
                    for path in sorted(config.fields_dir.glob("*.sqlite3")):
                        console.print(f"{path.stem:8} {path.stat().st_size / 1024:8.0f} KiB  {path}", highlight=False,
                                      soft_wrap=True)
                elif line.startswith("/"):
                    console.print(f"unknown command {line}; try {COMMANDS}", style="red")
                else:
                    try:
                        with console.status("breathing in…", spinner="dots"):
                            result = await hub.cascade(line, sequential=sequential)
                    except InvalidText as error:
                        console.print(f"error: {error}", style="red")
                        continue
                    render(result)
    finally:
        lines.save()
