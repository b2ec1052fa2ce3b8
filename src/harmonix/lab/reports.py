"""How the lab's commands end: a report that names the command reproducing it, written to a file if asked, then
printed as markdown or given as one JSON object (``--json``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from harmonix.cli.shared import emit_json
from harmonix.errors import InvalidArgument


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
