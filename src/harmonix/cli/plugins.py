"""Commands that other packages add to ``harmonix``, found through the ``harmonix.commands`` entry-point group.

Each entry point names a function ``register(main)`` that adds its commands to the root group. The product's
command line names none of them (the lab's ``bench``, ``experiment``, ``eval`` and ``train`` arrive this way), and
loads them only when the root group runs, so importing :mod:`harmonix.cli` imports no plugin. A plugin that cannot
be imported costs only its own commands: the others still run, and a warning on stderr says which plugin, why, and
which extra of the distribution that registered it installs what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import click
from rich.markup import escape

from harmonix.cli.shared import stderr

GROUP = "harmonix.commands"
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class PluginFailure:
    """A registered plugin that could not be imported."""

    name: str
    target: str  # the entry point's ``module:function``
    reason: str  # the import error's message
    install: str | None  # the pip command that provides what is missing, when the registering distribution says

    def message(self) -> str:
        advice = f"; {self.install} gives it" if self.install else ""
        return f"the commands of plugin {self.name!r} ({self.target}) are not available: {self.reason}{advice}"


def load_plugins(group: click.Group, entry_points: Iterable[metadata.EntryPoint] | None = None) -> list[PluginFailure]:
    """Let every plugin of :data:`GROUP` (or of ``entry_points``) register its commands on ``group``; return the
    plugins that could not be imported."""
    failures = []
    for entry_point in metadata.entry_points(group=GROUP) if entry_points is None else entry_points:
        try:
            register = entry_point.load()
        except ImportError as error:
            failures.append(PluginFailure(entry_point.name, entry_point.value, str(error),
                                          install_command(entry_point.dist, error.name)))
            continue
        register(group)
    return failures


def install_command(distribution: metadata.Distribution | None, missing: str | None) -> str | None:
    """``pip install 'DIST[EXTRA]'`` for the first extra of ``distribution`` that requires the package of module
    ``missing`` (matched by normalised name, as an import name and its distribution's usually match); none for a
    module of the distribution itself, which no extra can bring."""
    if distribution is None or missing is None:
        return None
    wanted = normalised(missing.partition(".")[0])
    if wanted == normalised(distribution.name):
        return None
    for requirement in distribution.requires or ():
        name, extra = _REQUIREMENT_NAME.match(requirement), _EXTRA_MARKER.search(requirement)
        if name is not None and extra is not None and normalised(name.group()) == wanted:
            return f"pip install '{distribution.name}[{extra.group(1)}]'"
    return None


def normalised(name: str) -> str:
    """A package name as PEP 503 compares them (``Foo_bar.baz`` is ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


class PluginGroup(click.Group):
    """A root group whose plugins' commands are added the first time it makes a context, that is when it runs (from
    the console script, ``python -m harmonix`` or click's test runner), never when its module is imported."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plugins_loaded = False

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        if not self.plugins_loaded:
            self.plugins_loaded = True
            for failure in load_plugins(self):
                stderr.print(f"[bold yellow]warning:[/] {escape(failure.message())}", highlight=False, soft_wrap=True)
        return super().make_context(info_name, args, parent, **extra)
