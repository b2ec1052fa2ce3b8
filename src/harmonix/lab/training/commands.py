"""``harmonix train …``: rebuild our data from the public-domain corpora; each command passes its arguments to its
builder's own command line."""

from __future__ import annotations

import click

from harmonix.cli.shared import stderr
from harmonix.progress import terminal_progress


@click.group("train")
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
