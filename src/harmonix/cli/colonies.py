"""A colony and its fields: the colonies of a store (``colony list``, ``create``, ``fork``, ``remove``), their sizes
(``stats``), erasing an organism's memory (``reset``), and one field looked into or written directly (``field …``)."""

from __future__ import annotations

import datetime
import random
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import click
from rich.table import Table

from harmonix.cli.shared import emit_json, harmonix_command, read_text_argument, run, stdout, with_harmonix
from harmonix.colony import Harmonix
from harmonix.config import Config, check_colony_name, public_location
from harmonix.documents import colony_document, field_stats_document, forgotten_document
from harmonix.field import Field, FieldStats
from harmonix.organisms.base import FIELDS, plain
from harmonix.render import field_table
from harmonix.text import visible

T = TypeVar("T")


@click.group("field")
def field_group() -> None:
    """Look into and write to one field of a colony directly."""


async def with_field(config: Config, name: str, operation: Callable[[Field], Coroutine[Any, Any, T]], *,
                     create: bool = True) -> T:
    """Run ``operation`` on field ``name`` of the configured colony (the colony is created if missing when
    ``create``; the field too)."""
    async with Harmonix.open(config, cascades=False) as harmonix, \
            harmonix.field(config.colony, name, create=create) as field:
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

    result = run(with_harmonix(config, lambda harmonix: harmonix.audit(config.colony, name)))
    if as_json:
        emit_json({"field": name, "ok": result.ok, **plain(result)})
    elif result.ok:
        stdout.print(f"{name}: ok ({result.texts} texts, {result.disturbances} disturbances, {result.turns} turns)")
    else:
        stdout.print(f"{name}: {len(result.violations)} violations", *result.violations, sep="\n", markup=False)
    if not result.ok:
        sys.exit(1)


async def field_summaries(config: Config, names: Sequence[str] = ()) -> list[FieldStats]:
    """Stats of the colony's fields ``names``, else of every field it holds, organisms first, the hub next."""
    return await with_harmonix(config, lambda harmonix: harmonix.field_stats(config.colony, names))


def show_field_stats(config: Config, as_json: bool, stats: list[FieldStats]) -> None:
    if as_json:
        emit_json({"home": config.home, "store": public_location(config.store_url), "colony": config.colony,
                   "fields": {s.name: s for s in stats}})
        return
    documents = [field_stats_document(s, location=True) for s in stats]
    stdout.print(field_table(f"colony {config.colony} in {public_location(config.store_url)}", documents))


@click.command("stats")
@harmonix_command()
def stats_command(config: Config, as_json: bool) -> None:
    """Every field's sizes in the colony; the hub's field (meta) counts the cascades as turns."""
    show_field_stats(config, as_json, run(field_summaries(config)))


@click.command("reset")
@click.option("--organism", "name", required=True, type=click.Choice([*FIELDS, "all"]),
              help="Whose field to erase (the hub's is 'meta').")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@harmonix_command()
def reset_command(config: Config, as_json: bool, name: str, yes: bool) -> None:
    """Erase an organism's field in the colony: its memory starts again from nothing (or from its bootstrap)."""
    names = list(FIELDS) if name == "all" else [name]
    if not yes and not click.confirm(f"Erase the field of {', '.join(names)} in colony {config.colony}?", err=True):
        raise click.Abort()

    removed = run(with_harmonix(config, lambda harmonix: harmonix.reset(config.colony, names)))
    if as_json:
        emit_json({"colony": config.colony, "reset": names, "removed": removed})
    else:
        stdout.print(f"reset {', '.join(names)} in colony {config.colony}: {len(removed)} fields erased")


@click.group("colony")
def colony_group() -> None:
    """Colonies: each one conversation's memory (its own five fields), sharing the engines."""


@colony_group.command("list")
@harmonix_command()
def colony_list(config: Config, as_json: bool) -> None:
    """Every colony in the home (a listing writes nothing: a new home has none until its first breath)."""

    colonies = run(with_harmonix(config, lambda harmonix: harmonix.colonies(), ensure_default=False))
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
    info = run(with_harmonix(config, lambda harmonix: harmonix.create_colony(check_colony_name(name, "NAME"))))
    emit_json(colony_document(info)) if as_json else stdout.print(f"created colony {info.name}")


@colony_group.command("fork")
@click.argument("name")
@click.argument("new")
@harmonix_command()
def colony_fork(config: Config, as_json: bool, name: str, new: str) -> None:
    """Copy colony NAME as NEW: every field as it is now, each copied in one consistent read."""
    check_colony_name(name, "NAME")
    info = run(with_harmonix(config, lambda harmonix: harmonix.fork_colony(name, check_colony_name(new, "NEW"))))
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
    run(with_harmonix(config, lambda harmonix: harmonix.remove_colony(name)))
    emit_json({"removed": name}) if as_json else stdout.print(f"removed colony {name}")


@colony_group.command("forget")
@click.argument("cascade", type=click.IntRange(min=1))
@harmonix_command()
def colony_forget(config: Config, as_json: bool, cascade: int) -> None:
    """Forget breath CASCADE of the colony (--colony; the number every cascade answers with, `cascade` in --json):
    its prompt, every organism's reply, the meta sentence every field heard and the hub's record, with exactly the
    counts they had added."""
    forgotten = run(with_harmonix(config, lambda harmonix: harmonix.forget_cascade(config.colony, cascade)))
    if as_json:
        emit_json(forgotten_document(forgotten))
        return
    removed = sum(rows.texts + rows.disturbances + rows.turns for rows in forgotten.fields.values())
    stdout.print(f"forgot breath {cascade} of colony {config.colony}: {removed} rows in {len(forgotten.fields)} "
                 "fields")


COMMANDS = (field_group, stats_command, reset_command, colony_group)
