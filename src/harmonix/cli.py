"""The ``harmonix`` command line.

Conventions every command keeps: ``--home DIR`` (or ``HARMONIX_HOME``) says where state lives and ``--colony NAME``
(or ``HARMONIX_COLONY``, default ``default``) which colony a command works on, given before the command or after
it; ``--json`` prints exactly one JSON object on stdout and nothing else; logs go to stderr (``-v`` for more).
Commands that run an LLM take ``--model``/``--llm-url`` (Prose, and Artist unless it has its own),
``--artist-model``/``--artist-llm-url`` and ``--llm-mode``.

Errors never end in a traceback: a :class:`~harmonix.errors.HarmonixError` prints one line on stderr (``--json``:
one error object on stdout) and exits with the status :mod:`harmonix.documents` gives it (2 for bad input, bad
configuration or something that is not there; 1 for a failure while running); Ctrl-C exits with 130.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import json
import logging
import random
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harmonix import __version__
from harmonix.client import EventHandler, RemoteColony
from harmonix.colony import Harmonix, open_config_store, open_organism
from harmonix.config import Config, check_colony_name
from harmonix.documents import (
    cascade_document,
    colony_document,
    done_document,
    error_document,
    event_document,
    exit_status,
    field_stats_document,
)
from harmonix.errors import HarmonixError, InvalidArgument
from harmonix.field import (
    ColonyInfo,
    Field,
    FieldStats,
    audit_field,
    ensure_colony,
    public_location,
)
from harmonix.field.transfer import ColonyMove
from harmonix.logs import HandledDriverErrors, VisibleFormatter
from harmonix.meta import BreathEvent
from harmonix.organisms.base import FIELDS, SYNTHESIS, plain
from harmonix.progress import terminal_progress
from harmonix.render import BreathView, field_table
from harmonix.text import visible

log = logging.getLogger("harmonix")
stdout = Console()
stderr = Console(stderr=True)
T = TypeVar("T")
COLOURS = {"haiku": "cyan", "sonnet": "magenta", "prose": "green", "artist": "yellow"}
INTERRUPTED = 130


def reproducing_command(command: str, arguments: Sequence[str]) -> str:
    """The command line a report names for reproducing it: ``arguments`` without ``--json`` and without
    ``--home DIR`` (where state lives says nothing about the result, and a path of one machine must not land in a
    committed report)."""
    kept: list[str] = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument == "--home":
            skip = True
        elif argument != "--json" and not argument.startswith("--home="):
            kept.append(argument)
    return " ".join([command, *kept])


def emit_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(plain(document), ensure_ascii=False))


def read_text_argument(text: str) -> str:
    """``-`` reads the text from stdin (as UTF-8; undecodable bytes become lone surrogates and are refused later)."""
    if text == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
    return text


def read_json_document(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or :class:`InvalidArgument` saying what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidArgument(f"{path} is not a JSON document: {error}") from None
    if not isinstance(document, dict):
        raise InvalidArgument(f"{path} does not hold a JSON object")
    return document


def write_report(path: Path | None, text: str) -> None:
    """Write a markdown report to ``path`` (its directory made), when one is given."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def show_report(report: Path | None, text: str, as_json: bool, document: Any) -> None:
    """How every lab command ends: the markdown report to ``report`` if asked, then ``document`` as the one JSON
    object (``--json``) or the report on stdout."""
    write_report(report, text)
    if as_json:
        emit_json(document)
    else:
        click.echo(text)


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


@click.group()
@click.version_option(__version__, prog_name="harmonix")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-v info, -vv debug).")
@click.option("--home", type=click.Path(path_type=Path), default=None, help="State directory, for every command.")
@click.option("--colony", default=None, help="The colony every command uses (a command's own --colony wins).")
@click.option("--database", default=None, help="sqlite:PATH or a postgresql:// URL, for every command.")
@click.pass_context
def main(context: click.Context, verbose: int, home: Path | None, colony: str | None, database: str | None) -> None:
    """Harmonix: small text-generation organisms along a constraint gradient, joined by an observer hub."""
    level = logging.WARNING - 10 * min(verbose, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(HandledDriverErrors())
    logging.basicConfig(level=level, handlers=[handler])
    context.obj = {"home": home, "colony": colony, "database": database}


# --- harmonix field … ----------------------------------------------------------------------------------------------


@main.group("field")
def field_group() -> None:
    """Look into and write to one field of a colony directly."""


async def with_field(config: Config, name: str, operation: Callable[[Field], Coroutine[Any, Any, T]], *,
                     create: bool = True) -> T:
    """Run ``operation`` on field ``name`` of the configured colony (the colony is created if missing when
    ``create``; the field too)."""
    async with open_config_store(config) as store:
        if create:
            await ensure_colony(store, config.colony)
        async with Field.open(store, name, colony=config.colony, create=create,
                              retention=config.retention) as field:
            return await operation(field)


@field_group.command("ingest")
@click.argument("name")
@click.argument("text")
@click.option("--source", default="self", show_default=True, help="Where the text came from.")
@harmonix_command()
def field_ingest(config: Config, as_json: bool, name: str, text: str, source: str) -> None:
    """Store TEXT ("-" for stdin) in field NAME as the organism's own."""
    body = read_text_argument(text)
    receipt = run(with_field(config, name, lambda field: field.ingest(body, source=source)))
    if as_json:
        emit_json({"field": name, **plain(receipt)})
    else:
        stdout.print(f"ingested text {receipt.text_id} into {name}: {receipt.tokens} tokens, "
                     f"{receipt.trigrams} trigrams")


@field_group.command("wrinkle")
@click.argument("name")
@click.argument("text")
@harmonix_command()
def field_wrinkle(config: Config, as_json: bool, name: str, text: str) -> None:
    """Disturb field NAME with TEXT ("-" for stdin), as a user would."""
    body = read_text_argument(text)
    receipt = run(with_field(config, name, lambda field: field.wrinkle(body)))
    if as_json:
        emit_json({"field": name, **plain(receipt)})
    else:
        stdout.print(f"wrinkled {name}: disturbance {receipt.disturbance_id}, {receipt.trigrams} trigrams heard")


@field_group.command("seed")
@click.argument("name")
@click.option("--seed", "rng_seed", type=int, default=None, help="RNG seed: the same seed gives the same blend.")
@click.option("--mode", type=click.Choice(["auto", "recent", "trigram", "random"]), default="auto", show_default=True)
@click.option("--words", type=click.IntRange(min=1), default=48, show_default=True, help="Word budget.")
@harmonix_command()
def field_seed(config: Config, as_json: bool, name: str, rng_seed: int | None, mode: str, words: int) -> None:
    """Show the generation seed field NAME would give (recent / trigram / random blend)."""
    rng = random.Random(rng_seed)
    seed = run(with_field(config, name, lambda field: field.seed(rng, mode=mode, words=words),  # type: ignore[arg-type]
                          create=False))
    if as_json:
        emit_json({"field": name, "text": seed.text, **plain(seed)})
    else:
        click.echo(visible(seed.text) or "(the field is empty)")


@field_group.command("stats")
@click.argument("names", nargs=-1)
@harmonix_command()
def field_stats(config: Config, as_json: bool, names: tuple[str, ...]) -> None:
    """Sizes of the fields NAMES of the colony (default: every field it holds)."""
    show_field_stats(config, as_json, run(field_summaries(config, names)))


@field_group.command("check")
@click.argument("name")
@harmonix_command()
def field_check(config: Config, as_json: bool, name: str) -> None:
    """Audit field NAME: recompute every count from its texts (exit 1 if anything disagrees)."""

    async def audit() -> Any:
        async with open_config_store(config) as store:
            return await audit_field(store, config.colony, name)

    result = run(audit())
    if as_json:
        emit_json({"field": name, "ok": result.ok, **plain(result)})
    elif result.ok:
        stdout.print(f"{name}: ok ({result.texts} texts, {result.disturbances} disturbances, {result.turns} turns)")
    else:
        stdout.print(f"{name}: {len(result.violations)} violations", *result.violations, sep="\n", markup=False)
    if not result.ok:
        sys.exit(1)


# --- organisms ------------------------------------------------------------------------------------------------------


def show_reply(reply: Any, as_json: bool, status: str) -> None:
    """One organism's reply: as one JSON object (text and details), or its text on stdout and ``status`` dimmed on
    stderr."""
    if as_json:
        emit_json({"text": reply.text, **reply.details()})
    else:
        click.echo(visible(reply.text))
        stderr.print(f"[dim]{status}[/]", highlight=False)


async def answer(config: Config, name: str, prompt: str, **options: Any) -> Any:
    """One turn of organism ``name`` of the configured colony, alone in this process."""
    async with open_organism(config, name) as organism:
        return await organism.answer(prompt, **options)  # type: ignore[attr-defined]


@main.command("haiku")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same haiku.")
@harmonix_command()
def haiku_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """HAiKU answers PROMPT ("-" for stdin) in strict 5-7-5 from its own field."""
    reply = run(answer(config, "haiku", read_text_argument(prompt), seed=seed))
    pulse = reply.pulse
    show_reply(reply, as_json, f"d={reply.dissonance:.2f}  T={reply.temperature:.2f}  novelty={pulse.novelty:.2f}  "
                               f"arousal={pulse.arousal:.2f}  entropy={pulse.entropy:.2f}  seed={reply.seed}")


@main.command("sonnet")
@click.argument("prompt")
@click.option("--context", default="", help="More text whose content words Sonnet may take up (e.g. a haiku).")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same sonnet.")
@harmonix_command()
def sonnet_command(config: Config, as_json: bool, prompt: str, context: str, seed: int | None) -> None:
    """Sonnet answers PROMPT ("-" for stdin) with 14 rhymed lines from its char-transformer."""
    reply = run(answer(config, "sonnet", read_text_argument(prompt), context=context, seed=seed))
    show_reply(reply, as_json, f"{reply.rhyme_scheme}  d={reply.dissonance:.2f}  phase={reply.phase}  "
                               f"T={reply.temperature:.2f}  seed={reply.seed}  {reply.compose_ms / 1000:.1f} s")


@main.command("prose")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same prose.")
@harmonix_command(llm=True)
def prose_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """Prose writes a paragraph from its own field; PROMPT ("-" for stdin) only disturbs it."""
    reply = run(answer(config, "prose", read_text_argument(prompt), seed=seed))
    show_reply(reply, as_json, f"d={reply.dissonance:.2f}  T={reply.temperature:.2f}  {reply.tokens} tokens  "
                               f"{reply.tokens_per_s:.0f} tok/s  {reply.backend}  seed={reply.seed}")


# --- the cascade ----------------------------------------------------------------------------------------------------


async def breathe(config: Config, prompt: str, seed: int | None, sequential: bool,
                  on_event: EventHandler | None) -> dict[str, Any]:
    """One cascade in this process, or on ``config.server`` when one is given; each event goes to ``on_event`` as
    it happens; returns the cascade document."""
    if config.server is not None:
        if sequential:
            raise InvalidArgument("--sequential is for a cascade in this process; a server breathes in parallel")
        async with RemoteColony.open(config.server, config.api_key, config.colony) as remote:
            return await remote.cascade(prompt, seed=seed, on_event=on_event)

    def heard(event: BreathEvent) -> None:
        if on_event is not None:
            on_event(*event_document(event, cascade=True))

    async with Harmonix.open(config) as harmonix, harmonix.colony() as colony:
        result = await colony.cascade(prompt, seed=seed, sequential=sequential, listener=heard)
    if on_event is not None:
        on_event("done", done_document(result))
    return cascade_document(result)


def ask_and_show(config: Config, as_json: bool, prompt: str, seed: int | None, sequential: bool,
                 only: str | None = None) -> None:
    """A cascade drawn part by part as it happens, or printed whole as one JSON object (``only``: one stage)."""
    view = BreathView(stdout)

    def show(name: str, data: dict[str, Any]) -> None:
        if only is None:
            view.event(name, data)
        elif name in ("stage", "artist") and data["organism"] == only:
            view.stage(data)

    document = run(breathe(config, read_text_argument(prompt), seed, sequential, None if as_json else show))
    if as_json:
        emit_json(document[only] if only is not None else document)


@main.command("ask")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed of the whole cascade.")
@click.option("--sequential", is_flag=True, help="Run the organisms one after another instead of in parallel.")
@harmonix_command(llm=True, remote=True)
def ask_command(config: Config, as_json: bool, prompt: str, seed: int | None, sequential: bool) -> None:
    """One cascade: HAiKU, Sonnet and Prose answer PROMPT together, Artist weaves them, the hub exhales. Each
    organism's panel appears the moment it has finished. With --server, the cascade runs on that server."""
    ask_and_show(config, as_json, prompt, seed, sequential)


@main.command("artist")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed of the whole cascade.")
@harmonix_command(llm=True, remote=True)
def artist_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """Artist's piece for PROMPT: the three voices answer first (a whole cascade runs), then Artist weaves them."""
    ask_and_show(config, as_json, prompt, seed, False, only=SYNTHESIS)


# --- fields and colonies ------------------------------------------------------------------------------------------


async def field_summaries(config: Config, names: Sequence[str] = ()) -> list[FieldStats]:
    """Stats of the colony's fields ``names``, else of every field it holds, organisms first, the hub next."""
    async with open_config_store(config) as store:
        held = await store.field_names(config.colony)
        chosen = list(names) or sorted(held, key=lambda name: (FIELDS.index(name) if name in FIELDS else len(FIELDS),
                                                               name))
        stats = []
        for name in chosen:
            async with Field.open(store, name, colony=config.colony, create=False) as field:
                stats.append(await field.stats())
        return stats


def show_field_stats(config: Config, as_json: bool, stats: list[FieldStats]) -> None:
    if as_json:
        emit_json({"home": config.home, "store": public_location(config.store_url), "colony": config.colony,
                   "fields": {s.name: s for s in stats}})
        return
    documents = [field_stats_document(s, location=True) for s in stats]
    stdout.print(field_table(f"colony {config.colony} in {public_location(config.store_url)}", documents))


@main.command("stats")
@harmonix_command()
def stats_command(config: Config, as_json: bool) -> None:
    """Every field's sizes in the colony; the hub's field (meta) counts the cascades as turns."""
    show_field_stats(config, as_json, run(field_summaries(config)))


@main.command("reset")
@click.option("--organism", "name", required=True, type=click.Choice([*FIELDS, "all"]),
              help="Whose field to erase (the hub's is 'meta').")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@harmonix_command()
def reset_command(config: Config, as_json: bool, name: str, yes: bool) -> None:
    """Erase an organism's field in the colony: its memory starts again from nothing (or from its bootstrap)."""
    names = list(FIELDS) if name == "all" else [name]
    if not yes and not click.confirm(f"Erase the field of {', '.join(names)} in colony {config.colony}?", err=True):
        raise click.Abort()

    async def reset() -> list[str]:
        async with open_config_store(config) as store:
            await store.colony(config.colony)
            return [field_name for field_name in names if await store.remove_field(config.colony, field_name)]

    removed = run(reset())
    if as_json:
        emit_json({"colony": config.colony, "reset": names, "removed": removed})
    else:
        stdout.print(f"reset {', '.join(names)} in colony {config.colony}: {len(removed)} fields erased")


@main.group("colony")
def colony_group() -> None:
    """Colonies: each one conversation's memory (its own five fields), sharing the engines."""


async def with_store(config: Config, operation: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    async with open_config_store(config) as store:
        return await operation(store)


@colony_group.command("list")
@harmonix_command()
def colony_list(config: Config, as_json: bool) -> None:
    """Every colony in the home (a listing writes nothing: a new home has none until its first breath)."""

    async def listed() -> list[ColonyInfo]:
        async with open_config_store(config, ensure_default=False) as store:
            return await store.colonies()

    colonies = run(listed())
    if as_json:
        emit_json({"colonies": [colony_document(info) for info in colonies]})
        return
    if not colonies:
        stdout.print(f"no colonies in {public_location(config.store_url)} yet; the first breath makes "
                     f"{config.colony!r}")
        return
    table = Table(title=f"colonies in {public_location(config.store_url)}")
    for column in ("colony", "created", "forked from"):
        table.add_column(column)
    for info in colonies:
        created = datetime.datetime.fromtimestamp(info.created).strftime("%Y-%m-%d %H:%M")
        table.add_row(info.name, created, info.forked_from or "")
    stdout.print(table)


@colony_group.command("create")
@click.argument("name")
@harmonix_command()
def colony_create(config: Config, as_json: bool, name: str) -> None:
    """Create an empty colony NAME."""
    info = run(with_store(config, lambda store: store.create_colony(check_colony_name(name, "NAME"))))
    emit_json(colony_document(info)) if as_json else stdout.print(f"created colony {info.name}")


@colony_group.command("fork")
@click.argument("name")
@click.argument("new")
@harmonix_command()
def colony_fork(config: Config, as_json: bool, name: str, new: str) -> None:
    """Copy colony NAME as NEW: every field as it is now, each copied in one consistent read."""
    check_colony_name(name, "NAME")
    info = run(with_store(config, lambda store: store.fork_colony(name, check_colony_name(new, "NEW"))))
    emit_json(colony_document(info)) if as_json else stdout.print(f"forked colony {name} as {info.name}")


@colony_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@harmonix_command()
def colony_remove(config: Config, as_json: bool, name: str, yes: bool) -> None:
    """Remove colony NAME and every field it holds (asks first)."""
    check_colony_name(name, "NAME")
    if not yes and not click.confirm(f"Remove colony {name} and all its fields?", err=True):
        raise click.Abort()
    run(with_store(config, lambda store: store.remove_colony(name)))
    emit_json({"removed": name}) if as_json else stdout.print(f"removed colony {name}")


def move_document(move: ColonyMove) -> dict[str, Any]:
    return {**colony_document(move.colony), "action": move.action,
            "fields": {f.name: {"rows": dict(f.rows), "sha256": f.sha256} for f in move.fields}}


@colony_group.command("export")
@click.argument("name")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")
@click.option("--format", "file_format", type=click.Choice(["colony", "finetune"]), default="colony",
              show_default=True, help="colony: every row of every field, for import; finetune: the colony's "
                                      "cascades as training pairs for Artist, in the form of its --llm-mode "
                                      "($HARMONIX_LLM_MODE; completion: prompt/completion, chat: messages).")
@harmonix_command()
def colony_export(config: Config, as_json: bool, name: str, output: Path | None, file_format: str) -> None:
    """Write colony NAME as a JSON Lines file (harmonix.field.transfer documents the format), or its cascades as
    training pairs for Artist (harmonix.finetune)."""
    from harmonix.engines.memory import Memory
    from harmonix.field.transfer import colony_lines, read_colony, summary
    from harmonix.finetune import cascades, pair_lines

    check_colony_name(name, "NAME")
    if output is None and as_json:
        raise InvalidArgument("--json reports on stdout, so the export needs --output FILE")

    async def read() -> tuple[list[str], dict[str, Any]]:
        async with open_config_store(config) as store:
            if file_format == "finetune":
                memory = await asyncio.to_thread(Memory.load)
                lines = list(pair_lines(await cascades(store, name), memory, config.llm_mode))
                return lines, {"colony": name, "format": "finetune", "pairs": len(lines)}
            info, dumps = await read_colony(store, name)
            return list(colony_lines(info, dumps)), move_document(ColonyMove(info, "exported",
                                                                             tuple(summary(d) for d in dumps)))

    lines, report = run(read())
    if output is None:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return
    temporary = output.with_name(f".{output.name}.partial")
    try:
        with open(temporary, "w", encoding="utf-8") as written:
            written.writelines(lines)
        temporary.replace(output)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InvalidArgument(f"cannot write {output}: {error.strerror or error}") from None
    if as_json:
        emit_json({**report, "output": str(output)})
    else:
        stderr.print(f"exported colony {name} to {output}", highlight=False)


@colony_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--as", "new_name", default=None, help="Import under this name instead of the file's.")
@harmonix_command()
def colony_import(config: Config, as_json: bool, file: Any, new_name: str | None) -> None:
    """Read a colony file (from `harmonix colony export`; "-" for stdin) into this store, checked before anything
    is written and verified by audit after; running it again completes a cut-short import or changes nothing."""
    from harmonix.field.transfer import load_colony, read_colony_file

    try:
        info, fields = read_colony_file(file)
    except UnicodeDecodeError as error:
        raise InvalidArgument(f"the colony file is not UTF-8: {error.reason}") from None
    name = check_colony_name(new_name if new_name is not None else info.name, "--as" if new_name else "the colony")
    target = ColonyInfo(name=name, created=info.created, owner=info.owner, forked_from=info.forked_from)

    async def load() -> ColonyMove:
        async with open_config_store(config) as store:
            return await load_colony(store, target, [dump for dump, _ in fields])

    move = run(load())
    if as_json:
        emit_json(move_document(move))
    else:
        stdout.print(f"colony {name}: {move.action} ({len(move.fields)} fields, every one verified by audit)")


@main.command("chat")
@click.option("--sequential", is_flag=True, help="Run the organisms one after another instead of in parallel.")
@harmonix_command(llm=True, remote=True)
def chat_command(config: Config, as_json: bool, sequential: bool) -> None:
    """A conversation with the whole colony, one cascade per line (history kept under the home directory).
    Ctrl-C, Ctrl-D or SIGTERM end it at any moment; a breath cut short leaves every field whole."""
    from harmonix.chat import run_chat

    if as_json:
        raise InvalidArgument("chat is interactive; use `harmonix ask --json` for one JSON answer")
    run_chat(config, sequential=sequential, out=stdout, console=stderr)


# --- harmonix serve ------------------------------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (anything but loopback needs --api-key-file).")
@click.option("--port", type=click.IntRange(0, 65535), default=8470, show_default=True, help="0: any free port.")
@click.option("--api-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="API keys, one per line; clients send one as 'Authorization: Bearer KEY'.")
@click.option("--grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds running requests get to finish on SIGTERM/SIGINT before they are cancelled.")
@click.option("--max-active", type=click.IntRange(min=1), default=8, show_default=True,
              help="Requests running at once, in total.")
@click.option("--max-waiting", type=click.IntRange(min=0), default=2, show_default=True,
              help="Requests waiting behind the running one, per organism of a colony (beyond: 429).")
@click.option("--max-open-colonies", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--idle-close", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds before an unused colony's fields are closed.")
@click.option("--deadline", type=click.FloatRange(min=1), default=600.0, show_default=True,
              help="Seconds one request may run (beyond: 504, its uncommitted turns rolled back).")
@click.option("--ping", type=click.FloatRange(min=0.1), default=15.0, show_default=True,
              help="Seconds between keep-alive comments on an event stream.")
@click.option("--open", "open_page", is_flag=True, help="Open the page (/) in a web browser once the server is ready.")
@harmonix_command(llm=True)
def serve_command(config: Config, as_json: bool, host: str, port: int, api_key_file: Path | None, grace: float,
                  max_active: int, max_waiting: int, max_open_colonies: int, idle_close: float, deadline: float,
                  ping: float, open_page: bool) -> None:
    """Serve colonies over HTTP: many conversations at once, each breath streamed as it happens (see the README's
    "Serving" section; the API is described at /openapi.json), and the page that talks to them at /."""
    from harmonix.server.auth import ApiKeys
    from harmonix.server.run import ServeOptions, serve
    from harmonix.service import ServiceLimits

    if as_json:
        raise InvalidArgument("serve runs until it is stopped; it has no --json answer")
    keys = ApiKeys.read(api_key_file) if api_key_file is not None else ApiKeys()
    limits = ServiceLimits(max_open_colonies=max_open_colonies, idle_close_s=idle_close, max_active=max_active,
                           max_waiting_per_organism=max_waiting, deadline_s=deadline)
    serve(config, ServeOptions(host=host, port=port, keys=keys, grace_s=grace, limits=limits, ping_s=ping,
                               open_page=open_page),
          verbose=click.get_current_context().find_root().params.get("verbose", 0))


# --- harmonix migrate ----------------------------------------------------------------------------------------------


@main.command("migrate")
@click.option("--from", "source", required=True, help="The store to copy from: sqlite:PATH or a postgresql:// URL.")
@click.option("--to", "target", required=True, help="The store to copy into.")
@click.option("--only", "only", multiple=True, help="Copy only this colony (repeatable).")
@harmonix_command()
def migrate_command(config: Config, as_json: bool, source: str, target: str, only: tuple[str, ...]) -> None:
    """Copy every colony of one store into another (SQLite home to PostgreSQL, or back), each field checked
    and verified by audit. A migration cut short is completed by running it again; a finished one is left as it is.
    The source is only read."""
    from harmonix.field.transfer import migrate_store

    stores = {flag: Config.load(config.home, database=url).store_url for flag, url in
              (("--from", source), ("--to", target))}
    if stores["--from"] == stores["--to"]:
        raise InvalidArgument("--from and --to name the same store")
    names = [check_colony_name(name, "--only") for name in only] or None

    async def move() -> list[ColonyMove]:
        async with open_config_store(dataclasses.replace(config, database=stores["--from"])) as origin, \
                open_config_store(dataclasses.replace(config, database=stores["--to"])) as destination:
            return await migrate_store(origin, destination, names)

    moves = run(move())
    if as_json:
        emit_json({"from": public_location(stores["--from"]), "to": public_location(stores["--to"]),
                   "colonies": [move_document(m) for m in moves]})
        return
    for m in moves:
        stdout.print(f"colony {m.colony.name}: {m.action} ({len(m.fields)} fields)")


# --- harmonix eval -------------------------------------------------------------------------------------------------


@main.command("eval")
@click.option("--prompts", "prompts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A prompt file (default: the standard set shipped with Harmonix).")
@click.option("--organisms", default="haiku,sonnet,prose,cascade", show_default=True,
              help="Comma-separated: haiku, sonnet, prose, cascade, chatbot (the plain-assistant reference).")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Replies per organism (default: one pass).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@click.option("--judge/--no-judge", default=True, show_default=True,
              help="Score prompt influence with the embedding judge (needs the eval extra).")
@click.option("--before", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An earlier `harmonix eval --json` document to show next to this run in the report.")
@click.option("--label", default=None, help="What this run measured, kept in its --json document.")
@click.option("--fluency", is_flag=True,
              help="Also score fluency with Gemma-3-270M base, beside references (needs the eval extra).")
@harmonix_command(llm=True)
def eval_command(config: Config, as_json: bool, prompts_file: Path | None, organisms: str, count: int | None,
                 report: Path | None, judge: bool, before: Path | None, label: str | None, fluency: bool) -> None:
    """The standing quality report: echo, prompt influence, dissonance, meta-talk, form, distinct-2, copy rate,
    latency, per organism, on fresh fields."""
    from harmonix.corpora import cache_dir
    from harmonix.lab.eval import EVALUATORS, markdown_report, reference_texts, run_eval
    from harmonix.lab.fluency import FluencyJudge
    from harmonix.lab.judge import Judge
    from harmonix.prompts import read_prompts

    chosen = [name.strip() for name in organisms.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in EVALUATORS]
    if unknown or not chosen:
        raise InvalidArgument(f"unknown organisms {unknown}; choose from {sorted(EVALUATORS)}")
    prompts = read_prompts(prompts_file)
    if not prompts:
        raise InvalidArgument("the prompt file holds no prompt")
    earlier = read_json_document(before) if before is not None else None
    scorer = Judge.load() if judge else None
    reader = FluencyJudge.load(cache_dir()) if fluency else None
    results = run(run_eval(prompts, chosen, count or len(prompts), progress=terminal_progress(stderr), config=config,
                           judge=scorer, fluency=reader))
    references = ({name: reader.fluency(texts) for name, texts in reference_texts(count or len(prompts)).items()}
                  if reader is not None else None)
    text = markdown_report(results, reproducing_command("harmonix eval", sys.argv[2:]), earlier, references)
    show_report(report, text, as_json, {"label": label, "prompts": len(prompts), "results": results,
                                        "fluency_references": references})


# --- harmonix experiment -------------------------------------------------------------------------------------------


@main.group("experiment")
def experiment_group() -> None:
    """Controlled experiments, reported whatever they show."""


@experiment_group.command("prose-modes")
@click.option("--arms", default=",".join(("smollm2-chat", "smollm2-completion", "gemma-completion")),
              show_default=True, help="Comma-separated arms (gemma-completion needs the gemma extra).")
@click.option("--count", type=click.IntRange(min=2), default=None, help="Prompts (default: the standard set).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command()
def prose_modes_command(config: Config, as_json: bool, arms: str, count: int | None, report: Path | None) -> None:
    """How should Prose speak? Chat and completion, SmolLM2 and Gemma, side by side (harmonix.lab.experiments)."""
    from harmonix.lab.experiments.prose_modes import ARMS, markdown, run_prose_modes
    from harmonix.lab.judge import Judge
    from harmonix.prompts import standard_prompts

    chosen = [arm.strip() for arm in arms.split(",") if arm.strip()]
    if not chosen or any(arm not in ARMS for arm in chosen):
        raise InvalidArgument(f"--arms must name some of {', '.join(ARMS)}, got {arms!r}")
    prompts = standard_prompts()
    prompts = [prompts[i % len(prompts)] for i in range(count or len(prompts))]
    results = run(run_prose_modes(prompts, chosen, config, Judge.load(), progress=terminal_progress(stderr)))
    text = markdown(results, reproducing_command("harmonix experiment prose-modes", sys.argv[3:]))
    show_report(report, text, as_json, {"arms": results})


@experiment_group.command("associations")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command()
def associations_command(config: Config, as_json: bool, report: Path | None) -> None:
    """Which source of what a prompt calls up carries its meaning? Their ceilings, judged (harmonix.lab.experiments)."""
    from harmonix.engines.memory import Memory
    from harmonix.lab.experiments.associations import markdown, run_associations
    from harmonix.lab.judge import Judge
    from harmonix.prompts import standard_prompts

    prompts = standard_prompts()
    arms = run_associations(prompts, Memory.load(), Judge.load())
    text = markdown(arms, prompts, reproducing_command("harmonix experiment associations", sys.argv[3:]))
    show_report(report, text, as_json, {"arms": [plain(arm) for arm in arms]})


@experiment_group.command("long-conversation")
@click.option("--cascades", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command(llm=True)
def long_conversation_command(config: Config, as_json: bool, cascades: int, report: Path | None) -> None:
    """Does a colony stay alive over a long conversation? Distinct-2 early and late, recurring 4-grams."""
    from harmonix.lab.experiments.long_conversation import markdown, run_long_conversation

    result = run(run_long_conversation(cascades, config, progress=terminal_progress(stderr)))
    text = markdown(result, reproducing_command("harmonix experiment long-conversation", sys.argv[3:]))
    show_report(report, text, as_json, plain(result))


@experiment_group.command("memory")
@click.option("--themes", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="A prompt file of themes that pair in file order, plus a 'between' theme (default: the shipped "
                   "data/prompts/memory.txt).")
@click.option("--pairs", type=click.IntRange(min=1), default=None, help="Only the first N pairs.")
@click.option("--gaps", default=",".join(str(gap) for gap in (0, 1, 3, 6)), show_default=True,
              help="Comma-separated numbers of unrelated prompts between the themes and the probe.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command(llm=True)
def memory_command(config: Config, as_json: bool, themes: Path | None, pairs: int | None, gaps: str,
                   report: Path | None) -> None:
    """Does what a colony heard shape what it says later? The history effect per organism, and how it fades."""
    from harmonix.lab.experiments.memory import markdown as memory_markdown
    from harmonix.lab.experiments.memory import run_memory
    from harmonix.lab.judge import Judge

    try:
        chosen = tuple(sorted({int(part) for part in gaps.split(",") if part.strip()}))
    except ValueError:
        raise InvalidArgument(f"--gaps must be comma-separated integers, got {gaps!r}") from None
    if not chosen or min(chosen) < 0:
        raise InvalidArgument("--gaps needs at least one number of 0 or more")
    result = run(run_memory(config, Judge.load(), themes, pairs=pairs, gaps=chosen,
                            progress=terminal_progress(stderr)))
    text = memory_markdown(result, reproducing_command("harmonix experiment memory", sys.argv[3:]))
    show_report(report, text, as_json, plain(result))


@experiment_group.command("lock-isolation")
@click.option("--runs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--turns", type=click.IntRange(min=1), default=20, show_default=True, help="Turns per session.")
@click.option("--sessions", default="1,4", show_default=True, help="Comma-separated concurrent session counts.")
@click.option("--quick", is_flag=True, help="2 runs x 6 turns: about a minute at most, for CI.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write lock-isolation.md and lock-isolation.png here.")
@harmonix_command()
def lock_isolation_command(config: Config, as_json: bool, runs: int, turns: int, sessions: str, quick: bool,
                           report_dir: Path | None) -> None:
    """Does the lock matter? Four arms (sync/async x lock/no lock), 1 and 4 sessions (harmonix.lab.experiments)."""
    from harmonix.lab.experiments.lock_isolation import chart, markdown, run_lock_isolation

    try:
        counts = tuple(int(part) for part in sessions.split(",") if part.strip())
    except ValueError:
        raise InvalidArgument(f"--sessions must be comma-separated integers, got {sessions!r}") from None
    if not counts or min(counts) < 1:
        raise InvalidArgument("--sessions needs at least one positive count")
    if quick:
        runs, turns = 2, 6
    result = run(run_lock_isolation(runs=runs, turns=turns, sessions=counts, progress=terminal_progress(stderr)))
    text = markdown(result, reproducing_command("harmonix experiment lock-isolation", sys.argv[3:]))
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "lock-isolation.md").write_text(text + "\n![violations and echo](lock-isolation.png)\n",
                                                     encoding="utf-8")
        chart(result, report_dir / "lock-isolation.png")
    if as_json:
        emit_json(plain(result))
    else:
        click.echo(text)


# --- harmonix train … ----------------------------------------------------------------------------------------------


@main.group("train")
def train_group() -> None:
    """Rebuild our data from the public-domain corpora (reproducible; see each command's --help)."""


@train_group.command("haiku", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def train_haiku(arguments: tuple[str, ...]) -> None:
    """Build HAiKU's bootstrap field (harmonix.lab.training.haiku_bootstrap; --help for its options)."""
    from harmonix.lab.training.haiku_bootstrap import main as build_bootstrap

    build_bootstrap(list(arguments))


@train_group.command("lexicon", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def train_lexicon(arguments: tuple[str, ...]) -> None:
    """Write the lexicon of what each word calls up, from WordNet (harmonix.lab.training.lexicon; --help for its
    options)."""
    from harmonix.lab.training.lexicon import main as build_lexicon

    build_lexicon(list(arguments))


@train_group.command("memory", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def train_memory(arguments: tuple[str, ...]) -> None:
    """Write the long-term memory the organisms start from (harmonix.lab.training.memory; --help for its options)."""
    from harmonix.lab.training.memory import main as build_memory

    build_memory(list(arguments), progress=terminal_progress(stderr))


@train_group.command("sonnet", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def train_sonnet(arguments: tuple[str, ...]) -> None:
    """Train Sonnet's char-transformer, or --eval-only (harmonix.lab.training.sonnet; --help for its options)."""
    from harmonix.lab.training.sonnet import main as train

    train(list(arguments), progress=terminal_progress(stderr))


# --- harmonix bench … ----------------------------------------------------------------------------------------------


@main.group("bench")
def bench_group() -> None:
    """Benchmarks: ratios measured side by side in one run, medians of several repeats."""


def io_options(delay_s: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--io`` (Prose and Artist on the benchmark's loopback delay server) and ``--io-delay``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        function = click.option("--io-delay", type=click.FloatRange(min=0), default=delay_s, show_default=True,
                                help="Seconds, with --io.")(function)
        return click.option("--io", "io", is_flag=True,
                            help="Prose and Artist on a loopback server that answers after a delay.")(function)

    return decorate


def refuse_llm_with_io(config: Config, io: bool) -> None:
    """``--io`` replaces the LLM: an LLM given as well is a contradiction."""
    if io and (config.prose_llm.url or config.prose_llm.model or config.artist_llm):
        raise InvalidArgument("--io puts Prose and Artist on the benchmark's own loopback server: "
                              "give no --model or --llm-url with it")


@bench_group.command("field")
@click.option("--repeats", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--ingests", type=click.IntRange(min=1), default=40, show_default=True, help="Ingests per repeat.")
@harmonix_command()
def bench_field(config: Config, as_json: bool, repeats: int, ingests: int) -> None:
    """What the field discipline costs against plain sqlite3 (see harmonix.lab.bench.field), or with --database
    postgresql://… against the plain driver on that database (see harmonix.lab.bench.field_postgres)."""
    from harmonix.field.store import POSTGRES_SCHEMES
    from harmonix.lab.bench.field import run_field_bench
    from harmonix.lab.bench.field_postgres import run_postgres_field_bench

    url = config.store_url
    result: Any
    if url.startswith(POSTGRES_SCHEMES):
        result = run(run_postgres_field_bench(url, repeats=repeats, ingests=ingests,
                                              progress=terminal_progress(stderr)))
    else:
        result = run(run_field_bench(repeats=repeats, ingests=ingests, progress=terminal_progress(stderr)))
    if as_json:
        emit_json(plain(result))
        return
    print_table(f"harmonix bench field: medians of {repeats} repeats", plain(result))


@bench_group.command("haiku")
@click.option("--turns", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--sentences", type=click.IntRange(min=1), default=500, show_default=True,
              help="markovify sentences to time.")
@harmonix_command()
def bench_haiku(config: Config, as_json: bool, turns: int, sentences: int) -> None:
    """HAiKU's compose time next to markovify's on the same text (see harmonix.lab.bench.haiku)."""
    from harmonix.lab.bench.haiku import run_haiku_bench

    result = run_haiku_bench(turns=turns, sentences=sentences, progress=terminal_progress(stderr))
    report = {**plain(result), "target_met": result.target_met}
    if as_json:
        emit_json(report)
    else:
        print_table(f"harmonix bench haiku: medians over {turns} turns", report)


@bench_group.command("sonnet")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--sonnets", type=click.IntRange(min=1), default=5, show_default=True)
@harmonix_command()
def bench_sonnet(config: Config, as_json: bool, repeats: int, sonnets: int) -> None:
    """NumPy vs torch on the same weights, batched sampling, seconds per sonnet (see harmonix.lab.bench.sonnet)."""
    from harmonix.lab.bench.sonnet import run_sonnet_bench

    result = plain(run_sonnet_bench(repeats=repeats, sonnets=sonnets, progress=terminal_progress(stderr)))
    if as_json:
        emit_json(result)
    else:
        print_table(f"harmonix bench sonnet: medians of {repeats} repeats", result)


@bench_group.command("llm")
@click.option("--repeats", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--parallel", type=click.IntRange(min=1), default=4, show_default=True)
@harmonix_command(llm=True)
def bench_llm(config: Config, as_json: bool, repeats: int, threads: int, parallel: int) -> None:
    """A GGUF model in-process (the embedded one, or --model): tokens/s, batching speedup, engine overhead (see
    harmonix.lab.bench.llm)."""
    from harmonix.lab.bench.llm import run_llm_bench

    llm = config.llm("prose")
    if llm.url is not None:
        raise InvalidArgument(f"bench llm measures a model in this process against llama.cpp itself; it cannot "
                              f"measure the server {llm.url} (give --model PATH, or none for the embedded model)")
    result = plain(run_llm_bench(repeats=repeats, threads=threads, parallel=parallel, model=llm.model,
                                 progress=terminal_progress(stderr)))
    if as_json:
        emit_json(result)
    else:
        print_table(f"harmonix bench llm: medians of {repeats} repeats", result)


@bench_group.command("threads")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--calls", type=click.IntRange(min=1), default=20, show_default=True, help="Calls per arm and repeat.")
@click.option("--contenders", type=click.IntRange(min=1), default=3, show_default=True,
              help="Threads doing the same work meanwhile, in the contended setting.")
@click.option("--tokens", type=click.IntRange(min=1), default=16, show_default=True,
              help="Tokens per llama.cpp completion.")
@harmonix_command(llm=True)
def bench_threads(config: Config, as_json: bool, repeats: int, calls: int, contenders: int, tokens: int) -> None:
    """What asyncio.to_thread costs per call of NumPy and llama.cpp work, alone and under contention, against
    calling directly (see harmonix.lab.bench.threads)."""
    from harmonix.lab.bench.threads import run_threads_bench

    llm = config.llm("prose")
    if llm.url is not None:
        raise InvalidArgument(f"bench threads measures llama.cpp in this process; it cannot measure the server "
                              f"{llm.url} (give --model PATH, or none for the embedded model)")
    result = plain(run_threads_bench(repeats=repeats, calls=calls, contenders=contenders, tokens=tokens,
                                     model=llm.model, progress=terminal_progress(stderr)))
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"harmonix bench threads: medians of {repeats} repeats, {calls} calls each, "
                        f"{contenders} contenders")
    for column in ("work", "setting", "direct ms", "to_thread ms", "ratio", "range", "overhead us"):
        table.add_column(column, justify="right")
    for kind in ("numpy", "llama"):
        for setting in ("alone", "contended"):
            row = result[kind][setting]
            low, high = row["ratio_range"]
            table.add_row(kind, setting, f"{row['direct_ms']:.3f}", f"{row['thread_ms']:.3f}", f"{row['ratio']:.3f}",
                          f"{low:.3f}-{high:.3f}", f"{row['overhead_us']:.0f}")
    stdout.print(table)
    print_table("against a stage", {**{f"{kind}.{key}": result[kind][key] for kind in ("numpy", "llama")
                                       for key in ("stage_ms", "stage_share")},
                                    **{key: result[key] for key in ("worst_ratio", "worst_stage_share", "threshold",
                                                                    "process_pool_needed")}})


@bench_group.command("cascade")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@io_options(delay_s=1.5)
@harmonix_command(llm=True)
def bench_cascade(config: Config, as_json: bool, repeats: int, io: bool, io_delay: float) -> None:
    """Parallel against sequential cascades, and against the best any schedule could do (see
    harmonix.lab.bench.cascade)."""
    from harmonix.lab.bench.cascade import run_cascade_bench

    refuse_llm_with_io(config, io)
    result = plain(run_cascade_bench(repeats=repeats, io=io, io_delay_s=io_delay, config=config,
                                     progress=terminal_progress(stderr)))
    if as_json:
        emit_json(result)
    else:
        flat = {k: v for k, v in result.items() if not isinstance(v, dict)}
        flat |= {f"{kind}.{name}": value for kind in ("stage_s", "stage_cpu_s") for name, value in result[kind].items()}
        print_table(f"harmonix bench cascade{' --io' if io else ''}: medians of {repeats} cascades", flat)


@bench_group.command("serve")
@click.option("--repeats", type=click.IntRange(min=1), default=7, show_default=True,
              help="Paired cascades, in this process and through the server.")
@click.option("--cascades", type=click.IntRange(min=1), default=8, show_default=True,
              help="Cascades in each throughput arm (one client, then four).")
@click.option("--colonies", type=click.IntRange(min=1), default=100, show_default=True,
              help="Colonies opened to measure the memory each costs.")
@click.option("--processes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Also run the four clients spread over this many servers on one --database postgresql://….")
@harmonix_command(llm=True)
def bench_serve(config: Config, as_json: bool, repeats: int, cascades: int, colonies: int, processes: int) -> None:
    """A real server under load: HTTP+SSE overhead, first event, throughput at 1 and 4 clients against the
    machine's limit, memory per colony, integrity after the run (see harmonix.lab.bench.serve)."""
    from harmonix.lab.bench.serve import run_serve_bench

    result = plain(run_serve_bench(config, repeats=repeats, cascades=cascades, colonies=colonies,
                                   processes=processes, progress=terminal_progress(stderr)))
    if as_json:
        emit_json(result)
    else:
        print_table(f"harmonix bench serve: {repeats} paired, {cascades} per throughput arm", result)


@bench_group.command("soak")
@click.option("--cascades", type=click.IntRange(min=2), default=None,
              help="Cascades in all [default: 1000; 40 with --quick].")
@click.option("--clients", type=click.IntRange(min=1), default=4, show_default=True, help="Clients breathing at once.")
@click.option("--colonies", type=click.IntRange(min=1), default=2, show_default=True, help="Colonies they share.")
@click.option("--window", type=click.IntRange(min=1), default=None,
              help="Cascades between two readings [default: 100; 10 with --quick].")
@click.option("--quick", is_flag=True, help="A short run with the same figures (for the test suite).")
@io_options(delay_s=0.5)
@click.option("--keep-turns", type=click.IntRange(min=1), default=None,
              help="The server's retention policy (HARMONIX_KEEP_TURNS) [default: its own].")
@harmonix_command(llm=True)
def bench_soak(config: Config, as_json: bool, cascades: int | None, clients: int, colonies: int, window: int | None,
               quick: bool, io: bool, io_delay: float, keep_turns: int | None) -> None:
    """A long run against a real server: memory, file descriptors, tasks, latency and field sizes per window, and
    every field whole at the end (see harmonix.lab.bench.soak)."""
    from harmonix.lab.bench.soak import run_soak_bench

    refuse_llm_with_io(config, io)
    cascades = cascades or (40 if quick else 1000)
    window = window or (10 if quick else 100)
    if cascades < 3 * window:
        raise InvalidArgument(f"--cascades must be at least three windows ({3 * window}): a warm-up, and two "
                              "measured for the slope of memory per cascade")
    result = plain(run_soak_bench(config, cascades=cascades, clients=clients, colonies=colonies, window=window, io=io,
                                  io_delay_s=io_delay, keep_turns=keep_turns, progress=terminal_progress(stderr)))
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"harmonix bench soak: {cascades} cascades, {clients} clients, {colonies} colonies")
    for column in ("cascades", "RSS MiB", "fds", "tasks", "p50 s", "colony MiB"):
        table.add_column(column, justify="right")
    for reading in result["windows"]:
        server = reading["server"]
        table.add_row(str(reading["cascades"]), f"{server['rss_mb']:.1f}", str(server["open_fds"]),
                      str(server["tasks"]), f"{reading['p50_s']:.2f}",
                      f"{sum(size['bytes'] for size in reading['fields'].values()) / 2**20 / colonies:.2f}")
    stdout.print(table)
    print_table("figures", {key: value for key, value in result.items()
                            if key not in ("windows", "baseline", "end", "field_growth_per_cascade")})
    print_table("growth per cascade", {f"{name}.{measure}": value
                                       for name, growth in result["field_growth_per_cascade"].items()
                                       for measure, value in growth.items()})


@bench_group.command("crash")
@click.option("--kills", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--clients", type=click.IntRange(min=1), default=4, show_default=True, help="Clients breathing at once.")
@click.option("--colonies", type=click.IntRange(min=1), default=2, show_default=True, help="Colonies they share.")
@click.option("--max-events", type=click.IntRange(min=1), default=1500, show_default=True,
              help="Each kill comes at the n-th event the clients receive, n drawn from 1..this.")
@click.option("--seed", type=int, default=16, show_default=True, help="Draws the kills' moments.")
@io_options(delay_s=0.5)
@harmonix_command(llm=True)
def bench_crash(config: Config, as_json: bool, kills: int, clients: int, colonies: int, max_events: int, seed: int,
                io: bool, io_delay: float) -> None:
    """SIGKILL a real server at random moments under load, restarting it each time: no acknowledged cascade lost,
    every field whole, nothing locked (see harmonix.lab.bench.crash)."""
    from harmonix.lab.bench.crash import run_crash_bench

    refuse_llm_with_io(config, io)
    result = plain(run_crash_bench(config, kills=kills, clients=clients, colonies=colonies, io=io, io_delay_s=io_delay,
                                   max_events=max_events, seed=seed, progress=terminal_progress(stderr)))
    if as_json:
        emit_json(result)
        return
    print_table(f"harmonix bench crash: {kills} kills", {k: v for k, v in result.items() if k != "problems"})
    for problem in result["problems"]:
        stderr.print(problem, markup=False, highlight=False)


@bench_group.command("growth")
@click.option("--cascades", type=click.IntRange(min=2), default=10_000, show_default=True,
              help="Simulated cascades per arm (what they write, not their generation).")
@click.option("--every", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Cascades between two readings of size and turn time.")
@click.option("--keep-turns", type=click.IntRange(min=1), default=1000, show_default=True,
              help="The retention policy of the kept arm (HARMONIX_KEEP_TURNS).")
@click.option("--samples", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed turns per organism at each reading (median).")
@harmonix_command()
def bench_growth(config: Config, as_json: bool, cascades: int, every: int, keep_turns: int, samples: int) -> None:
    """A colony's size and turn time over a long simulated life, with and without retention (see
    harmonix.lab.bench.growth)."""
    from harmonix.lab.bench.growth import run_growth_bench

    result = plain(run_growth_bench(cascades=cascades, every=every, keep_turns=keep_turns, samples=samples,
                                    progress=terminal_progress(stderr)))
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"harmonix bench growth: {cascades} simulated cascades, keeping {keep_turns} turns")
    for column in ("cascades", "arm", "MiB", "texts", "trigram types", "turn ms"):
        table.add_column(column, justify="right")
    for arm, readings in result["readings"].items():
        for reading in readings:
            table.add_row(str(reading["cascades"]), arm, f"{reading['bytes'] / 2**20:.1f}", str(reading["texts"]),
                          str(reading["trigram_types"]), f"{reading['turn_ms']:.1f}")
    stdout.print(table)
    print_table("second half of the run", {f"{key}.{arm}": value for key in ("bytes_per_cascade", "size_ratio",
                                                                            "turn_ms_ratio")
                                           for arm, value in result[key].items()})


def print_table(title: str, values: dict[str, Any]) -> None:
    """A two-column table of a benchmark's figures."""
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in values.items():
        table.add_row(key, _cell(value))
    stdout.print(table)


def _cell(value: Any) -> str:
    """One figure as a table cell: floats to four significant digits, ranges as ``low - high``."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return " - ".join(_cell(item) for item in value)
    return str(value)
