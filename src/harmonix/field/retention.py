"""How much a field remembers: what forgetting means, the rule that keeps a field's size, and a turn's cost, bounded.

**Why.** Every cascade adds rows to every field: a disturbance, a text or two of the organism's own, the meta
sentence it hears, a turn's metrics row (the hub: the prompt, five texts and a turn). Left alone, a field grows by a
constant amount per cascade forever, and so does the work of every snapshot (counting rows, ranking trigrams, finding
random texts by offset). ``harmonix bench growth`` measures both, with and without the policy.

**The policy** (:class:`harmonix.config.Retention`, a value of the configuration: ``HARMONIX_KEEP_TURNS``): a field
keeps its newest ``texts`` texts, ``disturbances`` disturbances and ``turns`` turns; older rows are *forgotten*,
and with them exactly what they had added to the counts. After forgetting, the field is what it would be had the
forgotten rows never been written: the audit (:mod:`harmonix.field.audit`) recomputes the same counts from what
remains. Forgetting happens inside the write transaction that pushed a table past its cap
(:class:`~harmonix.field.steps.Forget`, the last step before the commit), so a field is never seen half-forgotten,
and a rolled-back turn forgets nothing.

The defaults keep the newest 1000 turns and disturbances and 5000 texts: the hub stores five texts per cascade (four
stages and the meta sentence), so its history keeps every text of its newest 1000 cascades; an organism stores two
or three texts per turn (its reply, the meta sentence it heard, HAiKU's reflection), so its texts reach back further
than its turns. What is forgotten is gone: the history of a colony shows its newest 1000 cascades.

**What a store must do** for :class:`~harmonix.field.steps.Forget` (SQLite: :mod:`harmonix.field.sqlite.steps`;
PostgreSQL: :mod:`harmonix.field.postgres.steps`, one round trip to find what overflowed, the rest sent with the
commit), inside the open write transaction, for each of the three tables with its cap ``keep``:

1. ``m`` = the highest id in the table (nothing to do when the table is empty or ``m <= keep``); the rows with
   ``id <= m - keep`` are forgotten (ids are never reused, so these are the oldest rows, and the newest ``keep`` ids
   stay);
2. texts: subtract :func:`counts_of` their bodies from the ``own`` trigram and word counts; disturbances: from the
   ``heard`` counts; then delete every trigram and word row touched whose ``own`` and ``heard`` are both 0;
3. set ``text_id`` (for texts) or ``disturbance_id`` (for disturbances) to NULL in the turns that pointed at a
   forgotten row, then delete the rows; turns: just delete them;
4. return :class:`~harmonix.field.model.Forgotten` (how many rows of each table went).

The counts to subtract are recomputed from the bodies with the one tokenizer (:func:`counts_of`), as the audit does,
so a store needs nothing but the rows it already has.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from harmonix.text import Trigram, tokenize, trigrams


@dataclass(frozen=True, slots=True)
class Counts:
    """Trigram and word counts summed over some texts (what forgetting them subtracts)."""

    trigrams: dict[Trigram, int]
    words: dict[str, int]


def counts_of(bodies: Iterable[str]) -> Counts:
    """The trigram and word counts ``bodies`` added when they were stored: per body, its tokens and their trigrams
    (:func:`harmonix.text.tokenize`), summed over the bodies."""
    trigram_counts: Counter[Trigram] = Counter()
    word_counts: Counter[str] = Counter()
    for body in bodies:
        tokens = tokenize(body)
        trigram_counts.update(trigrams(tokens))
        word_counts.update(tokens)
    return Counts(trigrams=dict(trigram_counts), words=dict(word_counts))
