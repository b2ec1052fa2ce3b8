"""Build the lexicon: what each English word calls up, read from WordNet (``harmonix train lexicon``).

Why: a prompt shapes what an organism says through the words it *calls up* (:mod:`harmonix.organisms.listening`).
Counting which words share the long-term memory's 1650 paragraphs calls up little that a reader would recognise:
"heron" shares them with "testament" and "iconic". WordNet says what a heron is ("grey or white wading bird with
long neck and long legs"), what it is a kind of, what it is part of. Measured on the standard prompts
(``harmonix experiment associations``): the 16 words each source calls up for a prompt, read as a text, score a
prompt influence of about +0.13 from the memory's co-occurrences and about +0.29 from this lexicon. It stays
weightless: a table of words and counts, nothing learned.

Derivation from WordNet 3.0's database files (Debian's ``wordnet-base``, ``/usr/share/wordnet``; the Princeton
licence lets its data be copied and changed with its notice, kept in ``data/lexicon/NOTICE``):

1. every lemma of one alphabetic word that CMUdict knows is an entry;
2. an entry's senses are, in each part of speech, its first ``SENSES`` synsets in WordNet's order (most frequent
   first); sense ``r`` (from 0) of part of speech ``p`` weighs ``POS_WEIGHT[p] * share(p) / (r + 1)``, where
   ``share(p) = (tags(p) + 1) / (tags + parts)``: how often the entry was tagged as ``p`` in WordNet's sense-tagged
   corpus (``cntlist.rev``), smoothed over its ``parts`` parts of speech. "come" is a verb 814 times and its one noun
   sense never: without the share, "came back" called up "ejaculate" as strongly as "arrive";
3. each sense (not one where the entry is only a proper name: "Heron" the mathematician) gives each word once, at
   the highest of: a lemma of its synset (1), a content word of its definition and examples (1, times its
   :func:`specificity`: "used" is in thousands of definitions and says little), a lemma of a
   synset it points to, by the kind of pointer (:data:`RELATION_WEIGHT`: a hypernym 0.8, a part or a whole 0.7, a
   hyponym 0.3 …). A candidate's score is the sum over senses of ``sense weight x that weight``;
4. candidates must be content words that CMUdict knows and not the entry itself (by stem); the ``ASSOCIATES``
   strongest stay, each divided by the strongest and rounded to two decimals (ties in alphabetical order);
5. WordNet's irregular forms (``*.exc``: "mice" → "mouse") that lead to an entry are kept for lookups, and looked up
   before the entries: a form that is an entry of its own leads to its lemma only when the lemma was tagged more
   often ("saw" is read as "see", 1250 tags against 1, not as the tool or the adage).

The result, ``data/lexicon/lexicon.json.gz``, is one JSON object: ``{"entries": {word: "associate weight …"},
"forms": {form: lemma}}``. Rebuilding it takes a few seconds; it needs ``wordnet-base`` (``apt-get install
wordnet-base``) and nothing else.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmonix.engines.lexicon import pack
from harmonix.text import content_words, is_known, stem, tokenize

WORDNET_DIR = Path("/usr/share/wordnet")
LEXICON_FILE = Path(__file__).resolve().parents[2] / "data" / "lexicon" / "lexicon.json.gz"
PARTS_OF_SPEECH = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
POS_WEIGHT = {"n": 1.0, "v": 0.8, "a": 0.8, "r": 0.8}
SENSES = 3
ASSOCIATES = 24
SYNONYM_WEIGHT = 1.0
DEFINITION_WEIGHT = 1.0
SPECIFIC_DF = 100
RELATION_WEIGHT = {
    "@": 0.8, "@i": 0.8,  # hypernym: a heron is a wading bird
    "#m": 0.7, "#s": 0.7, "#p": 0.7, "%m": 0.7, "%s": 0.7, "%p": 0.7,  # holonyms and meronyms: wholes and parts
    "&": 0.7,  # similar adjectives
    "=": 0.6, ";c": 0.6, "*": 0.6, ">": 0.6,  # attribute, topic domain, entailment, cause
    "+": 0.5, "^": 0.5,  # derivationally related form, see also
    "-c": 0.4,  # member of a topic domain
    "~": 0.3, "~i": 0.3,  # hyponyms: many, and each one narrow
}


@dataclass(frozen=True, slots=True)
class Synset:
    """One synset of the database: its lemmas (as words), its pointers (kind, target key) and its definition."""

    lemmas: tuple[str, ...]
    pointers: tuple[tuple[str, tuple[str, str]], ...]
    definition: str


def _pos(mark: str) -> str:
    return "a" if mark == "s" else mark  # satellite adjectives live with the adjectives


def _words(lemmas: str) -> list[str]:
    return content_words(tokenize(lemmas.replace("_", " ").lower()))


def read_synsets(directory: Path) -> dict[tuple[str, str], Synset]:
    """Every synset of the ``data.*`` files, by (part of speech, byte offset)."""
    synsets = {}
    for name in PARTS_OF_SPEECH:
        for line in (directory / f"data.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue  # the licence at the top of each file
            head, _, definition = line.partition(" | ")
            fields = head.split()
            count = int(fields[3], 16)
            lemmas = tuple(fields[4 + 2 * i].split("(")[0] for i in range(count))  # "red(a)": a marker goes
            at = 4 + 2 * count
            pointers = tuple((fields[at + 1 + 4 * i], (_pos(fields[at + 3 + 4 * i]), fields[at + 2 + 4 * i]))
                             for i in range(int(fields[at])))
            synsets[(_pos(fields[2]), fields[0])] = Synset(lemmas, pointers, definition.strip())
    return synsets


def read_senses(directory: Path) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Each lemma's synset offsets per part of speech, most frequent sense first (the ``index.*`` files)."""
    senses: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for name, pos in PARTS_OF_SPEECH.items():
        for line in (directory / f"index.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split()
            pointer_kinds = int(fields[3])
            senses.setdefault(fields[0], []).append((pos, tuple(fields[4 + pointer_kinds + 2:])))
    return senses


def read_tags(directory: Path) -> dict[str, Counter[str]]:
    """How often each lemma was tagged in each part of speech in WordNet's sense-tagged corpus (``cntlist.rev``:
    ``lemma%pos:… sense_number tag_count``; parts 1-5 are noun, verb, adjective, adverb, satellite adjective)."""
    parts = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
    tags: dict[str, Counter[str]] = defaultdict(Counter)
    for line in (directory / "cntlist.rev").read_text(encoding="latin-1").splitlines():
        key, _, count = line.split()
        lemma, _, sense = key.partition("%")
        tags[lemma][parts[sense[0]]] += int(count)
    return dict(tags)


def read_forms(directory: Path) -> Iterator[tuple[str, str]]:
    """WordNet's irregular forms, (form, lemma)."""
    for name in PARTS_OF_SPEECH:
        for line in (directory / f"{name}.exc").read_text(encoding="latin-1").splitlines():
            fields = line.split()
            if len(fields) >= 2:
                yield fields[0], fields[1]


def specificity(synsets: Mapping[tuple[str, str], Synset]) -> dict[str, float]:
    """How specific each word of the definitions is: ``min(1, log(N / df) / log(N / SPECIFIC_DF))``, ``df`` the
    number of the ``N`` synsets whose definition holds it ("used" and "usually" count for little); 1 for every
    word of a database of ``SPECIFIC_DF`` synsets or fewer, too small to tell."""
    df: Counter[str] = Counter()
    for synset in synsets.values():
        df.update(set(content_words(tokenize(synset.definition))))
    n = len(synsets)
    if n <= SPECIFIC_DF:
        return dict.fromkeys(df, 1.0)
    return {word: min(1.0, math.log(n / count) / math.log(n / SPECIFIC_DF)) for word, count in df.items()}


def called_up(entry: str, senses: list[tuple[str, tuple[str, ...]]], tags: Mapping[str, int],
              synsets: Mapping[tuple[str, str], Synset], specific: Mapping[str, float]) -> list[tuple[str, float]]:
    """Steps 2-4 of the module docstring for one entry: its associates, strongest first, weights in (0, 1]."""
    parts = {pos for pos, _ in senses}
    total = sum(tags.get(pos, 0) for pos in parts)
    scores: defaultdict[str, float] = defaultdict(float)
    for pos, offsets in senses:
        share = (tags.get(pos, 0) + 1) / (total + len(parts))
        for rank, offset in enumerate(offsets[:SENSES]):
            weight = POS_WEIGHT[pos] * share / (rank + 1)
            synset = synsets[(pos, offset)]
            if entry not in synset.lemmas:
                continue  # only a proper name here ("Heron", a mathematician, is not a heron)
            found: defaultdict[str, float] = defaultdict(float)
            found.update({word: SYNONYM_WEIGHT for word in _words(" ".join(synset.lemmas))})
            for word in set(content_words(tokenize(synset.definition))):
                found[word] = max(found[word], DEFINITION_WEIGHT * specific[word])
            for kind, target in synset.pointers:
                if kind in RELATION_WEIGHT and target in synsets:
                    for word in _words(" ".join(synsets[target].lemmas)):
                        found[word] = max(found[word], RELATION_WEIGHT[kind])
            for word, strength in found.items():
                scores[word] += strength * weight
    own = stem(entry)
    ranked = sorted(((word, score) for word, score in scores.items()
                     if score > 0 and stem(word) != own and is_known(word)),
                    key=lambda pair: (-pair[1], pair[0]))[:ASSOCIATES]
    if not ranked:
        return []
    top = ranked[0][1]
    return [(word, round(score / top, 2)) for word, score in ranked]


def build(directory: Path) -> dict[str, Any]:
    """The lexicon document (module docstring) from WordNet's database files in ``directory``."""
    synsets = read_synsets(directory)
    senses = read_senses(directory)
    tags = read_tags(directory)
    specific = specificity(synsets)
    entries = {lemma: found for lemma in sorted(senses)
               if lemma.isalpha() and lemma.isascii() and is_known(lemma)
               and (found := called_up(lemma, senses[lemma], tags.get(lemma, Counter()), synsets, specific))}

    def tagged(word: str) -> int:
        return sum(tags.get(word, Counter()).values())

    forms = {form: lemma for form, lemma in sorted(read_forms(directory))
             if form.isalpha() and lemma in entries and (form not in entries or tagged(lemma) > tagged(form))}
    return {"entries": entries, "forms": forms}


def save(lexicon: Mapping[str, Any], path: Path) -> None:
    """Write the document with each entry packed (:func:`harmonix.engines.lexicon.pack`), as the lexicon loads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    packed = {"entries": {word: pack(found) for word, found in lexicon["entries"].items()}, "forms": lexicon["forms"]}
    text = json.dumps(packed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="harmonix train lexicon", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, default=WORDNET_DIR,
                        help="WordNet 3.0's database directory (default: Debian's wordnet-base)")
    parser.add_argument("--out", type=Path, default=LEXICON_FILE, help="where the lexicon goes (default: packaged)")
    args = parser.parse_args(argv)
    needed = [f"{kind}.{part}" for part in PARTS_OF_SPEECH for kind in ("data", "index")] + ["cntlist.rev"]
    missing = [name for name in needed if not (args.wordnet / name).is_file()]
    if missing:
        parser.error(f"{args.wordnet} is not WordNet 3.0's database (no {missing[0]}): "
                     "apt-get install wordnet-base, or pass --wordnet DIR")
    lexicon = build(args.wordnet)
    save(lexicon, args.out)
    print(json.dumps({"entries": len(lexicon["entries"]), "forms": len(lexicon["forms"]), "out": str(args.out)}))
