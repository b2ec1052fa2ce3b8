"""``harmonix chat``: a conversation with a whole colony, one cascade per line (here, or on a server with
``--server``), each organism's panel drawn the moment it finishes.

**Lines.** From a terminal, lines are read with readline editing and a history file under the home directory, on a
daemon thread so the event loop stays free. From a pipe, they are read by the event loop itself (no thread is left
blocked on stdin when the chat ends). Commands: ``/stats`` (every field's sizes), ``/fields`` (where each field
lives), ``/help``, ``/quit``; end of input (Ctrl-D) ends the chat like ``/quit``.

**Ending at any moment.** Ctrl-C (SIGINT) and SIGTERM end the chat cleanly whenever they arrive — while the engines
load, while it waits for a line, in the middle of a breath: exit status 0, "bye" on stderr, no traceback, every
field whole. One handler (:class:`Interruption`) is installed for both signals before anything else happens, and
stays installed to the end. It never raises where the signal happens to land (a ``KeyboardInterrupt`` in the middle
of building the event loop, say, leaves a half-made object behind): it records the signal and, while the chat's
main task runs, cancels it, so a breath in flight is cancelled like any other (each organism's turn commits whole or
rolls back). A signal that arrives before the main task starts is seen by the task's first step, which ends the
chat at once. A second signal while the chat is already ending is ignored: the clean-up is short, and cutting it
short is what could leave something half-closed.

Progress lines on stderr, for people and for tests that must act at a known moment: ``ready: colony NAME`` once
the colony is open, and (when stderr is not a terminal) ``breathing in…`` as each cascade starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape

from harmonix.client import EventHandler, RemoteColony
from harmonix.colony import Colony, Harmonix
from harmonix.config import Config
from harmonix.documents import done_document, event_document, field_stats_document
from harmonix.errors import DeadlineExceeded, InvalidArgument, InvalidText, ServiceBusy
from harmonix.render import BreathView, field_table
from harmonix.text import visible

log = logging.getLogger(__name__)
HISTORY_LENGTH = 1000
COMMANDS = "/stats  /fields  /help  /quit"
HELP = "Type a prompt; /stats, /fields, /help, /quit. Ctrl-D or Ctrl-C ends."
PROMPT = "you › "
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interruption:
    """The chat's handler for SIGINT and SIGTERM (module docstring). ``received`` is the first signal, if any."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._target: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            return
        self.received = signum
        if self._target is not None:
            loop, task = self._target
            with contextlib.suppress(RuntimeError):  # the loop has closed: the chat is ending anyway
                loop.call_soon_threadsafe(task.cancel)

    @contextlib.contextmanager
    def cancelling(self, task: asyncio.Task[Any]) -> Iterator[None]:
        """While the block runs, a signal cancels ``task`` (which must be running on the current loop); a signal
        that came before the block cancels it at once."""
        self._target = (asyncio.get_running_loop(), task)
        if self.received is not None:
            raise asyncio.CancelledError
        try:
            yield
        finally:
            self._target = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle both signals for the block (the main thread only), then put the previous handlers back."""
        previous = {number: signal.signal(number, self) for number in SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


class TerminalLines:
    """Lines from a terminal: readline editing and history, read on a daemon thread; ``None`` at end of input."""

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

    async def next(self) -> str | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str | None] = loop.create_future()

        def deliver(line: str | None) -> None:
            if not answer.done():  # a signal may have cancelled the wait meanwhile
                answer.set_result(line)

        def read() -> None:
            try:
                line: str | None = input(PROMPT)
            except EOFError:
                line = None
            with contextlib.suppress(RuntimeError):  # the loop is closed: the chat ended while this line was read
                loop.call_soon_threadsafe(deliver, line)

        threading.Thread(target=read, name="harmonix-chat-input", daemon=True).start()
        return await answer

    def close(self) -> None:
        if self._readline is not None:
            self._history.parent.mkdir(parents=True, exist_ok=True)
            self._readline.write_history_file(self._history)


class PipedLines:
    """Lines from a pipe or a file, read by the event loop (UTF-8, invalid bytes kept as lone surrogates so the
    input gate refuses them with a clear message); ``None`` at end of input."""

    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None
        self._transport: asyncio.BaseTransport | None = None

    async def next(self) -> str | None:
        if self._reader is None:
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            self._transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
            self._reader = reader
        line = await self._reader.readline()
        return line.decode("utf-8", errors="surrogateescape") if line else None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class Conversation(Protocol):
    """A colony to talk to: in this process, or on a server (``--server``)."""

    name: str

    async def breathe(self, prompt: str, on_event: EventHandler) -> None:
        """One cascade; each event goes to ``on_event`` as it happens."""
        ...

    async def stats(self) -> list[dict[str, Any]]:
        """Every field's stats document."""
        ...


class HereConversation:
    """A colony open in this process."""

    def __init__(self, colony: Colony, sequential: bool) -> None:
        self.name, self._colony, self._sequential = colony.name, colony, sequential

    async def breathe(self, prompt: str, on_event: EventHandler) -> None:
        result = await self._colony.cascade(prompt, sequential=self._sequential,
                                            listener=lambda event: on_event(*event_document(event, cascade=True)))
        on_event("done", done_document(result))

    async def stats(self) -> list[dict[str, Any]]:
        return [field_stats_document(stats, location=True) for stats in await self._colony.stats()]


class RemoteConversation:
    """A colony on a ``harmonix serve`` server."""

    def __init__(self, remote: RemoteColony) -> None:
        self.name, self._remote = remote.name, remote

    async def breathe(self, prompt: str, on_event: EventHandler) -> None:
        await self._remote.cascade(prompt, on_event=on_event)

    async def stats(self) -> list[dict[str, Any]]:
        return await self._remote.stats()


@contextlib.asynccontextmanager
async def conversation(config: Config, sequential: bool) -> AsyncIterator[Conversation]:
    """The configured colony, here (engines loaded before the first line) or on ``config.server``."""
    if config.server is not None:
        if sequential:
            raise InvalidArgument("--sequential is for a cascade in this process; a server breathes in parallel")
        async with RemoteColony.open(config.server, config.api_key, config.colony) as remote:
            yield RemoteConversation(remote)
        return
    async with Harmonix.open(config) as harmonix:
        await harmonix.prepare()
        async with harmonix.colony() as colony:
            yield HereConversation(colony, sequential)


def run_chat(config: Config, *, sequential: bool, out: Console, console: Console) -> None:
    """The whole chat, from start-up to "bye" (module docstring); panels and tables go to ``out``, everything else
    to ``console``. Returns normally however it ends."""
    interruption = Interruption()
    with interruption.installed():
        console.print(HELP, style="dim")
        asyncio.run(_chat(config, sequential, out, console, interruption))
        console.print("bye", style="dim")


async def _chat(config: Config, sequential: bool, out: Console, console: Console, interruption: Interruption) -> None:
    task = asyncio.current_task()
    assert task is not None
    lines: TerminalLines | PipedLines = TerminalLines(config.home / "chat_history") if sys.stdin.isatty() \
        else PipedLines()
    try:
        with interruption.cancelling(task):
            async with conversation(config, sequential) as talking:
                console.print(f"ready: colony {talking.name}", style="dim", highlight=False, markup=False)
                await _converse(talking, lines, out, console)
    except asyncio.CancelledError:
        if interruption.received is None:
            raise
        log.debug("chat ended by signal %s", interruption.received)
    finally:
        lines.close()


async def _converse(talking: Conversation, lines: TerminalLines | PipedLines, out: Console, console: Console) -> None:
    while (line := await lines.next()) is not None:
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/help":
            console.print(COMMANDS, style="dim")
        elif line == "/stats":
            out.print(field_table(f"colony {talking.name}", await talking.stats()))
        elif line == "/fields":
            for stats in await talking.stats():
                console.print(f"{stats['name']:8} {stats['size_bytes'] / 1024:8.0f} KiB  {stats['location']}",
                              highlight=False, soft_wrap=True, markup=False)
        elif line.startswith("/"):
            console.print(f"unknown command {escape(visible(line))}; try {COMMANDS}", style="red")
        else:
            try:
                if not console.is_terminal:
                    console.print("breathing in…", style="dim")
                with console.status("breathing in…", spinner="dots"):
                    await talking.breathe(line, BreathView(out).event)
            except (InvalidText, ServiceBusy, DeadlineExceeded) as error:
                console.print(f"error: {escape(visible(str(error)))}", style="red")
