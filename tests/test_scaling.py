"""Many processes, one truth: several ``harmonix serve`` processes (different ports, as different machines would
run them) on one PostgreSQL database. A colony created through one is served by all; every organism's turns stay
strictly sequential across processes; a server killed in the middle of a turn leaves no part of it, and the other
server goes on as soon as PostgreSQL has released the dead one's lock.

Prose and Artist run on a stand-in LLM server (tests/llm_standin.py) so a turn can be held open for as long as a
test needs; HAiKU, Sonnet and the hub are the real ones."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from httpx_sse import aconnect_sse

from fieldtools import audit
from harmonix.field import Field, open_store
from harmonix.field.postgres.schema import field_lock_key
from harmonix.organisms.base import FIELDS
from serving import Served, llm_standin, serve_args, served

STREAM = {"accept": "text/event-stream"}


async def colony_audit(url: str, colony: str) -> dict[str, tuple[Any, list[int | None]]]:
    """Every field's audit and each organism's seen_turns in turn order (the hub's turns take no snapshot)."""
    found = {}
    async with open_store(url) as store:
        for name in await store.field_names(colony):
            result = await audit(store, name, colony)
            async with Field.open(store, name, colony=colony, create=False) as field:
                turns = (await field.dump()).turns
            found[name] = (result, list(range(len(turns))) if name == "meta" else [turn[4] for turn in turns])
    return found


async def breathe(client: httpx.AsyncClient, server: Served, colony: str, i: int) -> int:
    """One cascade, streamed for odd ``i``: its status (200 when it ended with ``done``)."""
    if i % 2:
        async with aconnect_sse(client, "POST", f"{server.url}/v1/colonies/{colony}/cascades",
                                json={"prompt": f"voice {i} across the servers"}, headers=STREAM) as source:
            names = [event.event async for event in source.aiter_sse()]
        return 200 if names and names[-1] == "done" else 500
    answer = await client.post(f"{server.url}/v1/colonies/{colony}/cascades",
                               json={"prompt": f"voice {i} across the servers", "seed": i})
    return answer.status_code


async def test_two_servers_on_one_database_share_colonies_and_keep_turns_sequential(
        postgres_url: str, tmp_path: Path, client: httpx.AsyncClient) -> None:
    per_server = 4
    with llm_standin(0.05) as llm, \
            served(tmp_path / "a", *serve_args(llm, "--database", postgres_url, "--max-waiting", "8")) as one, \
            served(tmp_path / "b", *serve_args(llm, "--database", postgres_url, "--max-waiting", "8")) as two:
        assert (await client.post(f"{one.url}/v1/colonies", json={"name": "shared"})).status_code == 201
        assert (await client.get(f"{two.url}/v1/colonies/shared")).json()["id"] == "shared", \
            "a colony created through one server is served by the other"
        assert "shared" in [c["id"] for c in (await client.get(f"{two.url}/v1/colonies")).json()["colonies"]]
        statuses = await asyncio.gather(*(breathe(client, server, "shared", i)
                                          for i in range(per_server) for server in (one, two)))
        assert statuses == [200] * (2 * per_server)
        history = (await client.get(f"{one.url}/v1/colonies/shared/history", params={"limit": 20})).json()
        assert len(history["cascades"]) == 2 * per_server, "each server reads the other's breaths"
    fields = await colony_audit(postgres_url, "shared")
    assert set(fields) == set(FIELDS)
    for name, (result, seen) in fields.items():
        assert result.ok, (name, result.violations)
        assert seen == list(range(2 * per_server)), f"{name}: turns interleaved across the servers: {seen}"


def lock_holder(url: str, colony: str, field: str) -> str | None:
    """The state of the session that holds ``field``'s advisory lock, or ``None`` when no one holds it."""
    key = field_lock_key(colony, field) & 0xFFFFFFFFFFFFFFFF
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                           " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                           " AND l.classid::bigint = %s AND l.objid::bigint = %s",
                           (key >> 32, key & 0xFFFFFFFF)).fetchone()
    return None if row is None else str(row[0])


async def test_a_server_killed_mid_turn_leaves_no_partial_turn_and_the_other_goes_on(
        postgres_url: str, tmp_path: Path, client: httpx.AsyncClient) -> None:
    """Server A's Prose turn is waiting on a slow LLM, its field's lock and transaction held, when A is SIGKILLed.
    PostgreSQL sees the connection close, rolls the turn back and frees the lock; server B's cascade on the same
    colony then runs well within the lock timeout, and Prose's field holds B's turn alone."""
    lock_timeout_s = 30
    env = {"HARMONIX_LOCK_TIMEOUT": str(lock_timeout_s)}
    with llm_standin(120.0) as slow, llm_standin(0.05) as fast, \
            served(tmp_path / "a", *serve_args(slow, "--database", postgres_url), env=env) as doomed, \
            served(tmp_path / "b", *serve_args(fast, "--database", postgres_url), env=env) as survivor:
        breath = asyncio.create_task(client.post(f"{doomed.url}/v1/colonies/default/cascades",
                                                 json={"prompt": "a breath that dies with its server"}))
        deadline = time.monotonic() + 120
        while lock_holder(postgres_url, "default", "prose") is None:  # A's Prose turn has begun and waits on its LLM
            assert time.monotonic() < deadline and not breath.done(), "A's Prose turn never took its lock"
            await asyncio.sleep(0.05)
        assert doomed.stop(signal.SIGKILL) == -signal.SIGKILL
        with pytest.raises(httpx.HTTPError):
            await breath
        started = time.monotonic()
        answer = await client.post(f"{survivor.url}/v1/colonies/default/cascades",
                                   json={"prompt": "the breath after", "seed": 1})
        took = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert {name: answer.json()[name]["error"] for name in ("haiku", "sonnet", "prose", "artist")} == \
            dict.fromkeys(("haiku", "sonnet", "prose", "artist"))
        assert took < lock_timeout_s, f"B waited {took:.1f} s"
    assert lock_holder(postgres_url, "default", "prose") is None
    fields = await colony_audit(postgres_url, "default")
    for name, (result, seen) in fields.items():
        assert result.ok, (name, result.violations)
        assert seen == list(range(len(seen))), (name, seen)
    prose = fields["prose"][0]
    assert (prose.turns, prose.disturbances) == (1, 1), "nothing of A's Prose turn is left; B's is whole"
    async with open_store(postgres_url) as store, Field.open(store, "prose", create=False) as field:
        assert [row[2] for row in (await field.dump()).disturbances] == ["the breath after"]
    assert json.dumps(fields["meta"][1]) == "[0]", "only B's breath reached the hub"


def harmonix(*args: str, home: Path) -> dict[str, Any]:
    env = {**os.environ, "HARMONIX_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "harmonix", *args, "--json"], capture_output=True, text=True,
                          env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_bench_serve_spreads_the_load_over_two_processes_on_one_database(postgres_url: str, tmp_path: Path) -> None:
    """The benchmark at its smallest (Prose and Artist on the stand-in): both arms measured, no violation. Not a
    timing test."""
    with llm_standin(0.05) as llm:
        report = harmonix("bench", "serve", "--database", postgres_url, "--processes", "2", "--repeats", "1",
                          "--cascades", "2", "--colonies", "2", "--llm-url", llm, home=tmp_path)
    assert report["processes"] == 2 and report["store"].startswith("postgresql://")
    assert report["cascades_per_s_4"] > 0 and report["cascades_per_s_spread"] > 0 and report["process_gain"] > 0
    assert report["violations"] == 0 and report["server_errors"] == 0 and report["rejections"] == 0


def test_bench_serve_refuses_processes_without_a_shared_database(tmp_path: Path) -> None:
    env = {**os.environ, "HARMONIX_HOME": str(tmp_path)}
    env.pop("HARMONIX_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "harmonix", "bench", "serve", "--processes", "2"], text=True,
                          capture_output=True, env=env, timeout=120)
    assert done.returncode == 2 and "--processes needs --database postgresql" in done.stderr
