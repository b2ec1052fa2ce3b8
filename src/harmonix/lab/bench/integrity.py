"""What the reliability benchmarks check after a run: is every field of every colony whole, and did every
organism's turns follow one another?

- **Whole**: the audit (:func:`harmonix.field.audit_field`: every count recomputed from the texts, SQLite's own
  ``integrity_check`` and ``foreign_key_check``) finds nothing.
- **Sequential**: each organism turn records the highest turn id its snapshot saw (``seen_turns``), so in a field
  whose turns never overlapped, turn ``n`` saw exactly ``n - 1``, also after the field forgot its oldest turns
  (:mod:`harmonix.field.retention`). The hub's turns take no snapshot (its exhale lock orders them) and are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from harmonix.field import Field, audit_field, open_store
from harmonix.organisms.base import HUB


@dataclass(frozen=True, slots=True)
class Violations:
    """What was wrong, in words; ``audit`` and ``interleaved`` count them by kind."""

    audit: int
    interleaved: int
    found: tuple[str, ...]

    @property
    def total(self) -> int:
        return self.audit + self.interleaved


async def violations_in(url: str) -> Violations:
    """Every audit problem and every turn that overlapped another, over every colony of the store at ``url``."""
    audit, interleaved, found = 0, 0, []
    async with open_store(url) as store:
        for info in await store.colonies():
            for name in await store.field_names(info.name):
                problems = (await audit_field(store, info.name, name)).violations
                audit += len(problems)
                found += [f"{info.name}/{name}: {problem}" for problem in problems]
                if name == HUB:
                    continue
                async with Field.open(store, name, colony=info.name, create=False, retention=None) as field:
                    turns = (await field.dump()).turns
                wrong = [f"{info.name}/{name}: turn {turn[0]} saw turn {turn[4]}" for turn in turns
                         if turn[4] != turn[0] - 1]
                interleaved += len(wrong)
                found += wrong
    return Violations(audit=audit, interleaved=interleaved, found=tuple(found))
