"""The documentation a newcomer reads: a short README that points into the docs site, and a site whose navigation,
links and API reference stay whole. ``make docs-build`` (run by ``make test``) checks every link and anchor with
``mkdocs build --strict``; these tests check what that build cannot see."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import harmonix

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 250


def nav_pages(entries: list[object]) -> list[str]:
    """Every page the site's navigation lists, however deeply nested."""
    pages: list[str] = []
    for entry in entries:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            pages.extend(nav_pages(value) if isinstance(value, list) else [str(value)])
    return pages


def test_the_readme_is_short() -> None:
    """The README is the front door, not the lab notebook: results live in docs/results/."""
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; at most {README_MAX_LINES}"


def test_the_readme_links_resolve() -> None:
    """Every relative link of the README names a file of the checkout (the site's own links the strict build checks)."""
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [target for target in targets if "://" not in target]
    assert local, "the README links into docs/"
    missing = [target for target in local if not (ROOT / target).exists()]
    assert not missing, f"README links to files that are not there: {missing}"


def test_every_page_is_in_the_navigation() -> None:
    """A page outside the nav is a page nobody finds; a nav entry without its page breaks the site."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = nav_pages(config["nav"])
    pages = sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md"))
    assert sorted(set(listed)) == pages
    assert len(listed) == len(set(listed)), "a page is listed twice"


def test_the_api_reference_covers_the_front_door_and_nothing_else() -> None:
    """The reference documents exactly the names ``harmonix`` exports, so it never points into a module that moves."""
    reference = (DOCS / "guide" / "reference.md").read_text(encoding="utf-8")
    documented = re.findall(r"^::: harmonix\.(\S+)$", reference, re.MULTILINE)
    assert documented == [name for name in harmonix.__all__ if name != "__version__"]
