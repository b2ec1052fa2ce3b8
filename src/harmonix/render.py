"""Documents drawn for a terminal: a panel per organism, Artist's piece coloured by source, the meta sentence, the
metrics, the timings, and field tables.

Everything here draws *documents* (:mod:`harmonix.documents`), never result objects, so a breath looks the same
whether it ran in this process (``harmonix ask``) or on a server whose events arrive one by one
(``harmonix ask --server``): :class:`BreathView` draws each part as soon as it is known. Texts are drawn as text
(``rich.text.Text``), never parsed as markup, so nothing a field holds can restyle or hide what is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from harmonix.organisms.base import INHALE, SYNTHESIS, TITLES
from harmonix.text import visible

COLOURS = {"haiku": "cyan", "sonnet": "magenta", "prose": "green", "artist": "yellow"}
Document = Mapping[str, Any]


def stage_panel(stage: Document) -> Panel:
    """One organism's part: its text (Artist's coloured by source, with a legend) or its error."""
    name = str(stage["organism"])
    title = f"{TITLES.get(name, name)} · {float(stage.get('seconds') or 0):.1f} s"
    error = stage.get("error")
    if error or stage.get("text") is None:
        message = f"{error['type']}: {error['message']}" if error else "no reply"
        return Panel(Text(visible(message), style="red"), title=title + " · failed", border_style="red")
    d = stage.get("dissonance")
    subtitle = f"d={d:.2f}" if isinstance(d, int | float) else "d=n/a"
    if name == SYNTHESIS and stage.get("spans"):
        body = Text()
        for span in stage["spans"]:
            source = span["source"]
            body.append(visible(span["text"]) + "\n",
                        style=COLOURS.get(source, "") + ("" if source == SYNTHESIS else " italic"))
        body.append("quoted: ", style="dim")
        for source in INHALE:
            body.append(f"{TITLES[source]} ", style=COLOURS[source] + " italic")
        body.append("· own lines: ", style="dim")
        body.append(TITLES[SYNTHESIS], style=COLOURS[SYNTHESIS])
        return Panel(body, title=f"{title} · {subtitle}", border_style=COLOURS[SYNTHESIS])
    if name == "sonnet" and "rhyme_scheme" in stage:
        subtitle += f" · {stage['rhyme_scheme']} · {stage.get('phase', '')}"
    return Panel(Text(visible(str(stage["text"]))), title=f"{title} · {subtitle}",
                 border_style=COLOURS.get(name, "white"))


class BreathView:
    """Draws a breath part by part on ``console``: stages as they finish, then the meta sentence and the metrics,
    then the timings."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._dissonance: dict[str, float | None] = {}

    def event(self, name: str, data: Document) -> None:
        """Draw what a breath's event adds (tokens are not drawn: the stage's final text is)."""
        if name in ("stage", "artist"):
            self.stage(data)
        elif name == "meta":
            self.meta(data)
        elif name == "done":
            self.timings(data["timings"])

    def stage(self, stage: Document) -> None:
        self._dissonance[str(stage["organism"])] = stage.get("dissonance")
        self._console.print(stage_panel(stage))

    def meta(self, meta: Document) -> None:
        self._console.print(Panel(Text(visible(str(meta.get("sentence") or "(no sentence: nothing arrived)")),
                                       style="bold"),
                                  title="meta", border_style="white"))
        metrics = " | ".join(f"d_{name}={_number(self._dissonance.get(name))}" for name in INHALE)
        self._console.print(f"{metrics} | resonance={_number(meta.get('global_resonance'))}", highlight=False,
                            markup=False)

    def timings(self, timings: Mapping[str, float]) -> None:
        self._console.print("timings: " + "  ".join(f"{name} {seconds:.2f}s" for name, seconds in timings.items()),
                            style="dim", highlight=False, markup=False)


def render_cascade(console: Console, document: Document, *, only: str | None = None) -> None:
    """A whole cascade document (``only``: one organism's panel)."""
    view = BreathView(console)
    for name in (*INHALE, SYNTHESIS):
        if only is None or name == only:
            view.stage(document[name])
    if only is None:
        view.meta(document["meta"])
        view.timings(document["timings"])


def field_table(title: str, fields: Sequence[Document]) -> Table:
    """Field stats documents as a table: texts, disturbances, turns, trigram and word tokens, size."""
    table = Table(title=title)
    for column in ("field", "texts", "disturbances", "turns", "trigrams", "words", "size"):
        table.add_column(column, justify="left" if column == "field" else "right")
    for stats in fields:
        c = stats["counts"]
        table.add_row(str(stats["name"]), str(c["texts"]), str(c["disturbances"]), str(c["turns"]),
                      str(c["own_trigrams"] + c["heard_trigrams"]), str(c["own_words"] + c["heard_words"]),
                      f"{stats['size_bytes'] / 1024:.0f} KiB")
    return table


def _number(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "n/a"
