"""Breathing: one organism answers (``haiku``, ``sonnet``, ``prose``), the whole colony answers (``ask``,
``artist``), or a conversation with it (``chat``)."""

from __future__ import annotations

from typing import Any

import click

from harmonix.cli.shared import emit_json, harmonix_command, read_text_argument, run, stderr, stdout
from harmonix.client import EventHandler, RemoteColony
from harmonix.colony import Harmonix, open_organism
from harmonix.config import Config
from harmonix.documents import cascade_document, done_document, event_document
from harmonix.errors import InvalidArgument
from harmonix.meta import BreathEvent
from harmonix.organisms.base import SYNTHESIS
from harmonix.render import BreathView
from harmonix.text import visible


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


@click.command("haiku")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same haiku.")
@harmonix_command()
def haiku_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """HAiKU answers PROMPT ("-" for stdin) in strict 5-7-5 from its own field."""
    reply = run(answer(config, "haiku", read_text_argument(prompt), seed=seed))
    pulse = reply.pulse
    show_reply(reply, as_json, f"d={reply.dissonance:.2f}  T={reply.temperature:.2f}  novelty={pulse.novelty:.2f}  "
                               f"arousal={pulse.arousal:.2f}  entropy={pulse.entropy:.2f}  seed={reply.seed}")


@click.command("sonnet")
@click.argument("prompt")
@click.option("--context", default="", help="More text whose content words Sonnet may take up (e.g. a haiku).")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same sonnet.")
@harmonix_command()
def sonnet_command(config: Config, as_json: bool, prompt: str, context: str, seed: int | None) -> None:
    """Sonnet answers PROMPT ("-" for stdin) with 14 rhymed lines from its char-transformer."""
    reply = run(answer(config, "sonnet", read_text_argument(prompt), context=context, seed=seed))
    show_reply(reply, as_json, f"{reply.rhyme_scheme}  d={reply.dissonance:.2f}  phase={reply.phase}  "
                               f"T={reply.temperature:.2f}  seed={reply.seed}  {reply.compose_ms / 1000:.1f} s")


@click.command("prose")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed: the same seed on the same field gives the same prose.")
@harmonix_command(llm=True)
def prose_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """Prose writes a paragraph from its own field; PROMPT ("-" for stdin) only disturbs it."""
    reply = run(answer(config, "prose", read_text_argument(prompt), seed=seed))
    show_reply(reply, as_json, f"d={reply.dissonance:.2f}  T={reply.temperature:.2f}  {reply.tokens} tokens  "
                               f"{reply.tokens_per_s:.0f} tok/s  {reply.backend}  seed={reply.seed}")


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


@click.command("ask")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed of the whole cascade.")
@click.option("--sequential", is_flag=True, help="Run the organisms one after another instead of in parallel.")
@harmonix_command(llm=True, remote=True)
def ask_command(config: Config, as_json: bool, prompt: str, seed: int | None, sequential: bool) -> None:
    """One cascade: HAiKU, Sonnet and Prose answer PROMPT together, Artist weaves them, the hub exhales. Each
    organism's panel appears the moment it has finished. With --server, the cascade runs on that server."""
    ask_and_show(config, as_json, prompt, seed, sequential)


@click.command("artist")
@click.argument("prompt")
@click.option("--seed", type=int, default=None, help="RNG seed of the whole cascade.")
@harmonix_command(llm=True, remote=True)
def artist_command(config: Config, as_json: bool, prompt: str, seed: int | None) -> None:
    """Artist's piece for PROMPT: the three voices answer first (a whole cascade runs), then Artist weaves them."""
    ask_and_show(config, as_json, prompt, seed, False, only=SYNTHESIS)


@click.command("chat")
@click.option("--sequential", is_flag=True, help="Run the organisms one after another instead of in parallel.")
@harmonix_command(llm=True, remote=True)
def chat_command(config: Config, as_json: bool, sequential: bool) -> None:
    """A conversation with the whole colony, one cascade per line (history kept under the home directory).
    Ctrl-C, Ctrl-D or SIGTERM end it at any moment; a breath cut short leaves every field whole."""
    from harmonix.chat import run_chat

    if as_json:
        raise InvalidArgument("chat is interactive; use `harmonix ask --json` for one JSON answer")
    run_chat(config, sequential=sequential, out=stdout, console=stderr)


COMMANDS = (haiku_command, sonnet_command, prose_command, ask_command, artist_command, chat_command)
