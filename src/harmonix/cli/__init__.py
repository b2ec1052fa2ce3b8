"""The ``harmonix`` command line.

Conventions every command keeps: ``--home DIR`` (or ``HARMONIX_HOME``) says where state lives and ``--colony NAME``
(or ``HARMONIX_COLONY``, default ``default``) which colony a command works on, given before the command or after
it; ``--json`` prints exactly one JSON object on stdout and nothing else; logs go to stderr (``-v`` for more).
Commands that run an LLM take ``--model``/``--llm-url`` (Prose, and Artist unless it has its own),
``--artist-model``/``--artist-llm-url`` and ``--llm-mode``.

Errors never end in a traceback: a :class:`~harmonix.errors.HarmonixError` prints one line on stderr (``--json``:
one error object on stdout) and exits with the status :mod:`harmonix.documents` gives it (2 for bad input, bad
configuration or something that is not there; 1 for a failure while running); Ctrl-C exits with 130.

The commands live by group: :mod:`~harmonix.cli.breathing` (an organism or the colony answers),
:mod:`~harmonix.cli.colonies` (colonies and their fields), :mod:`~harmonix.cli.serving` (serving and moving
colonies), what they share in :mod:`~harmonix.cli.shared`. Other packages add theirs as plugins
(:mod:`~harmonix.cli.plugins`), loaded when :func:`main` runs: that is how the lab's commands arrive.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from harmonix import __version__
from harmonix.cli import breathing, colonies, serving
from harmonix.cli.plugins import PluginGroup
from harmonix.logs import HandledDriverErrors, VisibleFormatter


@click.group(cls=PluginGroup)
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


for command in (*breathing.COMMANDS, *colonies.COMMANDS, *serving.COMMANDS):
    main.add_command(command)
for command in serving.COLONY_COMMANDS:
    colonies.colony_group.add_command(command)
