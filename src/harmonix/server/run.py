"""Running the server: the socket, uvicorn, the signals and the lines on stderr.

- The store is opened once before anything else (:func:`check_store`): a home that cannot be written is a one-line
  error and exit status 2 at start, not a failure of the first request.
- The socket is bound here, before uvicorn starts, so ``--port 0`` works (the kernel picks a free port) and the
  address printed is the real one. Without API keys only a loopback address may be bound
  (:func:`harmonix.server.auth.check_bind`).
- Two lines on stderr mark the server's life, for people and for programs that start it: ``harmonix serve:
  listening on URL (loading engines)`` once the socket accepts connections (``/health`` answers 503 meanwhile), and
  ``harmonix serve: ready on URL`` once every engine has loaded. Logs (one line per request, uvicorn's access log)
  go to stderr too.
- With ``open_page`` the page (``/``) opens in the user's web browser once the server is ready, through
  :mod:`webbrowser` (which honours ``$BROWSER``), in a thread of its own: some browsers' launchers wait for the
  browser to end, and the server must not wait with them. A line on stderr says it opened, or that no browser was
  found and where to point one.
- SIGTERM or SIGINT: uvicorn stops accepting, lets running requests finish for up to ``grace_s`` seconds, then
  cancels them (their uncommitted turns roll back); runs no request waits for (background, left running) get the
  same grace (:class:`~harmonix.server.runs.Runs`); then every colony closes and the process exits with status 0.
  uvicorn re-raises the signal it caught once it is done; the handlers installed here receive it and do nothing, so
  the exit status stays 0 instead of the signal's default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import threading
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from harmonix.colony import Harmonix
from harmonix.config import Config
from harmonix.errors import InvalidConfiguration
from harmonix.logs import HandledDriverErrors, VisibleFormatter
from harmonix.server.app import ServerSettings, create_app
from harmonix.server.auth import ApiKeys, check_bind
from harmonix.service import ColonyService, ServiceLimits

log = logging.getLogger(__name__)
DEFAULT_PORT = 8470
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class ServeOptions:
    """Where and how to serve."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    keys: ApiKeys = ApiKeys()
    grace_s: float = 30.0
    limits: ServiceLimits = ServiceLimits()
    ping_s: float = 15.0
    open_page: bool = False
    multitask: str = "enqueue"


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's loggers and ours, all to stderr in one format, control characters shown as escapes
    (:mod:`harmonix.logs`)."""
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain",
               "filters": ["handled"]}
    quiet = {"handlers": ["stderr"], "level": level, "propagate": False}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"plain": {"()": VisibleFormatter, "format": LOG_FORMAT}}, "handlers": {"stderr": handler},
            "filters": {"handled": {"()": HandledDriverErrors}},
            "loggers": {"uvicorn": quiet, "uvicorn.access": quiet, "harmonix": quiet, "psycopg": quiet}}


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=256)
    except OSError as error:
        raise InvalidConfiguration(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def page_url(url: str) -> str:
    """The page's address for a browser on this machine: a server listening on every address (``0.0.0.0``,
    ``::``) is reached on loopback."""
    for anywhere, loopback in (("http://0.0.0.0:", "http://127.0.0.1:"), ("http://[::]:", "http://[::1]:")):
        if url.startswith(anywhere):
            url = loopback + url[len(anywhere):]
    return f"{url}/"


def open_in_browser(url: str) -> None:
    """Open ``url`` in the user's web browser, off the calling thread (module docstring)."""

    def open_it() -> None:
        if webbrowser.open(url):
            print(f"harmonix serve: opened {url} in a web browser", file=sys.stderr, flush=True)
        else:
            print(f"harmonix serve: found no web browser; open {url} yourself", file=sys.stderr, flush=True)

    threading.Thread(target=open_it, name="harmonix-open-page", daemon=True).start()


@contextlib.contextmanager
def quiet_signals() -> Iterator[None]:
    """Handlers for SIGINT and SIGTERM that do nothing (module docstring): uvicorn installs its own during
    :func:`serve` and re-raises the signal to these afterwards."""

    def ignore(signum: int, frame: FrameType | None) -> None:
        log.debug("signal %s after shutdown", signum)

    previous = {number: signal.signal(number, ignore) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


async def check_store(config: Config) -> None:
    """Open the configured store once (through :class:`~harmonix.colony.Harmonix`, which loads no model until one
    is used) and close it: a home that cannot be written or a database that refuses stops
    ``serve`` here with its named error (:class:`~harmonix.errors.StoreUnavailable`, exit 2), before a socket is
    bound or a "listening" line is printed, instead of as a traceback from uvicorn's startup."""
    async with Harmonix.open(config, cascades=False):
        pass


def serve(config: Config, options: ServeOptions, *, verbose: int = 0) -> None:
    """Serve until SIGTERM or SIGINT (module docstring)."""
    import uvicorn

    check_bind(options.host, options.keys)
    asyncio.run(check_store(config))
    sock = bind(options.host, options.port)
    url = url_of(sock)

    def ready() -> None:
        print(f"harmonix serve: ready on {url}", file=sys.stderr, flush=True)
        if options.open_page:
            open_in_browser(page_url(url))

    app = create_app(lambda: ColonyService.open(config, options.limits),
                     ServerSettings(keys=options.keys, ping_s=options.ping_s, host=options.host,
                                    multitask=options.multitask, grace_s=options.grace_s), on_ready=ready)
    level = "DEBUG" if verbose > 1 else "INFO"
    server = uvicorn.Server(uvicorn.Config(app, log_config=log_config(level), log_level=level.lower(),
                                           timeout_graceful_shutdown=int(options.grace_s), lifespan="on",
                                           access_log=True, server_header=False))

    async def run() -> None:
        print(f"harmonix serve: listening on {url} (loading engines)", file=sys.stderr, flush=True)
        await server.serve(sockets=[sock])

    with quiet_signals():
        asyncio.run(run())
    sock.close()
