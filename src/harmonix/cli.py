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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from harmonix import __version__
from harmonix.config import Config
from harmonix.errors import HarmonixError, InvalidArgument, InvalidText
from harmonix.field import Field, audit_field

log = logging.getLogger("harmonix")
stdout = Console()
stderr = Console(stderr=True)


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


def show_reply(reply: Any, as_json: bool, status: str) -> None:
    """One organism's reply: all of it as one JSON object, or its text on stdout and ``status`` dimmed on stderr."""
    if as_json:
        emit_json(jsonable(reply))
    else:
        click.echo(reply.text)
        stderr.print(f"[dim]{status}[/]")


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
        click.echo(seed.text or "(the field is empty)")


@field_group.command("stats")
@click.argument("names", nargs=-1)
@harmonix_command
def field_stats(config: Config, as_json: bool, names: tuple[str, ...]) -> None:
    """Sizes of the fields NAMES (default: every field under the home directory)."""
    stats = asyncio.run(field_summaries(config, names))
    if as_json:
        emit_json({"home": config.home, "fields": {s.name: s for s in stats}})
    else:
        print_field_table(config, stats)


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
    pulse = reply.pulse
    show_reply(reply, as_json, f"d={reply.dissonance:.2f}  T={reply.temperature:.2f}  novelty={pulse.novelty:.2f}  "
                               f"arousal={pulse.arousal:.2f}  entropy={pulse.entropy:.2f}  seed={reply.seed}")


@main.command("sonnet")
@click.argument("prompt")
@click.option("--context", default="", help="More text whose content words Sonnet may take up (e.g. a haiku).")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same sonnet.")
@harmonix_command
def sonnet_command(config: Config, as_json: bool, prompt: str, context: str, seed: int | None) -> None:
    """Sonnet answers PROMPT ("-" for stdin) with 14 rhymed lines from its char-transformer."""
    from harmonix.organisms.sonnet import Sonnet

    async def run() -> Any:
        async with Sonnet.open(config) as sonnet:
            return await sonnet.answer(read_text_argument(prompt), context=context, seed=seed)

    reply = asyncio.run(run())
    show_reply(reply, as_json, f"{reply.rhyme_scheme}  d={reply.dissonance:.2f}  phase={reply.phase}  "
                               f"T={reply.temperature:.2f}  seed={reply.seed}  {reply.compose_ms / 1000:.1f} s")


def llm_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--model PATH`` and ``--llm-url URL``: which LLM Prose and Artist use, folded into the command's config
    (apply it under :func:`harmonix_command`)."""

    @click.option("--model", "model", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="A GGUF model file (default: $HARMONIX_PROSE_MODEL, else the embedded SmolLM2).")
    @click.option("--llm-url", default=None,
                  help="An OpenAI-compatible server to use instead of a local model ($HARMONIX_LLM_URL).")
    @functools.wraps(function)
    def wrapper(*args: Any, config: Config, model: Path | None, llm_url: str | None, **kwargs: Any) -> Any:
            return function(*args, config=config, **kwargs)

    return wrapper


@main.command("prose")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same prose.")
@harmonix_command
@llm_options
def prose_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """Prose writes a paragraph from its own field; PROMPT ("-" for stdin) only disturbs it."""
    from harmonix.engines.llm import EnginePool
    from harmonix.organisms.prose import Prose

    async def run() -> Any:
        async with EnginePool.open() as pool, Prose.open(config, pool) as prose:
            return await prose.answer(read_text_argument(prompt), seed=seed)

    reply = asyncio.run(run())
    show_reply(reply, as_json, f"d={reply.dissonance:.2f}  T={reply.temperature:.2f}  {reply.tokens} tokens  "
                               f"{reply.tokens_per_s:.0f} tok/s  {reply.backend}  seed={reply.seed}")


# --- the cascade ----------------------------------------------------------------------------------------------------

ORGANISM_NAMES = ("haiku", "sonnet", "prose", "artist")
HUB_NAME = "meta"
COLOURS = {"haiku": "cyan", "sonnet": "magenta", "prose": "green", "artist": "yellow"}
TITLES = {"haiku": "HAiKU", "sonnet": "Sonnet", "prose": "Prose", "artist": "Artist"}


def cascade_document(result: Any) -> dict[str, Any]:
    """The cascade as one JSON object: each organism's text or error (and its details), meta, timings."""
    document: dict[str, Any] = {"prompt": result.prompt, "seed": result.seed, "sequential": result.sequential}
    for stage in result.stages:
        details = {k: v for k, v in jsonable(stage.reply).items() if k != "text"} if stage.reply else {}
        document[stage.name] = {"text": stage.text, "error": stage.error, "seconds": stage.seconds,
                                "dissonance": stage.dissonance, **details}
    document["meta"] = jsonable(result.meta)
    document["timings"] = dict(result.timings)
    return document


def stage_panel(stage: Any) -> Panel:
    title = f"{TITLES[stage.name]} · {stage.seconds:.1f} s"
    if stage.error:
        return Panel(Text(stage.error, style="red"), title=title + " · failed", border_style="red")
    if stage.name == "artist":
        body = Text()
        for span in stage.reply.spans:
            body.append(span.text + "\n", style=COLOURS[span.source] + ("" if span.source == "artist" else " italic"))
        body.append("quoted: ", style="dim")
        for source in ("haiku", "sonnet", "prose"):
            body.append(f"{TITLES[source]} ", style=COLOURS[source] + " italic")
        body.append("· own lines: ", style="dim")
        body.append("Artist", style=COLOURS["artist"])
        return Panel(body, title=f"{title} · d={stage.dissonance:.2f}", border_style=COLOURS["artist"])
    subtitle = f"d={stage.dissonance:.2f}"
    if stage.name == "sonnet":
        subtitle += f" · {stage.reply.rhyme_scheme} · {stage.reply.phase}"
    return Panel(Text(stage.text), title=f"{title} · {subtitle}", border_style=COLOURS[stage.name])


def render_cascade(result: Any, *, only: str | None = None) -> None:
    stages = [stage for stage in result.stages if only is None or stage.name == only]
    for stage in stages:
        stdout.print(stage_panel(stage))
    if only is not None:
        return
    meta = result.meta
    stdout.print(Panel(Text(meta.sentence or "(no sentence: nothing arrived)", style="bold"), title="meta",
                       border_style="white"))
    d = {stage.name: stage.dissonance for stage in result.stages}
    metrics = " | ".join(f"d_{name}={'n/a' if d[name] is None else f'{d[name]:.2f}'}" for name in
                         ("haiku", "sonnet", "prose"))
    resonance = "n/a" if meta.global_resonance is None else f"{meta.global_resonance:.2f}"
    stdout.print(f"{metrics} | resonance={resonance}", highlight=False)
    stdout.print("timings: " + "  ".join(f"{name} {seconds:.2f}s" for name, seconds in result.timings.items()),
                 style="dim", highlight=False)


async def breathe(config: Config, prompt: str, seed: int | None, sequential: bool) -> Any:
    from harmonix.meta import MetaHarmonix

    async with MetaHarmonix.open(config) as hub:
        with stderr.status("breathing in…", spinner="dots"):
            return await hub.cascade(prompt, seed=seed, sequential=sequential)


@main.command("ask")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed of the whole cascade.")
@click.option("--sequential", is_flag=True, help="Run the organisms one after another instead of in parallel.")
@harmonix_command
@llm_options
def ask_command(config: Config, as_json: bool, prompt: str, seed: int | None, sequential: bool) -> None:
    """One cascade: HAiKU, Sonnet and Prose answer PROMPT together, Artist weaves them, the hub exhales."""
    result = asyncio.run(breathe(config, read_text_argument(prompt), seed, sequential))
    if as_json:
        emit_json(cascade_document(result))
    else:
        render_cascade(result)


@main.command("artist")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed of the whole cascade.")
@harmonix_command
@llm_options
def artist_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """Artist's piece for PROMPT: the three voices answer first (a whole cascade runs), then Artist weaves them."""
    result = asyncio.run(breathe(config, read_text_argument(prompt), seed, False))
    if as_json:
        emit_json(cascade_document(result)["artist"])
    else:
        render_cascade(result, only="artist")


async def field_summaries(config: Config, names: Sequence[str] = ()) -> list[Any]:
    """Stats of the fields ``names``, else of every field under the home directory, organisms first."""
    order = [*ORGANISM_NAMES, HUB_NAME]
    names = list(names) or sorted((path.stem for path in config.fields_dir.glob("*.sqlite3")),
                                  key=lambda name: (order.index(name) if name in order else len(order), name))
    stats = []
    for name in names:
        async with Field.open(config.field_path(name), name) as field:
            stats.append(await field.stats())
    return stats


def print_field_table(config: Config, stats: list[Any]) -> None:
    table = Table(title=f"fields in {config.home}")
    for column in ("field", "texts", "disturbances", "turns", "trigrams", "words", "size"):
        table.add_column(column, justify="left" if column == "field" else "right")
    for s in stats:
        c = s.counts
        table.add_row(s.name, str(c.texts), str(c.disturbances), str(c.turns), f"{c.own_trigrams + c.heard_trigrams}",
                      f"{c.own_words + c.heard_words}", f"{s.file_bytes / 1024:.0f} KiB")
    stdout.print(table)


@main.command("stats")
@harmonix_command
def stats_command(config: Config, as_json: bool) -> None:
    """Every field's sizes; the hub's field (meta) counts the cascades as turns."""
    stats = asyncio.run(field_summaries(config))
    if as_json:
        emit_json({"home": config.home, "fields": {s.name: s for s in stats}})
    else:
        print_field_table(config, stats)


@main.command("reset")
@click.option("--organism", "name", required=True, type=click.Choice([*ORGANISM_NAMES, HUB_NAME, "all"]),
              help="Whose field to erase (the hub's is 'meta').")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@harmonix_command
def reset_command(config: Config, as_json: bool, name: str, yes: bool) -> None:
    """Erase an organism's field: its memory starts again from nothing (or from its bootstrap)."""
    names = [*ORGANISM_NAMES, HUB_NAME] if name == "all" else [name]
    if not yes and not click.confirm(f"Erase the field of {', '.join(names)} in {config.home}?", err=True):
        raise click.Abort()
    removed = []
    for field_name in names:
        base = config.field_path(field_name)
        for path in (base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")):
            if path.exists():
                path.unlink()
                removed.append(str(path))
    if as_json:
        emit_json({"reset": names, "removed": removed})
    else:
        stdout.print(f"reset {', '.join(names)}: {len(removed)} files removed")


CHAT_HELP = "Type a prompt; /stats, /fields, /help, /quit. Ctrl-D or Ctrl-C ends."


@main.command("chat")
@click.option("--sequential", is_flag=True, help="Run the organisms one after another instead of in parallel.")
@harmonix_command
@llm_options
def chat_command(config: Config, as_json: bool, sequential: bool) -> None:
    """A conversation with the whole system, one cascade per line (history kept under the home directory)."""
    from harmonix.chat import run_chat

    if as_json:
        raise InvalidArgument("chat is interactive; use `harmonix ask --json` for one JSON answer")
    stderr.print(CHAT_HELP, style="dim")
    try:
        async def show_stats() -> None:
            print_field_table(config, await field_summaries(config))

        asyncio.run(run_chat(config, sequential=sequential, render=render_cascade, show_stats=show_stats))
    except KeyboardInterrupt:
        stderr.print("\nbye", style="dim")


# --- harmonix eval -------------------------------------------------------------------------------------------------


@main.command("eval")
@click.option("--prompts", "prompts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A prompt file (default: the standard set shipped with Harmonix).")
@click.option("--organisms", default="haiku,sonnet,prose,cascade", show_default=True,
              help="Comma-separated: haiku, sonnet, prose, cascade.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Replies per organism (default: one pass).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command
def eval_command(config: Config, as_json: bool, prompts_file: Path | None, organisms: str, count: int | None,
                 report: Path | None) -> None:
    """The standing quality report: echo, form, distinct-2, copy rate, latency, per organism, on fresh fields."""
    from harmonix.eval import EVALUATORS, markdown_report, run_eval
    from harmonix.prompts import read_prompts

    chosen = [name.strip() for name in organisms.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in EVALUATORS]
    if unknown or not chosen:
        raise InvalidArgument(f"unknown organisms {unknown}; choose from {sorted(EVALUATORS)}")
    prompts = read_prompts(prompts_file)
    if not prompts:
        raise InvalidArgument("the prompt file holds no prompt")
    results = asyncio.run(run_eval(prompts, chosen, count or len(prompts)))
    text = markdown_report(results, reproducing_command("harmonix eval", sys.argv[2:]))
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text, encoding="utf-8")
    if as_json:
        emit_json({"prompts": len(prompts), "results": results})
    else:
        click.echo(text)


# --- harmonix experiment -------------------------------------------------------------------------------------------


@main.group("experiment")
def experiment_group() -> None:
    """Controlled experiments, reported whatever they show."""


@experiment_group.command("lock-isolation")
@click.option("--runs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--turns", type=click.IntRange(min=1), default=20, show_default=True, help="Turns per session.")
@click.option("--sessions", default="1,4", show_default=True, help="Comma-separated concurrent session counts.")
@click.option("--quick", is_flag=True, help="2 runs x 6 turns: about a minute at most, for CI.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write lock-isolation.md and lock-isolation.png here.")
@harmonix_command
def lock_isolation_command(config: Config, as_json: bool, runs: int, turns: int, sessions: str, quick: bool,
                           report_dir: Path | None) -> None:
    """Does the lock matter? Four arms (sync/async x lock/no lock), 1 and 4 sessions (harmonix.experiments)."""
    from harmonix.experiments.lock_isolation import chart, markdown, run_lock_isolation

    try:
        counts = tuple(int(part) for part in sessions.split(",") if part.strip())
    except ValueError:
        raise InvalidArgument(f"--sessions must be comma-separated integers, got {sessions!r}") from None
    if not counts or min(counts) < 1:
        raise InvalidArgument("--sessions needs at least one positive count")
    if quick:
        runs, turns = 2, 6
    result = asyncio.run(run_lock_isolation(runs=runs, turns=turns, sessions=counts))
    text = markdown(result, reproducing_command("harmonix experiment lock-isolation", sys.argv[3:]))
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "lock-isolation.md").write_text(text + "\n![violations and echo](lock-isolation.png)\n",
                                                     encoding="utf-8")
        chart(result, report_dir / "lock-isolation.png")
    if as_json:
        emit_json(jsonable(result))
    else:
        click.echo(text)


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


@bench_group.command("sonnet")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--sonnets", type=click.IntRange(min=1), default=5, show_default=True)
@harmonix_command
def bench_sonnet(config: Config, as_json: bool, repeats: int, sonnets: int) -> None:
    """NumPy vs torch on the same weights, batched sampling, seconds per sonnet (see harmonix.bench.sonnet)."""
    from harmonix.bench.sonnet import run_sonnet_bench

    result = jsonable(run_sonnet_bench(repeats=repeats, sonnets=sonnets))
    if as_json:
        emit_json(result)
    else:
        print_table(f"harmonix bench sonnet: medians of {repeats} repeats", result)


@bench_group.command("llm")
@click.option("--repeats", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--parallel", type=click.IntRange(min=1), default=4, show_default=True)
@harmonix_command
def bench_llm(config: Config, as_json: bool, repeats: int, threads: int, parallel: int) -> None:
    """The embedded model: tokens/s, batching speedup, engine overhead (see harmonix.bench.llm)."""
    from harmonix.bench.llm import run_llm_bench

    result = jsonable(run_llm_bench(repeats=repeats, threads=threads, parallel=parallel))
    if as_json:
        emit_json(result)
    else:
        print_table(f"harmonix bench llm: medians of {repeats} repeats", result)


@bench_group.command("cascade")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--io", "io", is_flag=True, help="Prose and Artist on a loopback server that answers after a delay.")
@click.option("--io-delay", type=click.FloatRange(min=0), default=1.5, show_default=True, help="Seconds, with --io.")
@harmonix_command
def bench_cascade(config: Config, as_json: bool, repeats: int, io: bool, io_delay: float) -> None:
    """Parallel against sequential cascades, and against the best any schedule could do (see harmonix.bench.cascade)."""
    from harmonix.bench.cascade import run_cascade_bench

    result = jsonable(run_cascade_bench(repeats=repeats, io=io, io_delay_s=io_delay))
    if as_json:
        emit_json(result)
    else:
        flat = {k: v for k, v in result.items() if not isinstance(v, dict)}
        flat |= {f"{kind}.{name}": value for kind in ("stage_s", "stage_cpu_s") for name, value in result[kind].items()}
        print_table(f"harmonix bench cascade{' --io' if io else ''}: medians of {repeats} cascades", flat)


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
