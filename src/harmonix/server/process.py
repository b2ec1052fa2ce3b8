"""``harmonix serve`` in a subprocess, for programs that start a real server: the benchmarks and the tests.

Every wait is on a line the server prints on stderr (``listening on URL``, then ``ready on URL``), read by a thread
of its own so the pipe never fills; nothing sleeps a fixed time. :meth:`ServerProcess.stop` sends a signal and
waits for the exit status.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

LISTENING = re.compile(r"harmonix serve: listening on (http://\S+)")
READY = "harmonix serve: ready on"
POLL_S = 0.05


class ServerProcess:
    """A running ``harmonix serve --home HOME --port 0 ARGS``."""

    def __init__(self, home: Path, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.home = home
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harmonix", "serve", "--home", str(home), "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})})
        self.url = ""
        self.lines: list[str] = []
        self.listening, self.ready, self.ended = threading.Event(), threading.Event(), threading.Event()
        self._reader = threading.Thread(target=self._read, name="harmonix-serve-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if match := LISTENING.search(line):
                self.url = match.group(1)
                self.listening.set()
            if READY in line:
                self.ready.set()
        self.ended.set()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait(self, event: threading.Event, what: str) -> None:
        """Wait for ``event`` (a line the server printed); :class:`RuntimeError` with its log if it ends first."""
        while not event.wait(POLL_S):
            if self.ended.is_set() and not event.is_set():
                raise RuntimeError(f"the server ended before it was {what}:\n{self.log[-3000:]}")

    def stop(self, number: int = signal.SIGTERM, timeout: float = 120) -> int:
        """Send ``number`` (if it still runs) and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(number)
        status = self.process.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return status

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server, every thread (Linux: ``/proc/PID/stat``)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident memory of the server (Linux: ``VmRSS``), MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS line")


@contextlib.contextmanager
def running(home: Path, args: Sequence[str] = (), *, env: dict[str, str] | None = None,
            ready: bool = True) -> Iterator[ServerProcess]:
    """A server for the block (listening, and ready too unless ``ready=False``); stopped with SIGTERM after it, and
    killed if it does not end within two minutes."""
    server = ServerProcess(home, args, env)
    try:
        server.wait(server.listening, "listening")
        if ready:
            server.wait(server.ready, "ready")
        yield server
    finally:
        try:
            server.stop()
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=30)
