"""Serving and moving: colonies over HTTP (``serve``), and colonies carried between stores (``migrate``, ``colony
export``, ``colony import``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from harmonix.cli.shared import emit_json, harmonix_command, run, stderr, stdout, with_harmonix
from harmonix.colony import Harmonix, migrate
from harmonix.config import Config, check_colony_name, public_location
from harmonix.documents import colony_document
from harmonix.errors import InvalidArgument
from harmonix.field import ColonyInfo
from harmonix.field.transfer import ColonyMove


def move_document(move: ColonyMove) -> dict[str, Any]:
    return {**colony_document(move.colony), "action": move.action,
            "fields": {f.name: {"rows": dict(f.rows), "sha256": f.sha256} for f in move.fields}}


@click.command("export")
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
    from harmonix.finetune import pair_lines

    check_colony_name(name, "NAME")
    if output is None and as_json:
        raise InvalidArgument("--json reports on stdout, so the export needs --output FILE")

    async def read(harmonix: Harmonix) -> tuple[list[str], dict[str, Any]]:
        if file_format == "finetune":
            memory = await asyncio.to_thread(Memory.load)
            breaths = (await harmonix.history(name))[::-1]
            lines = list(pair_lines(breaths, memory, config.llm_mode))
            return lines, {"colony": name, "format": "finetune", "pairs": len(lines)}
        lines, move = await harmonix.export_colony(name)
        return lines, move_document(move)

    lines, report = run(with_harmonix(config, read))
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


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--as", "new_name", default=None, help="Import under this name instead of the file's.")
@harmonix_command()
def colony_import(config: Config, as_json: bool, file: Any, new_name: str | None) -> None:
    """Read a colony file (from `harmonix colony export`; "-" for stdin) into this store, checked before anything
    is written and verified by audit after; running it again completes a cut-short import or changes nothing."""
    from harmonix.field.transfer import read_colony_file

    try:
        info, fields = read_colony_file(file)
    except UnicodeDecodeError as error:
        raise InvalidArgument(f"the colony file is not UTF-8: {error.reason}") from None
    name = check_colony_name(new_name if new_name is not None else info.name, "--as" if new_name else "the colony")
    target = ColonyInfo(name=name, created=info.created, owner=info.owner, forked_from=info.forked_from)

    move = run(with_harmonix(config, lambda harmonix: harmonix.import_colony(target, [dump for dump, _ in fields])))
    if as_json:
        emit_json(move_document(move))
    else:
        stdout.print(f"colony {name}: {move.action} ({len(move.fields)} fields, every one verified by audit)")


@click.command("serve")
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
@click.option("--multitask", type=click.Choice(["reject", "enqueue", "interrupt"]), default="enqueue",
              show_default=True, help="A breath that arrives while its colony breathes, unless it says: refuse it "
                                      "(409), run it beside, or cancel the running one (all it wrote removed).")
@harmonix_command(llm=True)
def serve_command(config: Config, as_json: bool, host: str, port: int, api_key_file: Path | None, grace: float,
                  max_active: int, max_waiting: int, max_open_colonies: int, idle_close: float, deadline: float,
                  ping: float, open_page: bool, multitask: str) -> None:
    """Serve colonies over HTTP: many conversations at once, each breath streamed as it happens (see
    docs/guide/serving.md; the API is described at /openapi.json), and the page that talks to them at /."""
    from harmonix.server.auth import ApiKeys
    from harmonix.server.run import ServeOptions, serve
    from harmonix.service import ServiceLimits

    if as_json:
        raise InvalidArgument("serve runs until it is stopped; it has no --json answer")
    keys = ApiKeys.read(api_key_file) if api_key_file is not None else ApiKeys()
    limits = ServiceLimits(max_open_colonies=max_open_colonies, idle_close_s=idle_close, max_active=max_active,
                           max_waiting_per_organism=max_waiting, deadline_s=deadline)
    serve(config, ServeOptions(host=host, port=port, keys=keys, grace_s=grace, limits=limits, ping_s=ping,
                               open_page=open_page, multitask=multitask),
          verbose=click.get_current_context().find_root().params.get("verbose", 0))


@click.command("mcp")
@harmonix_command(llm=True)
def mcp_command(config: Config, as_json: bool) -> None:
    """Serve the colony (--colony) to an assistant or an IDE over the Model Context Protocol on stdin and stdout:
    tools to breathe, to run one organism, to read the history and a field (docs/guide/serving.md, "MCP"). The
    client starts this command itself; `harmonix serve` offers the same at /mcp over HTTP."""
    from harmonix.server.mcp import serve_stdio

    if as_json:
        raise InvalidArgument("mcp speaks JSON-RPC on stdout until its client closes it; it has no --json answer")
    run(serve_stdio(config))


@click.command("migrate")
@click.option("--from", "source", required=True, help="The store to copy from: sqlite:PATH or a postgresql:// URL.")
@click.option("--to", "target", required=True, help="The store to copy into.")
@click.option("--only", "only", multiple=True, help="Copy only this colony (repeatable).")
@harmonix_command()
def migrate_command(config: Config, as_json: bool, source: str, target: str, only: tuple[str, ...]) -> None:
    """Copy every colony of one store into another (SQLite home to PostgreSQL, or back), each field checked
    and verified by audit. A migration cut short is completed by running it again; a finished one is left as it is.
    The source is only read."""
    stores = {flag: Config.load(config.home, database=url).store_url for flag, url in
              (("--from", source), ("--to", target))}
    if stores["--from"] == stores["--to"]:
        raise InvalidArgument("--from and --to name the same store")
    names = [check_colony_name(name, "--only") for name in only] or None

    moves = run(migrate(config, stores["--from"], stores["--to"], names))
    if as_json:
        emit_json({"from": public_location(stores["--from"]), "to": public_location(stores["--to"]),
                   "colonies": [move_document(m) for m in moves]})
        return
    for m in moves:
        stdout.print(f"colony {m.colony.name}: {m.action} ({len(m.fields)} fields)")


COMMANDS = (serve_command, mcp_command, migrate_command)
COLONY_COMMANDS = (colony_export, colony_import)  # beside list, create, fork and remove in `harmonix colony`
