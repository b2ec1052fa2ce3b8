"""What every command of the ``harmonix`` command line shares, its plugins' included: the common options and the
one way a command reports success (``--json``: exactly one JSON object on stdout) and failure (one line on stderr,
or one error object, and the status :mod:`harmonix.documents` gives it; Ctrl-C exits with 130).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from harmonix.colony import Harmonix
from harmonix.config import Config
from harmonix.documents import error_document, exit_status
from harmonix.errors import HarmonixError
from harmonix.organisms.base import plain
from harmonix.text import visible

stdout = Console()
stderr = Console(stderr=True)
T = TypeVar("T")
INTERRUPTED = 130


def emit_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(plain(document), ensure_ascii=False))


def read_text_argument(text: str) -> str:
    """``-`` reads the text from stdin (as UTF-8; undecodable bytes become lone surrogates and are refused later)."""
    if text == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
    return text


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def fail(error: BaseException, as_json: bool) -> None:
    """Report ``error`` (one line on stderr, or one JSON object on stdout) and exit with its status."""
    if as_json:
        emit_json(error_document(error))
    else:
        message = " ".join(visible(str(error)).split()) or type(error).__name__
        stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(exit_status(error))


def harmonix_command(*, llm: bool = False, remote: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command ``--home``, ``--colony`` and ``--json`` (with ``llm=True`` the LLM flags, with ``remote=True``
    ``--server`` and ``--api-key``), load and validate its :class:`Config` once, and turn errors and Ctrl-C into
    clean exits (module docstring)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(home: Path | None, colony: str | None, database: str | None, as_json: bool,
                    model: str | None = None,
                    llm_url: str | None = None, artist_model: str | None = None, artist_llm_url: str | None = None,
                    llm_mode: str | None = None, server: str | None = None, api_key: str | None = None,
                    **kwargs: Any) -> None:
            shared = click.get_current_context().find_root().obj or {}
            try:
                config = Config.load(home if home is not None else shared.get("home"),
                                     colony=colony if colony is not None else shared.get("colony"),
                                     prose_model=model, llm_url=llm_url, artist_model=artist_model,
                                     artist_llm_url=artist_llm_url, llm_mode=llm_mode, server=server,
                                     api_key=api_key,
                                     database=database if database is not None else shared.get("database"))
                function(config=config, as_json=as_json, **kwargs)
            except HarmonixError as error:
                fail(error, as_json)
            except KeyboardInterrupt:
                stderr.print("interrupted", style="dim")
                sys.exit(INTERRUPTED)

        options = [
            click.option("--home", type=click.Path(path_type=Path), default=None,
                         help="State directory (default: $HARMONIX_HOME, else the user's data directory)."),
            click.option("--colony", default=None,
                         help="The colony (one conversation's memory) to use (default: $HARMONIX_COLONY, else "
                              "'default')."),
            click.option("--database", default=None,
                         help="Where colonies live: sqlite:PATH or a postgresql:// URL shared by every process "
                              "(default: $HARMONIX_DATABASE_URL, else SQLite under the home)."),
            click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout."),
        ]
        if llm:
            options += [
                click.option("--model", default=None,
                             help="A GGUF model file for Prose (and Artist) (default: $HARMONIX_PROSE_MODEL, else "
                                  "the embedded SmolLM2)."),
                click.option("--llm-url", default=None,
                             help="An OpenAI-compatible server for Prose (and Artist) instead of a local model "
                                  "($HARMONIX_LLM_URL)."),
                click.option("--artist-model", default=None,
                             help="Artist's own GGUF model file ($HARMONIX_ARTIST_MODEL; default: Prose's LLM)."),
                click.option("--artist-llm-url", default=None,
                             help="Artist's own OpenAI-compatible server ($HARMONIX_ARTIST_LLM_URL)."),
                click.option("--llm-mode", default=None,
                             help="How Prose and Artist speak: completion (continuing their own memory) or chat "
                                  "($HARMONIX_LLM_MODE; default: completion)."),
            ]
        if remote:
            options += [
                click.option("--server", default=None,
                             help="A `harmonix serve` URL to breathe on instead of here ($HARMONIX_SERVER)."),
                click.option("--api-key", default=None, help="The server's API key ($HARMONIX_API_KEY)."),
            ]
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


async def with_harmonix(config: Config, operation: Callable[[Harmonix], Coroutine[Any, Any, T]], *,
                        ensure_default: bool = True) -> T:
    """Run ``operation`` on this process's :class:`~harmonix.colony.Harmonix` (no model loads for administration:
    the engines load when first used)."""
    async with Harmonix.open(config, cascades=False, ensure_default=ensure_default) as harmonix:
        return await operation(harmonix)
