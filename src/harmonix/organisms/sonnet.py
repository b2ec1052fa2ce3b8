"""Sonnet: our own character transformer, composing Shakespearean sonnets (14 lines, ABAB CDCD EFEF GG).

The second step of the constraint gradient. The model is a 1.8M-parameter character transformer trained by us on
Shakespeare's complete works (:mod:`harmonix.lab.training.sonnet`), run in NumPy (:mod:`harmonix.engines.charformer`).
The text it continues is built from its own field: the lines of its earlier sonnets that resonate most with the
turn (the prompt, plus whatever the caller passes as ``context``), and a line naming the words the shared memory
associates with it (:mod:`harmonix.organisms.listening`); never the user's own words.

**Form.** The model writes verse but knows nothing of rhyme or counting, so the form guides it while it writes
(constrained decoding, :class:`LineGuide`); the model still chooses every character among those the form allows:

1. the sonnet is written line by line, each line sampled as ``LINE_BATCH`` candidates at once, conditioned on the
   priming text and the lines so far;
2. a line may end (newline) only once it holds 9 to 11 syllables by CMUdict, on a word that can end a line: known to
   CMUdict, not a function word, with at least ``MIN_PARTNERS`` possible rhymes in ``data/sonnet/rhymes.json``
   (the words of Shakespeare that CMUdict knows, grouped by rhyme key);
3. the second line of each rhyming pair (ABAB CDCD EFEF GG), once it has 8 syllables, may only continue into a word
   of its partner's rhyme key that brings it to 9-11 syllables and is not the partner's own end word;
4. candidates are then read (:func:`read_line`: cleaned, counted, every word known to CMUdict, so its syllables
   are a fact and not a guess, and no ``COPY_WINDOW`` consecutive words copied from the corpus) and the best valid
   one by :attr:`VerseLine.quality` plus ``LEAN_BONUS`` times how it answers the prompt (its words'
   :meth:`~harmonix.organisms.listening.Listening.choosing`, at most 2: lines, and so rhyme words, that carry what
   the prompt called up win ties of form) is kept. The model does coin
   words: over 16 sonnets, when one coined word per
   line was allowed, 31 % of the chosen lines held one; requiring none took 14.2 batches per sonnet, not 14.0.
   A line with no valid candidate is resampled (``LINE_ATTEMPTS``); if it still has none, a candidate whose only
   fault is one coined word is kept. If not even that came, up to ``RESCUE_ATTEMPTS`` more batches are sampled at
   the coolest phase's temperature, where the model writes most regularly (a sonnet of the standard evaluation
   lost two lines' form at 0.7, and got them back at 0.5); else the best candidate is kept anyway: a sonnet always
   has 14 lines, and ``rhyme_scheme`` (computed from the final text) marks with "-" the pairs that do not rhyme.

Lines are capitalised; each quatrain and the couplet end with a full stop.

**Iambic score** of a line: its syllables' stresses (CMUdict) against the template da-DUM da-DUM …; a monosyllable
may take either beat, a polysyllable's stressed syllables (1 or 2) must fall on even positions (counting from 1) and
its unstressed ones on odd positions. Score = matching constrained syllables / constrained syllables (1 when none).

**Phase machine.** A sonnet's temperature follows a small state machine whose state lives in the field (key
``phase``): ``energy <- 0.6 * energy + 0.4 * d`` each turn (``d`` = the prompt's dissonance with Sonnet's field,
:func:`harmonix.observer.field_dissonance`), and the
phase is the band the energy falls in: crystalline < 0.35 <= liquid < 0.6 <= vapour < 0.8 <= plasma, with a
hysteresis of 0.05 (a phase is left only once the energy is 0.05 past its band). Temperatures: crystalline 0.5,
liquid 0.6, vapour 0.7, plasma 0.8: the more the user disturbs Sonnet, the hotter it writes.

**Priming** (:func:`priming_text`): of the lines of its last ``RESONANT_POOL`` texts, the ``PRIMING_LINES`` that
resonate most with the turn (BM25 against the prompt's words and their associates; the most recent lines when none
resonates), then "Of a, b and c," naming the ``CONTEXT_WORDS`` strongest words of the lean.

**Openings** (:func:`openers`): the first line of each quatrain and the couplet (``OPENING_LINES``) may open on
one of the lean's ``OPENING_CHOICES`` strongest words, alone ("Salt their service stands …" for a prompt about the
sea at night) or after a lead of ``LEADS`` ("The ocean …", "And waves …"). Which openings is the model's choice: the
``OPENERS`` it finds likeliest to begin the line there (its log-probability of the opening and a space after the
priming and the lines so far), none of them when it scores below ``OPENING_FLOOR``: a word the model would never
write there ("Descriptor thee that bade before their prayers") is not planted. The batch's rows are spread over the
openings, the guide spelling each row's before the model writes on, and the ranking chooses among whole lines: an
opening the rest of its line cannot carry loses to one it can, by the model's own fluency. Read by the fluency judge
(``harmonix eval --fluency``, docs/experiments/sonnet-openers.md, at ``c2a7e3b``), the lines that open so are no less
likely than Sonnet's others (nll −0.05 against them; +0.15 when one word was spelled for every row and the fluency
weighed 0.5), and whole sonnets read likelier (nll 4.72 against 4.83) with more sense in their order (order gain
1.38 against 1.33; Shakespeare's 1.68). The model alone barely
follows its priming: over the standard prompts the judge of :mod:`harmonix.lab.judge` put Sonnet's prompt influence
between 0.00 and 0.01 in every run without openings. The opening words are what the prompt calls up in Sonnet,
never the prompt's words; those can only win a choice among candidates
(:meth:`~harmonix.organisms.listening.Listening.choosing`).

**Habituation** (:func:`stale_grams`): a phrase Sonnet has used lately wears off. The word 4-grams of its own
sonnets among its last ``HABITUATION_TEXTS`` texts (about 24 sonnets in a cascade, where each breath also brings the
hub's meta sentence), and of the lines chosen so far, are *stale*; a candidate loses ``STALE_PENALTY`` for each
stale 4-gram it holds (counting the three words before it), within its tier. Without it, over 100 cascades in one
colony ``harmonix experiment long-conversation`` found "the time of the" in 9 % of the sonnets: Shakespeare's
turn of phrase, which the model returns to whenever it can.

**What it remembers.** Its field keeps what it was told; listening reads the last ``RECALL_TURNS`` prompts before this
one and lets what they called up linger in the lean, halving a turn (:mod:`harmonix.organisms.listening`, "Remembering
what it heard"), and lets their stems join the query its own lines are ranked by. So the openings, the priming's "Of a,
b and c," and the lines of its earlier sonnets that surface carry the last few prompts, the present one strongest; six
turns on, a prompt has faded. Measured by ``harmonix experiment memory`` (docs/results/evaluation.md, "Memory"): one
probe after three prompts of a theme, +0.048 [+0.025, +0.072] at ``bbb984a`` on five pairs of themes (before issue 24:
+0.010), +0.029 [+0.008, +0.051] on ten at ``5a0a852``, +0.028 [+0.009, +0.048] again on the ten at ``e4445a3``;
docs/experiments/memory.md, memory-ten-pairs.md, memory-opener.md. How it fades, on the ten at ``fb9da4f``
(memory-decay.md, the openings of ``c2a7e3b``): +0.041 [+0.018, +0.064] one probe after the block, +0.008 [-0.011,
+0.025] after one unrelated prompt, -0.005 [-0.024, +0.013] after six.

**One turn**, under Sonnet's field lock and in one transaction: wrinkle, snapshot, listen (dissonance, lean) and
phase, compose off the event loop, ingest the sonnet, store the phase, record the turn.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
import secrets
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harmonix.config import Config
from harmonix.copyfilter import CopyFilter
from harmonix.engines.charformer import Charformer
from harmonix.engines.memory import Memory
from harmonix.errors import CompositionFailed, ModelMissing
from harmonix.field import SELF_SOURCE, Field, RowLedger, SnapshotSpec
from harmonix.organisms.base import FieldOrganism, Stimulus, reply_details
from harmonix.organisms.listening import HEARD_TURNS, Listening, listen, lookup
from harmonix.text import (
    STOPWORDS,
    is_known,
    ngrams,
    rhyme_key,
    stress_pattern,
    syllables,
    tokenize,
    validate_text,
)

if TYPE_CHECKING:
    from harmonix.engines.shared import SharedEngines

NAME = "sonnet"
SCHEME = "ABABCDCDEFEFGG"
SYLLABLE_RANGE = (9, 11)
RHYME_FROM_SYLLABLE = 8
MIN_PARTNERS = 3
LINE_BATCH = 12
LINE_CHARS = 90
LINE_ATTEMPTS = 5
RESCUE_ATTEMPTS = 5
TOP_K = 20
FLUENCY_WEIGHT = 2.0
"""The weight of the model's own fluency in a candidate's quality. Over one sonnet's candidates the fluency (mean
log-probability per character) spreads with a standard deviation of about 0.15 and the iambic score of about 0.37: at
0.5 the model's sense of a line barely weighed against the metre and the lean, and a forced rhyme word or opening it
found unlikely passed; at 2 it weighs about as much as the metre."""
CONTEXT_WORDS = 6
RESONANT_POOL = 12
PRIMING_LINES = 3
OPENING_LINES = (0, 4, 8, 12)
OPENING_CHOICES = 6
OPENERS = 4
LEADS = ("", "The ", "And ", "O ", "My ", "Thy ", "Of ", "In ", "With ", "That ")
"""How an opening may lead into its lean word: alone (capitalised), or after one of these."""
OPENING_FLOOR = -15.0
"""In nats, for the opening (its lead included) and the space after it. After a quatrain of Shakespeare's and "Of
ocean, waves and salt,": "Salt" -8.8, "Shore" -10.0, "Waves" -12.3, "Harbour" -14.3 pass; "Kitchen" -16.6, "Ocean"
-17.8, "Descriptor" -19.0, "Category" -28.9 do not (the model's own "And" is -2.4). A lead can carry a word: "The
ocean" scored about -11 there."""
LEAN_BONUS = 0.75
HABITUATION_TEXTS = 48
STALE_PENALTY = 1.0
PHASES = (("crystalline", 0.0, 0.50), ("liquid", 0.35, 0.60), ("vapour", 0.60, 0.70), ("plasma", 0.80, 0.80))
"""(name, lower energy bound, temperature), in order."""
HYSTERESIS = 0.05
_STRAY = re.compile(r"[^A-Za-z',;:.!?\- ]")
_SPACES = re.compile(r"\s+")


# --- model and data, loaded once per process -----------------------------------------------------------------------


def packaged_model_dir() -> Path:
    return Path(str(resources.files("harmonix").joinpath("data", "sonnet")))


def load_model(directory: Path) -> Charformer:
    """The weights in ``directory`` (:class:`~harmonix.errors.ModelMissing` when there are none)."""
    if not (directory / "sonnet.npz").is_file():
        raise ModelMissing(f"no Sonnet weights in {directory}: run `harmonix train sonnet`")
    return Charformer.load(directory)


def load_copy_filter(directory: Path) -> CopyFilter:
    return CopyFilter.load(directory / "copies.npz")


def load_rhymes(directory: Path) -> dict[str, tuple[str, ...]]:
    document = json.loads((directory / "rhymes.json").read_text(encoding="utf-8"))
    return {key: tuple(words) for key, words in document["rhymes"].items()}


@dataclass(frozen=True, slots=True)
class SonnetEngine:
    """The model and the form's data (rhyme groups, copy filter): what a process loads once and every colony's
    Sonnet shares."""

    model: Charformer
    copy_filter: CopyFilter
    rhymes: dict[str, tuple[str, ...]]


def load_engine(model_dir: Path | None = None) -> SonnetEngine:
    """The weights in ``model_dir`` (default: the packaged ones) with the packaged form data."""
    data = packaged_model_dir()
    return SonnetEngine(load_model(model_dir or data), load_copy_filter(data), load_rhymes(data))


# --- reading one line ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerseLine:
    """A cleaned line and what the form needs to know about it."""

    text: str
    words: tuple[str, ...]
    syllables: int
    rhyme: str | None
    iambic: float
    fluency: float
    shaped: bool
    """9-11 syllables, a rhyme key, a capital, nothing copied: the form, counting coined words by the heuristic."""
    coined: int
    """Words CMUdict does not know."""

    @property
    def valid(self) -> bool:
        """The form with every syllable a fact: shaped, and no coined word."""
        return self.shaped and self.coined == 0

    @property
    def end_word(self) -> str:
        return self.words[-1] if self.words else ""

    @property
    def quality(self) -> float:
        """For ranking candidates: ``iambic + 0.25 * [exactly ten syllables] + FLUENCY_WEIGHT * fluency``, where
        fluency is the model's mean log-probability per character of the line (unconstrained, temperature 1)."""
        return self.iambic + (0.25 if self.syllables == 10 else 0.0) + FLUENCY_WEIGHT * self.fluency


def clean_line(raw: str) -> str:
    """Drop characters a line should not carry, tidy spacing and leading marks, capitalise."""
    text = _SPACES.sub(" ", _STRAY.sub("", raw)).strip(" ,;:-'")
    text = re.sub(r"\s+([,;:.!?])", r"\1", text)
    return text[:1].upper() + text[1:]


def iambic_score(words: Sequence[str]) -> float:
    """The iambic score in the module docstring."""
    matched = constrained = position = 0
    for word in words:
        stresses = stress_pattern(word)
        if stresses is None or len(stresses) == 1:
            position += syllables(word)
            continue
        for stress in stresses:
            position += 1
            constrained += 1
            matched += (stress > 0) == (position % 2 == 0)
    return matched / constrained if constrained else 1.0


def read_line(raw: str, copy_filter: CopyFilter, fluency: float = 0.0) -> VerseLine:
    """Score one generated line against the form (module docstring, step 4)."""
    text = clean_line(raw)
    words = tuple(tokenize(text))
    count = sum(syllables(word) for word in words)
    end = words[-1] if words else ""
    rhyme = rhyme_key(end) if end and end not in STOPWORDS else None
    low, high = SYLLABLE_RANGE
    shaped = (bool(words) and low <= count <= high and rhyme is not None and text[:1].isupper()
              and not copy_filter.copies(words))
    coined = sum(not is_known(word) for word in words)
    return VerseLine(text, words, count, rhyme, iambic_score(words), fluency, shaped, coined)


# --- guiding the model through the form ---------------------------------------------------------------------------


def can_end_line(word: str, rhymes: dict[str, tuple[str, ...]]) -> bool:
    """A word may end a line: CMUdict knows it, it is no function word, and ``MIN_PARTNERS`` others rhyme with it."""
    key = rhyme_key(word) if word not in STOPWORDS else None
    return key is not None and sum(other != word for other in rhymes.get(key, ())) >= MIN_PARTNERS


class LineGuide:
    """Steps 2 and 3 of the form for one batch of candidate lines (see the module docstring), each row opening on
    its share of ``openings`` (row ``r`` on ``openings[r % len(openings)]``) when any are given.

    Stateless in the text except for rhyme mode, which a row enters at the first word boundary with at least
    ``RHYME_FROM_SYLLABLE`` syllables and keeps: from there its last word is spelled through a trie of the rhyme
    words that fit its remaining syllables.
    """

    _END_MARKS = ",;:.!?"

    def __init__(self, vocab: str, rhymes: dict[str, tuple[str, ...]], rhyme: str | None, partner: str | None,
                 openings: Sequence[str] = ()):
        self._vocab = vocab
        self._rhymes, self._rhyme, self._partner = rhymes, rhyme, partner
        self._openings = [opening + " " for opening in openings if all(char in vocab for char in opening)]
        self._masks: dict[frozenset[str], np.ndarray] = {}
        self._tries: dict[int, tuple[int, frozenset[str]]] = {}  # row -> (where its rhyme word starts, words)
        self._no_newline = self._mask(frozenset(vocab) - {"\n"})

    def _mask(self, chars: frozenset[str]) -> np.ndarray:
        if chars not in self._masks:
            self._masks[chars] = np.array([char in chars for char in self._vocab])
        return self._masks[chars]

    def allowed(self, row: int, text: str) -> np.ndarray | None:
        opening = self._openings[row % len(self._openings)] if self._openings else ""
        if len(text) < len(opening):
            return self._mask(frozenset(opening[len(text)]))  # the row opens on its given opening
        if not text:
            return self._mask(frozenset(char for char in self._vocab if char.isupper()))
        low, high = SYLLABLE_RANGE
        if row in self._tries:
            return self._spell(row, text)
        words = tokenize(text)
        at_boundary = not (text[-1].isalpha() or text[-1] == "'")
        done_words = words if at_boundary else words[:-1]
        counted = sum(syllables(word) for word in done_words)
        if counted > high:
            return self._mask(frozenset())
        if self._rhyme is not None:
            if text[-1] == " " and counted >= RHYME_FROM_SYLLABLE:
                fitting = frozenset(w for w in self._rhymes.get(self._rhyme, ())
                                    if low <= counted + syllables(w) <= high and w != self._partner)
                if not fitting:
                    return self._mask(frozenset())
                self._tries[row] = (len(text), fitting)
                return self._spell(row, text)
            return self._no_newline
        total = counted if at_boundary else counted + syllables(words[-1])
        may_end = bool(words) and low <= total <= high and can_end_line(words[-1], self._rhymes)
        return None if may_end else self._no_newline

    def _spell(self, row: int, text: str) -> np.ndarray:
        start, words = self._tries[row]
        partial = text[start:]
        if partial and partial[-1] in self._END_MARKS:
            return self._mask(frozenset("\n"))
        following = {word[len(partial)] for word in words if word.startswith(partial) and len(word) > len(partial)}
        if partial in words:
            following |= set(self._END_MARKS) | {"\n"}
        return self._mask(frozenset(following))

    def done(self, row: int, text: str) -> bool:
        return False


def scheme_of(lines: Sequence[str]) -> str:
    """The rhyme scheme the lines achieve: each ABAB CDCD EFEF GG pair whose end words have the same rhyme key and
    are different words keeps its letters; the others are "-"."""
    ends = [tokenize(line)[-1] if tokenize(line) else "" for line in lines]
    achieved = list("-" * len(SCHEME))
    for letter in sorted(set(SCHEME)):
        first, second = (i for i, slot in enumerate(SCHEME) if slot == letter)
        if second < len(ends) and ends[first] != ends[second] and rhyme_key(ends[first]) is not None \
                and rhyme_key(ends[first]) == rhyme_key(ends[second]):
            achieved[first] = achieved[second] = letter
    return "".join(achieved)


def punctuate(lines: Sequence[str]) -> list[str]:
    """Each quatrain and the couplet end with a full stop; other lines keep their own marks, or take a comma."""
    finished = []
    for i, line in enumerate(lines):
        body = line.rstrip(",;:.!?-' ")
        if i in (3, 7, 11, 13):
            finished.append(body + ("!" if line.endswith("!") else "?" if line.endswith("?") else "."))
        else:
            finished.append(line if line[-1:] in ",;:.!?" else body + ",")
    return finished


# --- the phase machine ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    energy: float
    temperature: float


def next_phase(previous: Phase | None, d: float) -> Phase:
    """Update the energy with this turn's dissonance and move between phases with hysteresis (module docstring)."""
    energy = d if previous is None else 0.6 * previous.energy + 0.4 * d
    names = [name for name, _, _ in PHASES]
    current = names.index(previous.name) if previous is not None else None
    target = max(i for i, (_, bound, _) in enumerate(PHASES) if energy >= bound)
    if current is not None:
        # Leave the current band only once the energy is HYSTERESIS past its edge.
        rising = target > current and energy < PHASES[current + 1][1] + HYSTERESIS
        falling = target < current and energy > PHASES[current][1] - HYSTERESIS
        if rising or falling:
            target = current
    name, _, temperature = PHASES[target]
    return Phase(name, energy, temperature)


# --- composing -----------------------------------------------------------------------------------------------------


def priming_text(own_texts: Sequence[str], listening: Listening) -> str:
    """What the model continues (module docstring): its own most resonant lines, then a line naming the lean."""
    pool = [line.strip() for text in own_texts for line in text.splitlines() if line.strip()]
    lines = listening.by_resonance(pool)[:PRIMING_LINES] or pool[:PRIMING_LINES]
    named = listening.strongest(CONTEXT_WORDS)
    if named:
        lines.append("Of " + ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1] + ",")
    return "\n".join(lines) + "\n"


def snapshot_spec(heard: str, memory: Memory) -> SnapshotSpec:
    """What Sonnet reads of its field for a turn: its last ``HABITUATION_TEXTS`` texts (the newest
    ``RESONANT_POOL`` are the priming pool) and the counts listening needs for what it heard."""
    return SnapshotSpec(recent=max(RESONANT_POOL, HABITUATION_TEXTS), random=0, trigrams=0, disturbances=HEARD_TURNS,
                        lookup=lookup(heard, memory))


@dataclass(frozen=True, slots=True)
class Composition:
    lines: tuple[str, ...]
    scheme: str
    syllables: tuple[int, ...]
    batches: int
    planted: tuple[int, ...] = ()
    """The lines that open on a word of the lean (:func:`openers`), by index."""


def stale_grams(own_texts: Sequence[str]) -> set[tuple[str, ...]]:
    """The word 4-grams of ``own_texts`` (module docstring, habituation)."""
    return {gram for text in own_texts for gram in ngrams(tokenize(text), 4)}


def staleness(words: Sequence[str], before: Sequence[str], stale: Collection[tuple[str, ...]]) -> int:
    """How many of a line's 4-grams are stale, counting those that start in the last three words ``before`` it."""
    return sum(gram in stale for gram in ngrams([*before[-3:], *words], 4))


def rank_candidate(line: VerseLine, partner: VerseLine | None, lean: Listening | None = None,
                   stale: Collection[tuple[str, ...]] = frozenset(), before: Sequence[str] = ()) -> tuple[int, float]:
    """How a candidate for a slot compares: valid lines that rhyme with their partner first (2); then lines whose
    only fault is one coined word (1), the fallback that keeps the scheme and the count when no valid line came;
    then the rest (0); within a tier by :attr:`VerseLine.quality` plus ``LEAN_BONUS * min(2, choosing)``, the
    line's :meth:`~harmonix.organisms.listening.Listening.choosing`, minus ``STALE_PENALTY`` per stale 4-gram
    (:func:`staleness` after the words ``before`` it; module docstring)."""
    answers_partner = partner is None or (line.rhyme == partner.rhyme and line.end_word != partner.end_word)
    tier = 2 if line.valid and answers_partner else 1 if line.shaped and line.coined <= 1 and answers_partner else 0
    leaning = min(2.0, lean.choosing(line.words)) if lean is not None else 0.0
    return tier, line.quality + LEAN_BONUS * leaning - STALE_PENALTY * staleness(line.words, before, stale)


def openers(model: Charformer, context: str, listening: Listening, used: Collection[str]) -> tuple[str, ...]:
    """The openings a quatrain's (or the couplet's) first line may take (module docstring): each of the lean's
    ``OPENING_CHOICES`` strongest words not yet opened on (``used``, lower case), alone and capitalised or after one
    of the ``LEADS``; of these the ``OPENERS`` the model finds likeliest to begin a line after ``context``
    (:meth:`~harmonix.engines.charformer.Charformer.score` of the opening and a space), best first, those whose
    log-probability is at least ``OPENING_FLOOR``. Empty (the model opens the line itself) when none is."""
    words = [word for word in listening.strongest(OPENING_CHOICES + len(used)) if word not in used][:OPENING_CHOICES]
    options = [lead + word if lead else word.capitalize() for word in words for lead in LEADS]
    if not options:
        return ()
    scores = model.score(context, [option + " " for option in options])
    ranked = sorted(range(len(options)), key=lambda i: (-scores[i], i))
    return tuple(options[i] for i in ranked[:OPENERS] if scores[i] >= OPENING_FLOOR)


def opened_on(line: str, options: Sequence[str]) -> str | None:
    """The lean word of the opening in ``options`` that ``line`` begins with, lower case; ``None`` for none."""
    return next((option.split()[-1].lower() for option in options if line.startswith(option + " ")), None)


def compose(model: Charformer, copy_filter: CopyFilter, rhymes: dict[str, tuple[str, ...]], prime: str,
            temperature: float, rng: np.random.Generator, listening: Listening | None = None,
            habit: Sequence[str] = ()) -> Composition:
    """Write the 14 lines one by one under the form's guide (module docstring), weary of the phrases of ``habit``
    (its own recent sonnets). Pure CPU work."""
    chosen: list[VerseLine] = []
    stale = stale_grams(habit)
    batches = 0
    opened: list[str] = []
    planted: list[int] = []
    for index, letter in enumerate(SCHEME):
        partner = next((chosen[i] for i in range(index) if SCHEME[i] == letter), None)
        context = prime + "".join(line.text + "\n" for line in chosen)
        options = (openers(model, context, listening, opened)
                   if listening is not None and index in OPENING_LINES else ())
        guide = LineGuide(model.config.vocab, rhymes, partner.rhyme if partner else None,
                          partner.end_word if partner else None, options)
        before = [word for line in chosen for word in line.words]
        rank = functools.partial(rank_candidate, partner=partner, lean=listening, stale=stale, before=before)
        best: VerseLine | None = None
        for attempt in range(LINE_ATTEMPTS + RESCUE_ATTEMPTS):
            if attempt >= LINE_ATTEMPTS and best is not None and rank(best)[0] > 0:
                break
            batches += 1
            cool = min(temperature, PHASES[0][2]) if attempt >= LINE_ATTEMPTS else temperature
            samples = model.sample([context] * LINE_BATCH, max_new=LINE_CHARS, rng=rng, temperature=cool,
                                   top_k=TOP_K, guide=guide)
            candidates = [read_line(sample.text, copy_filter, sample.mean_log_probability) for sample in samples]
            best = max([c for c in candidates if c.words] + ([best] if best else []), key=rank, default=None)
            if best is not None and rank(best)[0] == 2:
                break
        if best is None:
            raise CompositionFailed(f"no candidate at all for line {index + 1}")
        chosen.append(best)
        word = opened_on(best.text, options)
        if word is not None:
            opened.append(word)
            planted.append(index)
        stale.update(ngrams([*before[-3:], *best.words], 4))
    lines = punctuate([line.text for line in chosen])
    return Composition(lines=tuple(lines), scheme=scheme_of(lines),
                       syllables=tuple(line.syllables for line in chosen), batches=batches, planted=tuple(planted))


# --- the organism --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SonnetReply:
    text: str
    lines: tuple[str, ...]
    rhyme_scheme: str
    syllables: tuple[int, ...]
    dissonance: float
    temperature: float
    phase: str
    seed: int
    batches: int
    compose_ms: float
    planted: tuple[int, ...] = ()
    """The lines that open on a word the prompt called up, by index (``harmonix eval`` reads their fluency)."""

    def details(self) -> dict[str, Any]:
        return reply_details(self)


class Sonnet(FieldOrganism):
    """The organism, built around its field by a colony (:meth:`build`); then
    ``reply = await sonnet.answer(prompt)``."""

    def __init__(self, field: Field, engine: SonnetEngine, memory: Memory) -> None:
        self._field, self._engine, self._memory = field, engine, memory

    @staticmethod
    async def prepare(engines: SharedEngines, config: Config) -> tuple[SonnetEngine, Memory]:
        """The packaged weights and form data and the memory, loaded once per process and shared by every colony's
        Sonnet."""
        engine: SonnetEngine = await engines.once(NAME, lambda: asyncio.to_thread(load_engine))
        return engine, await Memory.shared(engines)

    @classmethod
    async def build(cls, field: Field, engines: SharedEngines, config: Config) -> Sonnet:
        """Sonnet on ``field``, with the shared weights, listening with the shared memory."""
        return cls(field, *await cls.prepare(engines, config))

    name = NAME

    async def respond(self, stimulus: Stimulus) -> SonnetReply:
        """The organism protocol (:mod:`harmonix.organisms.base`): answer the cascade's prompt."""
        return await self.answer(stimulus.prompt, seed=stimulus.seed, ledger=stimulus.ledger)

    async def answer(self, prompt: str, *, context: str = "", seed: int | None = None,
                     ledger: RowLedger | None = None) -> SonnetReply:
        """One turn (module docstring). Bad prompts raise :class:`~harmonix.errors.InvalidText`, field unchanged."""
        validate_text(prompt, what="prompt")
        if context:
            validate_text(context, what="context")
        seed = secrets.randbits(63) if seed is None else seed
        rng = random.Random(seed)
        heard = f"{prompt}\n{context}"
        async with self._field.turn(ledger) as turn:
            await turn.wrinkle(prompt)
            snapshot = await turn.snapshot(rng, snapshot_spec(heard, self._memory))
            listening = listen(heard, snapshot, self._memory, can_say=is_known)
            d = listening.dissonance
            stored = snapshot.state.get("phase")
            phase = next_phase(None if stored is None else Phase(**stored), d)
            prime = priming_text([text.body for text in snapshot.recent[:RESONANT_POOL]], listening)
            habit = [text.body for text in snapshot.recent if text.source == SELF_SOURCE]
            generator = np.random.default_rng(rng.getrandbits(64))
            started = time.perf_counter()
            engine = self._engine
            composition = await asyncio.to_thread(compose, engine.model, engine.copy_filter, engine.rhymes, prime,
                                                  phase.temperature, generator, listening, habit)
            compose_ms = (time.perf_counter() - started) * 1000
            text = "\n".join(composition.lines)
            await turn.ingest(text, source=SELF_SOURCE, seed=seed)
            await turn.set_state("phase", {"name": phase.name, "energy": phase.energy,
                                           "temperature": phase.temperature})
            await turn.record(dissonance=d, temperature=phase.temperature, phase=phase.name,
                              rhyme_scheme=composition.scheme, batches=composition.batches,
                              compose_ms=round(compose_ms, 3))
        return SonnetReply(text=text, lines=composition.lines, rhyme_scheme=composition.scheme,
                           syllables=composition.syllables, dissonance=d, temperature=phase.temperature,
                           phase=phase.name, seed=seed, batches=composition.batches, compose_ms=compose_ms,
                           planted=composition.planted)

