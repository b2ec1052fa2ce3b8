"""Real servers for the tests: ``harmonix serve`` in a subprocess on a free port
(:mod:`harmonix.server.process`), and a stand-in LLM server. Every wait is on a signal the process gives (a line it
prints); nothing sleeps a fixed time."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from harmonix.server.process import ServerProcess, running

HERE = Path(__file__).parent
Served = ServerProcess


@contextlib.contextmanager
def served(home: Path, *args: str, env: dict[str, str] | None = None, ready: bool = True) -> Iterator[Served]:
    """``harmonix serve --home HOME --port 0 ARGS`` until the block ends."""
    with running(home, args, env=env, ready=ready) as server:
        yield server


@contextlib.contextmanager
def llm_standin(delay_s: float, probe_delay_s: float = 0.0) -> Iterator[str]:
    """A stand-in OpenAI-compatible server (``tests/llm_standin.py``) for the block; yields its URL."""
    with llm_standin_process(delay_s, probe_delay_s) as (url, _):
        yield url


@contextlib.contextmanager
def llm_standin_process(delay_s: float, probe_delay_s: float = 0.0, *,
                        mode: str | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The stand-in for the block; yields its URL and its process, which a test may end early (the LLM goes away).
    ``mode`` ``"--stall"``: its answers stop half-way, and it prints ``streaming`` on its stdout when one does;
    ``"--hostile"``: it refuses every request with terminal escapes in the message."""
    arguments = [mode] if mode else [str(delay_s), str(probe_delay_s)]
    process = subprocess.Popen([sys.executable, str(HERE / "llm_standin.py"), *arguments],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), url
        yield url, process
    finally:
        process.kill()
        process.wait(timeout=30)


class Gate:
    """The gated stand-in (``llm_standin.py --gated``): its URL, and its gate, closed until :meth:`open`."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self._process = process
        self.url = url

    def open(self) -> None:
        """Let every held answer and every later one go out (until :meth:`close`)."""
        self._say("open", "opened")

    def close(self) -> None:
        """Hold every answer from now on; returns once the stand-in has closed its gate."""
        self._say("close", "closed")

    def _say(self, command: str, reply: str) -> None:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        assert self._process.stdout.readline().strip() == reply


@contextlib.contextmanager
def gated_llm_standin() -> Iterator[Gate]:
    """A stand-in LLM whose answers wait for the test (:class:`Gate`) for the block."""
    process = subprocess.Popen([sys.executable, str(HERE / "llm_standin.py"), "--gated"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), url
        yield Gate(process, url)
    finally:
        process.kill()
        process.wait(timeout=30)


def serve_args(llm_url: str | None, *extra: str) -> Sequence[str]:
    return (*(["--llm-url", llm_url] if llm_url else []), *extra)
