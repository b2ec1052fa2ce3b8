"""The ``harmonix`` command line.

Conventions every command keeps: ``--home DIR`` (or ``HARMONIX_HOME``) says where state lives; ``--json`` prints
exactly one JSON object on stdout and nothing else; logs go to stderr (``-v`` for more); bad input exits with
status 2 and a message naming the problem, other failures with status 1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from harmonix import __version__
from harmonix.config import Config
from harmonix.errors import HarmonixError, InvalidArgument, InvalidText
from harmonix.field import Field, audit_field

log = logging.getLogger("harmonix")
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def jsonable(value: Any) -> Any:
    """Dataclasses, mappings, tuples and paths as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def emit_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(jsonable(document), ensure_ascii=False))


def read_text_argument(text: str) -> str:
    """``-`` reads the text from stdin (as UTF-8; undecodable bytes become lone surrogates and are refused later)."""
    if text == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
    return text


def harmonix_command(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--home`` and ``--json`` to a command and turn Harmonix errors into clean exits."""

    @click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="State directory (default: $HARMONIX_HOME, else the user's data directory).")
    @click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
    @functools.wraps(function)
    def wrapper(home: Path | None, as_json: bool, **kwargs: Any) -> None:
        config = Config.load(home)
        try:
            function(config=config, as_json=as_json, **kwargs)
        except HarmonixError as error:
            status = 2 if isinstance(error, InvalidText | InvalidArgument) else 1
            if as_json:
                emit_json({"error": {"type": type(error).__name__, "message": str(error)}})
            else:
                stderr.print(f"[bold red]error:[/] {error}", highlight=False)
            sys.exit(status)

    return wrapper


@click.group()
@click.version_option(__version__, prog_name="harmonix")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Harmonix: small text-generation organisms along a constraint gradient, joined by an observer hub."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# --- harmonix field … ----------------------------------------------------------------------------------------------


@main.group("field")
def field_group() -> None:
    """Look into and write to one organism's field directly."""


@field_group.command("ingest")
@click.argument("name")
@click.argument("text")
@click.option("--source", default="self", show_default=True, help="Where the text came from.")
@harmonix_command
def field_ingest(config: Config, as_json: bool, name: str, text: str, source: str) -> None:
    """Store TEXT ("-" for stdin) in field NAME as the organism's own."""

    async def run() -> Any:
        async with Field.open(config.field_path(name), name) as field:
            return await field.ingest(read_text_argument(text), source=source)

    receipt = asyncio.run(run())
    if as_json:
        emit_json({"field": name, **jsonable(receipt)})
    else:
        stdout.print(f"ingested text {receipt.text_id} into {name}: {receipt.tokens} tokens, {receipt.trigrams} trigrams")


@field_group.command("wrinkle")
@click.argument("name")
@click.argument("text")
@harmonix_command
def field_wrinkle(config: Config, as_json: bool, name: str, text: str) -> None:
    """Disturb field NAME with TEXT ("-" for stdin), as a user would."""

    async def run() -> Any:
        async with Field.open(config.field_path(name), name) as field:
            return await field.wrinkle(read_text_argument(text))

    receipt = asyncio.run(run())
    if as_json:
        emit_json({"field": name, **jsonable(receipt)})
    else:
        stdout.print(f"wrinkled {name}: disturbance {receipt.disturbance_id}, {receipt.trigrams} trigrams heard")


@field_group.command("seed")
@click.argument("name")
@click.option("--seed", "rng_seed", type=int, default=None, help="RNG seed: the same seed gives the same blend.")
@click.option("--mode", type=click.Choice(["auto", "recent", "trigram", "random"]), default="auto", show_default=True)
@click.option("--words", type=click.IntRange(min=1), default=48, show_default=True, help="Word budget.")
@harmonix_command
def field_seed(config: Config, as_json: bool, name: str, rng_seed: int | None, mode: str, words: int) -> None:
    """Show the generation seed field NAME would give (recent / trigram / random blend)."""

    async def run() -> Any:
        async with Field.open(config.field_path(name), name) as field:
            return await field.seed(random.Random(rng_seed), mode=mode, words=words)  # type: ignore[arg-type]

    seed = asyncio.run(run())
    if as_json:
        emit_json({"field": name, "text": seed.text, **jsonable(seed)})
    else:
        stdout.print(seed.text or "(the field is empty)", highlight=False)


@field_group.command("stats")
@click.argument("names", nargs=-1)
@harmonix_command
def field_stats(config: Config, as_json: bool, names: tuple[str, ...]) -> None:
    """Sizes of the fields NAMES (default: every field under the home directory)."""
    chosen = list(names) or sorted(path.stem for path in config.fields_dir.glob("*.sqlite3"))

    async def run() -> list[Any]:
        results = []
        for name in chosen:
            async with Field.open(config.field_path(name), name) as field:
                results.append(await field.stats())
        return results

    stats = asyncio.run(run())
    if as_json:
        emit_json({"home": config.home, "fields": {s.name: s for s in stats}})
        return
    table = Table(title=f"fields in {config.home}")
    for column in ("field", "texts", "disturbances", "turns", "trigrams", "words", "size"):
        table.add_column(column, justify="left" if column == "field" else "right")
    for s in stats:
        c = s.counts
        table.add_row(s.name, str(c.texts), str(c.disturbances), str(c.turns), f"{c.own_trigrams + c.heard_trigrams}",
                      f"{c.own_words + c.heard_words}", f"{s.file_bytes / 1024:.0f} KiB")
    stdout.print(table)


@field_group.command("check")
@click.argument("name")
@harmonix_command
def field_check(config: Config, as_json: bool, name: str) -> None:
    """Audit field NAME: recompute every count from its texts (exit 1 if anything disagrees)."""
    audit = audit_field(config.field_path(name))
    if as_json:
        emit_json({"field": name, "ok": audit.ok, **jsonable(audit)})
    elif audit.ok:
        stdout.print(f"{name}: ok ({audit.texts} texts, {audit.disturbances} disturbances, {audit.turns} turns)")
    else:
        stdout.print(f"{name}: {len(audit.violations)} violations", *audit.violations, sep="\n")
    if not audit.ok:
        sys.exit(1)


# --- organisms ------------------------------------------------------------------------------------------------------


@main.command("haiku")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same haiku.")
@harmonix_command
def haiku_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """HAiKU answers PROMPT ("-" for stdin) in strict 5-7-5 from its own field."""
    from harmonix.organisms.haiku import Haiku

    async def run() -> Any:
        async with Haiku.open(config) as haiku:
            return await haiku.answer(read_text_argument(prompt), seed=seed)

    reply = asyncio.run(run())
    if as_json:
        emit_json(jsonable(reply))
        return
    stdout.print(reply.text, highlight=False)
    stderr.print(f"[dim]d={reply.dissonance:.2f}  T={reply.temperature:.2f}  novelty={reply.pulse.novelty:.2f}  "
                 f"arousal={reply.pulse.arousal:.2f}  entropy={reply.pulse.entropy:.2f}  seed={reply.seed}[/]")


# --- harmonix train … ----------------------------------------------------------------------------------------------


@main.group("train")
def train_group() -> None:
    """Rebuild our data from the public-domain corpora (reproducible; see each command's --help)."""


@train_group.command("haiku", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def train_haiku(arguments: tuple[str, ...]) -> None:
    """Build HAiKU's bootstrap field (harmonix.training.haiku_bootstrap; --help for its options)."""
    from harmonix.training.haiku_bootstrap import main as build_bootstrap

    build_bootstrap(list(arguments))


@train_group.command("sonnet", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def train_sonnet(arguments: tuple[str, ...]) -> None:
    """Train Sonnet's char-transformer, or --eval-only (harmonix.training.sonnet; --help for its options)."""
    from harmonix.training.sonnet import main as train

    train(list(arguments))


# --- harmonix bench … ----------------------------------------------------------------------------------------------


@main.group("bench")
def bench_group() -> None:
    """Benchmarks: ratios measured side by side in one run, medians of several repeats."""


@bench_group.command("field")
@click.option("--repeats", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--ingests", type=click.IntRange(min=1), default=40, show_default=True, help="Ingests per repeat.")
@harmonix_command
def bench_field(config: Config, as_json: bool, repeats: int, ingests: int) -> None:
    """What the field discipline costs against plain sqlite3 (see harmonix.bench.field)."""
    from harmonix.bench.field import run_field_bench

    result = asyncio.run(run_field_bench(repeats=repeats, ingests=ingests))
    if as_json:
        emit_json(jsonable(result))
        return
    print_table(f"harmonix bench field: medians of {repeats} repeats", jsonable(result))


@bench_group.command("haiku")
@click.option("--turns", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--sentences", type=click.IntRange(min=1), default=500, show_default=True,
              help="markovify sentences to time.")
@harmonix_command
def bench_haiku(config: Config, as_json: bool, turns: int, sentences: int) -> None:
    """HAiKU's compose time next to markovify's on the same text (see harmonix.bench.haiku)."""
    from harmonix.bench.haiku import run_haiku_bench

    result = run_haiku_bench(turns=turns, sentences=sentences)
    report = {**jsonable(result), "target_met": result.target_met}
    if as_json:
        emit_json(report)
    else:
        print_table(f"harmonix bench haiku: medians over {turns} turns", report)


def print_table(title: str, values: dict[str, Any]) -> None:
    """A two-column table of a benchmark's figures."""
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in values.items():
        table.add_row(key, "n/a" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value))
    stdout.print(table)
