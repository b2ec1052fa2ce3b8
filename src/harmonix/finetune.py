"""A colony's cascades as training pairs for Artist (``harmonix colony export NAME --format finetune``).

Every breath the hub recorded in its field (``meta``) keeps the prompt and each organism's text. For each one in
which Artist wrote a piece from at least one voice, this writes one JSON Lines record in the chat format
fine-tuning services and libraries take: ``{"messages": [system, user, assistant]}``.

- ``system`` and ``user`` are exactly what Artist's model is given at that point
  (:func:`harmonix.organisms.artist.messages`): Artist's persona, and the lines it quotes of each voice that arrived
  (:func:`~harmonix.organisms.artist.quotes`). The seed of Artist's own earlier pieces that a live turn adds is
  drawn at random and not recorded, so it is left out; the user's prompt is left out as Artist never sees it.
- ``assistant`` is what the model itself wrote that time: Artist's piece without the quoted lines, its own lines
  in order.

A piece with fewer than :data:`~harmonix.organisms.artist.MIN_OWN_LINES` own lines is skipped (Artist keeps none
such); pairs come oldest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from harmonix.field import Field, Store, TurnView
from harmonix.organisms.artist import MIN_OWN_LINES, VOICES, messages, quotes
from harmonix.organisms.base import HUB, SYNTHESIS

PAGE = 500


async def cascades(store: Store, colony: str) -> list[TurnView]:
    """Every breath the colony's hub recorded, oldest first (read page by page, each page one transaction)."""
    found: list[TurnView] = []
    async with Field.open(store, HUB, colony=colony, create=False) as hub:
        before: int | None = None
        while page := await hub.turns(PAGE, before):
            found.extend(page)
            before = page[-1].id
    return found[::-1]


def artist_pair(turn: TurnView) -> dict[str, Any] | None:
    """The training record of one breath (module docstring), or ``None`` when Artist wrote nothing to learn from."""
    piece = turn.texts.get(SYNTHESIS)
    voices = {voice: turn.texts[voice] for voice in VOICES if voice in turn.texts}
    if not piece or not voices:
        return None
    chosen = quotes(voices)
    quoted = {line.strip() for text in chosen.values() for line in text.splitlines()}
    own = [line.strip() for line in piece.splitlines() if line.strip() and line.strip() not in quoted]
    if len(own) < MIN_OWN_LINES:
        return None
    return {"messages": [*messages(chosen, ""), {"role": "assistant", "content": "\n".join(own)}]}


def pair_lines(turns: Sequence[TurnView]) -> Iterator[str]:
    """One JSON line per usable breath."""
    for turn in turns:
        pair = artist_pair(turn)
        if pair is not None:
            yield json.dumps(pair, ensure_ascii=False) + "\n"
