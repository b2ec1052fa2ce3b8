"""Runs against real servers (``harmonix serve`` in subprocesses; Prose and Artist on the stand-in LLM): a breath is a
run with an id, announced first; it can be read, cancelled, left running and rejoined from any event on, through a
second server process on the same PostgreSQL database too."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from fieldtools import audit
from harmonix.field import Field, open_store
from harmonix.organisms.base import FIELDS
from serving import Gate, gated_llm_standin, llm_standin, serve_args, served

STREAM = {"accept": "text/event-stream"}
Event = tuple[int, str, dict[str, Any]]


@pytest.fixture(scope="module")
def quick() -> Iterator[str]:
    with llm_standin(0.05) as url:
        yield url


@pytest.fixture
def gate() -> Iterator[Gate]:
    """An LLM that answers when the test opens its gate: a breath stays in Prose until it has been left, rejoined
    or cancelled."""
    with gated_llm_standin() as held:
        yield held


async def stream(client: httpx.AsyncClient, method: str, url: str, *, body: dict[str, Any] | None = None,
                 last_event_id: int | None = None, until: str | None = None,
                 opened: Callable[[], Awaitable[None]] | None = None) -> list[Event]:
    """The events of a stream (id, name, data), all of them or up to the first named ``until`` (then it leaves);
    ``opened`` is awaited once the stream has been answered, before its events are read."""
    headers = {**STREAM, **({} if last_event_id is None else {"last-event-id": str(last_event_id)})}
    found: list[Event] = []
    async with aconnect_sse(client, method, url, json=body, headers=headers) as source:
        assert source.response.status_code == 200, await source.response.aread()
        if opened is not None:
            await opened()
        async for event in source.aiter_sse():
            if not event.data:
                continue
            found.append((int(event.id), event.event, json.loads(event.data)))
            if event.event == until:
                break
    return found


async def wait_for(client: httpx.AsyncClient, url: str, status: str) -> dict[str, Any]:
    """Read the run until it has ``status`` (the server's own record: a readiness signal, 60 s at most)."""
    async with asyncio.timeout(60):
        while (record := (await client.get(url)).json())["status"] != status:
            await asyncio.sleep(0.05)
    return record


async def test_a_breath_is_a_run_announced_first_and_read_back(tmp_path: Path, client: httpx.AsyncClient,
                                                               quick: str) -> None:
    with served(tmp_path / "home", *serve_args(quick)) as server:
        colony = f"{server.url}/v1/colonies/default"
        events = await stream(client, "POST", f"{colony}/cascades", body={"prompt": "What is rain?", "seed": 2})
        (first_id, first, announced), *_ = events
        assert (first_id, first) == (1, "run") and announced["colony"] == "default"
        assert [event_id for event_id, _, _ in events] == list(range(1, len(events) + 1))
        assert events[-1][1] == "done"
        record = (await client.get(f"{colony}/runs/{announced['run']}")).json()
        assert record["status"] == "done" and record["events"] == len(events) and record["kind"] == "cascade"
        assert record["result"]["cascade"] == events[-1][2]["cascade"]
        answer = await client.post(f"{colony}/organisms/haiku/turns", json={"prompt": "And snow?"})
        assert answer.json()["run"] and answer.headers["location"].endswith(answer.json()["run"])
        replay = await stream(client, "GET", f"{colony}/runs/{announced['run']}/stream", last_event_id=2)
        assert replay == events[2:], "a rejoin after the end replays what came after its last event"
        assert (await client.get(f"{colony}/runs/run_{'0' * 24}")).status_code == 404


async def test_left_running_then_rejoined_every_event_once(tmp_path: Path, client: httpx.AsyncClient,
                                                          gate: Gate) -> None:
    with served(tmp_path / "home", *serve_args(gate.url)) as server:
        colony = f"{server.url}/v1/colonies/default"
        seen = await stream(client, "POST", f"{colony}/cascades", until="stage",
                            body={"prompt": "I will be back.", "on_disconnect": "continue"})
        run_id = seen[0][2]["run"]
        assert (await client.get(f"{colony}/runs/{run_id}")).json()["status"] == "running", "it goes on without me"
        rest = await stream(client, "GET", f"{colony}/runs/{run_id}/stream", last_event_id=seen[-1][0],
                            opened=lambda: asyncio.to_thread(gate.open))
        whole = [event_id for event_id, _, _ in seen + rest]
        assert whole == list(range(1, len(whole) + 1)) and rest[-1][1] == "done"
        history = (await client.get(f"{colony}/history")).json()["cascades"]
        assert [record["prompt"] for record in history] == ["I will be back."]


async def test_background_then_cancelled_rolls_back(tmp_path: Path, client: httpx.AsyncClient, gate: Gate) -> None:
    home = tmp_path / "home"
    with served(home, *serve_args(gate.url)) as server:
        colony = f"{server.url}/v1/colonies/default"
        started = await client.post(f"{colony}/cascades", json={"prompt": "Never mind.", "background": True})
        assert started.status_code == 202 and started.headers["location"].endswith(started.json()["id"])
        run = f"{server.url}{started.headers['location']}"
        await stream(client, "GET", f"{run}/stream", until="stage")  # HAiKU or Sonnet has answered; Prose waits
        cancelled = await client.post(f"{run}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert (await client.get(f"{colony}/history")).json()["cascades"] == []
        events = await stream(client, "GET", f"{run}/stream")
        assert events[-1][1] == "error" and events[-1][2]["error"]["type"] == "Cancelled"
    async with open_store(f"sqlite:{home}") as store:
        for name in ("prose", "artist", "meta"):
            async with Field.open(store, name, create=False) as field:
                counts = (await field.stats()).counts
            assert (counts.turns, counts.disturbances) == (0, 0), f"{name} kept part of a cancelled breath"


async def test_two_servers_on_one_database_rejoin_and_cancel_across(tmp_path: Path, client: httpx.AsyncClient,
                                                                    gate: Gate, postgres_url: str) -> None:
    database = ("--database", postgres_url)
    with served(tmp_path / "a", *serve_args(gate.url, *database)) as first, \
            served(tmp_path / "b", *serve_args(gate.url, *database)) as second:
        path = "/v1/colonies/default/cascades"
        seen = await stream(client, "POST", f"{first.url}{path}", until="stage",
                            body={"prompt": "Across the servers.", "on_disconnect": "continue", "seed": 5})
        run_id = seen[0][2]["run"]
        rest = await stream(client, "GET", f"{second.url}/v1/colonies/default/runs/{run_id}/stream",
                            last_event_id=seen[-1][0], opened=lambda: asyncio.to_thread(gate.open))
        whole = seen + rest
        assert [event_id for event_id, _, _ in whole] == list(range(1, len(whole) + 1)), "each event exactly once"
        assert rest[-1][1] == "done"
        history = (await client.get(f"{second.url}/v1/colonies/default/history")).json()["cascades"]
        assert [record["prompt"] for record in history] == ["Across the servers."]

        await asyncio.to_thread(gate.close)
        other = (await client.post(f"{first.url}{path}", json={"prompt": "Stop me from afar.",
                                                               "background": True})).json()["id"]
        await stream(client, "GET", f"{second.url}/v1/colonies/default/runs/{other}/stream", until="stage")
        assert (await client.post(f"{second.url}/v1/colonies/default/runs/{other}/cancel")).status_code == 200
        record = await wait_for(client, f"{first.url}/v1/colonies/default/runs/{other}", "cancelled")
        assert record["result"]["error"]["type"] == "Cancelled"
    async with open_store(postgres_url) as store:
        for name in FIELDS:
            async with Field.open(store, name, create=False) as field:
                assert (await field.stats()).counts.turns <= 1 + (name in ("haiku", "sonnet")), name


@pytest.fixture(scope="module")
def steady() -> Iterator[str]:
    """An LLM that answers after 3 s: two breaths sent together still overlap in Prose."""
    with llm_standin(3.0) as url:
        yield url


async def heard_words(home: Path, colony: str) -> set[str]:
    """Every word any field of the colony counts as heard."""
    async with open_store(f"sqlite:{home}") as store:
        words: set[str] = set()
        for name in FIELDS:
            async with Field.open(store, name, colony=colony, create=False) as field:
                words |= {word for word, _own, heard in (await field.dump()).words if heard > 0}
    return words


async def together(client: httpx.AsyncClient, url: str, policy: str, prompts: tuple[str, str]) -> list[httpx.Response]:
    """Two clients racing: the same breath request but for its prompt, sent at once."""
    return list(await asyncio.gather(*(client.post(url, json={"prompt": prompt, "multitask": policy})
                                       for prompt in prompts)))


async def test_the_second_message_reject_interrupt_enqueue(tmp_path: Path, client: httpx.AsyncClient,
                                                          steady: str) -> None:
    home = tmp_path / "home"
    prompts = ("Obsidian quarries at noon.", "Lanterns over the harbour.")
    with served(home, *serve_args(steady)) as server:
        for name in ("rejecting", "interrupting", "queueing"):
            assert (await client.post(f"{server.url}/v1/colonies", json={"name": name})).status_code == 201

        def colony(name: str) -> str:
            return f"{server.url}/v1/colonies/{name}"

        answers = await together(client, f"{colony('rejecting')}/cascades", "reject", prompts)
        assert sorted(answer.status_code for answer in answers) == [200, 409]
        kept, refused = sorted(answers, key=lambda answer: answer.status_code)
        assert refused.headers["x-harmonix-run"] == kept.json()["run"] and kept.json()["run"] in refused.text
        history = (await client.get(f"{colony('rejecting')}/history")).json()["cascades"]
        assert [record["prompt"] for record in history] == [kept.json()["prompt"]], "the first breath, unchanged"

        answers = await together(client, f"{colony('interrupting')}/cascades", "interrupt", prompts)
        assert sorted(answer.status_code for answer in answers) == [200, 499]
        winner = next(answer for answer in answers if answer.status_code == 200).json()
        first = (await client.post(f"{colony('interrupting')}/cascades", json={
            "prompt": "Zephyrs over basalt.", "background": True})).json()["id"]
        committed = await stream(client, "GET", f"{colony('interrupting')}/runs/{first}/stream", until="stage")
        assert committed[-1][2]["organism"] in ("haiku", "sonnet"), "an organism of the first breath has committed"
        second = await client.post(f"{colony('interrupting')}/cascades",
                                   json={"prompt": "Gulls over the pier.", "multitask": "interrupt"})
        assert second.status_code == 200
        assert (await client.get(f"{colony('interrupting')}/runs/{first}")).json()["status"] == "cancelled"
        history = (await client.get(f"{colony('interrupting')}/history")).json()["cascades"]
        assert [record["prompt"] for record in history] == [second.json()["prompt"], winner["prompt"]]

        answers = await together(client, f"{colony('queueing')}/cascades", "enqueue", prompts)
        assert [answer.status_code for answer in answers] == [200, 200]
        history = (await client.get(f"{colony('queueing')}/history")).json()["cascades"]
        assert sorted(record["prompt"] for record in history) == sorted(prompts)
    heard = await heard_words(home, "interrupting")
    loser = {"obsidian", "quarries"} if winner["prompt"] == prompts[1] else {"lanterns", "harbour"}
    assert {"gulls", "pier"} <= heard and not (loser | {"zephyrs", "basalt"}) & heard, \
        "an interrupted breath leaves no word anywhere, even of the organisms that had committed"
    assert {"obsidian", "lanterns"} <= await heard_words(home, "queueing")
    for name in ("rejecting", "interrupting", "queueing"):
        async with open_store(f"sqlite:{home}") as store:
            for field in FIELDS:
                assert (await audit(store, field, name)).ok, (name, field)


async def test_a_signal_lets_a_background_breath_finish_then_exits_0(tmp_path: Path, client: httpx.AsyncClient,
                                                                    steady: str) -> None:
    home = tmp_path / "home"
    with served(home, *serve_args(steady, "--grace", "60")) as server:
        started = (await client.post(f"{server.url}/v1/colonies/default/cascades",
                                     json={"prompt": "Finish me as you go.", "background": True})).json()["id"]
        await stream(client, "GET", f"{server.url}/v1/colonies/default/runs/{started}/stream", until="stage")
        status = await asyncio.to_thread(server.stop, signal.SIGTERM)
        assert status == 0, server.log[-3000:]
    async with open_store(f"sqlite:{home}") as store:
        async with Field.open(store, "meta", create=False) as hub:
            assert [turn.disturbance for turn in await hub.turns(5)] == ["Finish me as you go."]
        async with store.runs() as runs:
            assert (await runs.get(started)).status == "done"
