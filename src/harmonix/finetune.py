"""A colony's cascades as training pairs for Artist (``harmonix colony export NAME --format finetune``).

Every breath the hub recorded in its field (``meta``) keeps the prompt and each organism's text. For each one in
which Artist wrote a piece from at least one voice, this writes one JSON Lines record in the chat format
fine-tuning services and libraries take, in the form of the mode Artist speaks in (``llm_mode``):

- *completion*: ``{"prompt", "completion"}``: the prompt is exactly the opening Artist's model continues
  (:func:`harmonix.organisms.artist.completion_prompt`): the lines it quotes of each voice that arrived, chosen by
  their resonance with the breath's prompt as a live turn chooses them (:func:`~harmonix.organisms.artist.quotes`,
  :func:`harmonix.organisms.listening.resonance_with`); *chat*: ``{"messages": [system, user, assistant]}`` with
  Artist's persona and the same quotations (:func:`~harmonix.organisms.artist.chat_messages`). Artist's own earlier
  lines that a live turn adds depend on its field at that moment and are not recorded, so they are left out; the
  user's prompt is left out as Artist never reads it.
- the completion (or ``assistant``) is what the model itself wrote that time: Artist's piece without any line
  quoted from a voice, its own lines in order.

A piece with fewer than :data:`~harmonix.organisms.artist.MIN_OWN_LINES` own lines is skipped (Artist keeps none
such); pairs come oldest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from harmonix.engines.memory import Memory
from harmonix.meta import CascadeRecord
from harmonix.organisms.artist import MIN_OWN_LINES, VOICES, chat_messages, completion_prompt, quotes
from harmonix.organisms.base import SYNTHESIS
from harmonix.organisms.listening import resonance_with


def artist_pair(breath: CascadeRecord, memory: Memory, mode: str) -> dict[str, Any] | None:
    """The training record of one breath in ``mode`` (module docstring), or ``None`` when Artist wrote nothing to
    learn from."""
    piece = breath.texts.get(SYNTHESIS)
    voices = {voice: breath.texts[voice] for voice in VOICES if voice in breath.texts}
    if not piece or not voices:
        return None
    chosen = quotes(voices, resonance_with(breath.prompt or "", memory))
    own = [line.strip() for line in piece.splitlines()
           if line.strip() and not any(line.strip() in text for text in voices.values())]
    if len(own) < MIN_OWN_LINES:
        return None
    if mode == "completion":
        return {"prompt": completion_prompt(chosen, []), "completion": "\n".join(own)}
    return {"messages": [*chat_messages(chosen, []), {"role": "assistant", "content": "\n".join(own)}]}


def pair_lines(breaths: Sequence[CascadeRecord], memory: Memory, mode: str) -> Iterator[str]:
    """One JSON line per usable breath, in the order of ``breaths`` (a colony's history, oldest first)."""
    for breath in breaths:
        pair = artist_pair(breath, memory, mode)
        if pair is not None:
            yield json.dumps(pair, ensure_ascii=False) + "\n"
