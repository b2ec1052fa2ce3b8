"""Parts that fail under Harmonix: an LLM server that dies in the middle of an answer, a disk that refuses a write,
a home on a read-only filesystem. Each must give a named error, and leave every field whole and unchanged.

The LLM is the stand-in (tests/llm_standin.py ``--stall``: half an answer, then silence, and a line that says so),
killed with SIGKILL. The disk is a real write failure: the writer runs with a file-size limit (``RLIMIT_FSIZE``;
Python ignores SIGXFSZ, so the write fails with EFBIG and SQLite reports an I/O error, as it would for a failing
device; a full disk is SQLITE_FULL, the same path). The read-only home is a real read-only mount: a bind mount
remounted read-only in a mount namespace of the command's own (``unshare``), so it holds for root too, which
``chmod`` would not. PostgreSQL's full disk is a real one too: a throwaway cluster whose tablespace is a small tmpfs
(tests/throwaway_postgres.py ``small_disk_bytes``), so the server's own write fails with ``No space left on device``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import shutil
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from httpx_sse import aconnect_sse

from fieldtools import audit, fingerprint
from harmonix.field import Field, open_store, sqlite_url
from harmonix.organisms.base import SYNTHESIS
from serving import llm_standin_process, served
from throwaway_postgres import SMALL_DISK_TABLESPACE, PostgresUnavailable, throwaway_postgres


def harmonix(*args: str, home: Path, stdin: str | None = None, file_limit: int | None = None,
             wrapper: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``harmonix ARGS`` in a subprocess with ``home``; ``file_limit``: the most bytes it may write to any file;
    ``wrapper``: a command that runs it (``unshare …``)."""

    def limit() -> None:
        assert file_limit is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run([*wrapper, sys.executable, "-m", "harmonix", *args], input=stdin, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "HARMONIX_HOME": str(home)},
                          preexec_fn=limit if file_limit is not None else None)


async def streamed_events(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    async with aconnect_sse(client, "POST", url, json=body, headers={"accept": "text/event-stream"}) as source:
        assert source.response.status_code == 200
        async for event in source.aiter_sse():
            if event.data:
                found.append((event.event, json.loads(event.data)))
    return found


async def test_an_llm_killed_mid_answer_fails_prose_and_artist_and_the_cascade_breathes_on(tmp_path: Path) -> None:
    """Prose's and then Artist's LLM server each die half-way through an answer (their first words already
    streamed to the client): both stages report LLMUnavailable (Prose's retry then finds no server), HAiKU and Sonnet answer, the cascade is recorded; Prose's and Artist's fields hold no turn and
    no disturbance (only the meta sentence every organism hears), and every field passes its audit."""
    home = tmp_path / "home"
    with llm_standin_process(0, mode="--stall") as (prose_url, prose_llm), \
            llm_standin_process(0, mode="--stall") as (artist_url, artist_llm), \
            served(home, "--llm-url", prose_url, "--artist-llm-url", artist_url) as server:
        async with httpx.AsyncClient(timeout=httpx.Timeout(300, connect=10)) as client:
            cascade = asyncio.create_task(streamed_events(client, f"{server.url}/v1/colonies/default/cascades",
                                                          {"prompt": "What does the lamp remember?", "seed": 3}))
            for llm in (prose_llm, artist_llm):
                assert llm.stdout is not None
                streaming = asyncio.create_task(asyncio.to_thread(llm.stdout.readline))
                await asyncio.wait({streaming, cascade}, return_when=asyncio.FIRST_COMPLETED)
                assert streaming.done() and streaming.result() == "streaming\n", "the cascade ended first"
                llm.kill()
            events = await cascade
    stages = {data["organism"]: data for name, data in events if name in ("stage", "artist")}
    for name in ("prose", SYNTHESIS):
        assert stages[name]["text"] is None and stages[name]["error"]["type"] == "LLMUnavailable", stages[name]
        assert any(event == "token" and data["organism"] == name for event, data in events), "half an answer came"
    assert stages["haiku"]["text"] and stages["sonnet"]["text"]
    assert [name for name, _ in events][-2:] == ["meta", "done"]
    async with open_store(sqlite_url(home)) as store:
        for name in await store.field_names("default"):
            assert (await audit(store, name)).ok, name
        for name in ("prose", SYNTHESIS):
            async with Field.open(store, name, create=False, retention=None) as field:
                dump = await field.dump()
            assert (dump.turns, dump.disturbances) == ((), ()), f"{name}: its failed turn left nothing"
            assert [row[1] for row in dump.texts] == ["meta"], name


async def test_a_disk_that_refuses_the_write_is_a_named_error_and_the_field_is_unchanged(tmp_path: Path) -> None:
    """An ingest bigger than the writer's file-size limit: exit 1 with one FieldWriteFailed document, no traceback;
    the field is row for row what it was and passes its audit (counts and SQLite's integrity_check); without the
    limit the same ingest then succeeds (nothing was left locked or half-written)."""
    home = tmp_path / "home"
    assert harmonix("field", "ingest", "haiku", "a quiet lamp in the hall", home=home).returncode == 0
    url = sqlite_url(home)
    async with open_store(url) as store:
        before = await fingerprint(store, "haiku")
    size = sum(path.stat().st_size for path in (home / "colonies" / "default").glob("haiku.sqlite3*"))
    body = " ".join(f"w{i}" for i in range(5000))  # 5000 new words and trigrams: far more pages than the limit allows
    refused = harmonix("field", "ingest", "haiku", "-", "--json", home=home, stdin=body, file_limit=size + 8192)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr[-2000:]
    error = json.loads(refused.stdout)["error"]
    assert error["type"] == "FieldWriteFailed" and "unchanged" in error["message"]
    async with open_store(url) as store:
        assert await fingerprint(store, "haiku") == before
        assert (await audit(store, "haiku")).ok
    assert harmonix("field", "ingest", "haiku", "-", home=home, stdin=body).returncode == 0
    async with open_store(url) as store:
        assert (await audit(store, "haiku")).ok


@pytest.fixture
def small_disk_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    """The admin URL of a throwaway cluster whose tablespace ``small_disk`` is a 3 MiB tmpfs."""
    if request.config.getoption("--no-postgres"):
        pytest.skip("PostgreSQL tests skipped on request (--no-postgres)")
    try:
        with throwaway_postgres(small_disk_bytes=3 * 1024 * 1024) as url:
            yield url
    except PostgresUnavailable as error:
        pytest.skip(f"no PostgreSQL with a small disk here: {error}")


def fill_the_disk(url: str) -> None:
    """Rows of random hex into a table of the database at ``url`` until its disk refuses the next page."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE filler (x text)")
        with pytest.raises(psycopg.errors.DiskFull):
            for _ in range(10_000):
                conn.execute("INSERT INTO filler SELECT md5(random()::text) FROM generate_series(1, 2000)")


async def test_a_full_postgresql_disk_is_a_named_error_and_the_field_is_unchanged(tmp_path: Path,
                                                                               small_disk_postgres: str) -> None:
    """A colony in a database on the small disk, which another table then fills: an ingest exits 1 with one
    FieldWriteFailed document (PostgreSQL's ``disk_full``) and nothing on stderr (not the driver's own warning), and the field is row for row what it was and passes its
    audit. Once that table is dropped, the same ingest succeeds: the refusal left nothing locked or half-written."""
    with psycopg.connect(small_disk_postgres, autocommit=True) as admin:
        admin.execute("CREATE DATABASE colonies")  # catalogs on the real disk, every table made in it on the small one
        admin.execute(f"ALTER DATABASE colonies SET default_tablespace = {SMALL_DISK_TABLESPACE}")
    url = small_disk_postgres.replace("/postgres?", "/colonies?", 1)
    home = tmp_path / "home"
    assert harmonix("field", "ingest", "haiku", "a quiet lamp in the hall", "--database", url,
                    home=home).returncode == 0
    async with open_store(url) as store:
        before = await fingerprint(store, "haiku")
    fill_the_disk(url)
    words = random.Random(0)
    body = " ".join("".join(words.choices(string.ascii_lowercase, k=8)) for _ in range(3000))  # ~27 000 characters
    refused = harmonix("field", "ingest", "haiku", "-", "--json", "--database", url, home=home, stdin=body)
    assert refused.returncode == 1 and refused.stderr == "", refused.stderr[-2000:]  # the error is said once
    error = json.loads(refused.stdout)["error"]
    assert error["type"] == "FieldWriteFailed" and "unchanged" in error["message"], error
    async with open_store(url) as store:
        assert await fingerprint(store, "haiku") == before
        assert (await audit(store, "haiku")).ok
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE filler")
    assert harmonix("field", "ingest", "haiku", "-", "--database", url, home=home, stdin=body).returncode == 0
    async with open_store(url) as store:
        assert (await audit(store, "haiku")).ok


def read_only(home: Path) -> tuple[str, ...]:
    """A command prefix that runs a command with ``home`` mounted read-only, in a mount namespace of its own."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs util-linux's unshare with user and mount namespaces, for a real read-only filesystem")
    mount = f'mount --bind "{home}" "{home}" && mount -o remount,ro,bind "{home}" && exec "$@"'
    return ("unshare", "-rm", "sh", "-c", mount, "read-only")


def test_a_read_only_home_is_a_clear_error_at_start(tmp_path: Path) -> None:
    """On a read-only filesystem, the command line and ``serve`` each stop at once with one line naming the home
    (exit 2, StoreUnavailable); ``serve`` binds nothing and never says it is listening."""
    home = tmp_path / "home"
    assert harmonix("field", "ingest", "haiku", "written before the disk became read-only", home=home).returncode == 0
    wrapper = read_only(home)
    ingest = harmonix("field", "ingest", "haiku", "one more", "--json", home=home, wrapper=wrapper)
    assert ingest.returncode == 2 and "Traceback" not in ingest.stderr, ingest.stderr[-2000:]
    error = json.loads(ingest.stdout)["error"]
    assert error["type"] == "StoreUnavailable" and str(home) in error["message"] and "not writable" in error["message"]
    serve = harmonix("serve", "--port", "0", "--llm-url", "http://127.0.0.1:9/v1", home=home, wrapper=wrapper)
    assert serve.returncode == 2, serve.stderr[-2000:]
    assert "Traceback" not in serve.stderr and "listening" not in serve.stderr
    assert serve.stderr.strip().splitlines() == [f"error: the home {home} is not writable"]
