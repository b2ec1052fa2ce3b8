"""`harmonix serve` as a client meets it: a real uvicorn server in a subprocess on a free port, real HTTP, real
streams (an in-process transport would buffer them), real signals.

Most tests put Prose and Artist on a stand-in LLM server (tests/llm_standin.py: answers after a set delay, no local
compute), so that concurrency, disconnects and deadlines can be arranged; the stream contract runs on the embedded
model."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from httpx_sse import aconnect_sse
from hypothesis import HealthCheck, given, settings

from fieldtools import audit, fingerprints
from harmonix.field import Field, open_store, sqlite_url
from harmonix.organisms.base import FIELDS, INHALE, ORGANISMS, SYNTHESIS
from serving import llm_standin, serve_args, served

STREAM = {"accept": "text/event-stream"}


async def events_of(client: httpx.AsyncClient, path: str, body: dict[str, Any],
                    headers: dict[str, str] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """Every event of a streamed answer: (id, name, data)."""
    found = []
    async with aconnect_sse(client, "POST", path, json=body, headers={**STREAM, **(headers or {})}) as source:
        assert source.response.status_code == 200, await source.response.aread()
        async for event in source.aiter_sse():
            if event.data:  # a ping comment after an event reaches httpx-sse's caller as an empty event
                found.append((event.id, event.event, json.loads(event.data)))
    return found


async def field_prints(home: Path, colony: str) -> dict[str, str]:
    async with open_store(sqlite_url(home)) as store:
        return await fingerprints(store, tuple(await store.field_names(colony)), colony)


async def audit_colony(home: Path, colony: str) -> dict[str, Any]:
    """Every field's audit, and each organism's seen_turns in turn order (strictly sequential: 0, 1, 2 …; the hub's
    turns take no snapshot, its exhale lock orders them)."""
    found = {}
    async with open_store(sqlite_url(home)) as store:
        for name in await store.field_names(colony):
            result = await audit(store, name, colony)
            async with Field.open(store, name, colony=colony, create=False) as field:
                turns = (await field.dump()).turns
            seen = list(range(len(turns))) if name == "meta" else [turn[4] for turn in turns]
            found[name] = (result, seen)
    return found


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    assert match is not None, name
    return float(match.group(1))


@pytest.fixture(scope="module")
def standin() -> Any:
    with llm_standin(0.05) as url:
        yield url


async def test_the_stream_contract_on_the_embedded_model(tmp_path: Path, client: httpx.AsyncClient) -> None:
    """A stage per INHALE organism as each finishes, tokens while Prose and Artist write, artist after every stage,
    meta, done last; ids 1, 2, 3 …; the same breath as a JSON document without the stream header."""
    with served(tmp_path / "home") as server:
        created = await client.post(f"{server.url}/v1/colonies", json={"name": "alice"})
        assert created.status_code == 201 and created.json()["id"] == "alice"
        found = await events_of(client, f"{server.url}/v1/colonies/alice/cascades",
                                {"prompt": "What is resonance?", "seed": 1})
        names = [name for _, name, _ in found]
        assert [int(event_id) for event_id, _, _ in found] == list(range(1, len(found) + 1))
        stages = [data["organism"] for _, name, data in found if name == "stage"]
        assert sorted(stages) == sorted(INHALE)
        assert names[-1] == "done" and names[-2] == "meta" and names.count("artist") == 1
        assert names.index("artist") > max(i for i, name in enumerate(names) if name == "stage")
        assert {data["organism"] for _, name, data in found if name == "token"} == {"prose", SYNTHESIS}
        done = found[-1][2]
        assert done["cascade"] == 1 and done["seed"] == 1 and done["timings"]["total"] > 0
        meta = found[-2][2]
        assert meta["cascade"] == 1 and "sentence" in meta
        plain = await client.post(f"{server.url}/v1/colonies/alice/cascades", json={"prompt": "And the rain?"})
        assert plain.status_code == 200
        document = plain.json()
        assert {name: document[name]["error"] for name in ORGANISMS} == dict.fromkeys(ORGANISMS)
        assert document["cascade"] == 2
        history = (await client.get(f"{server.url}/v1/colonies/alice/history")).json()
        assert [c["id"] for c in history["cascades"]] == [2, 1], "newest first"
        assert history["cascades"][1]["prompt"] == "What is resonance?"
        assert set(history["cascades"][1]["texts"]) == {*ORGANISMS, "meta"}
        older = (await client.get(f"{server.url}/v1/colonies/alice/history", params={"limit": 1, "before": 2})).json()
        assert [c["id"] for c in older["cascades"]] == [1]
        sonnet = (await client.get(f"{server.url}/v1/colonies/alice/fields/sonnet")).json()
        assert sonnet["stats"]["counts"]["turns"] == 2 and len(sonnet["turns"]) == 2
        assert {"phase", "rhyme_scheme"} <= sonnet["turns"][0]["metrics"].keys()
        assert sonnet["turns"][0]["sizes"]["texts"] >= 1
        colony = (await client.get(f"{server.url}/v1/colonies/alice")).json()
        assert "location" not in sonnet["stats"] and "location" not in colony["fields"]["sonnet"], \
            "where the server keeps a field is not a client's business"
        metrics = (await client.get(f"{server.url}/metrics")).text
        assert metric(metrics, 'harmonix_requests_total{kind="cascade",outcome="ok"}') == 2
        assert "harmonix_stage_seconds_bucket" in metrics and "harmonix_llm_tokens_total" in metrics
    assert server.process.returncode == 0


async def test_health_says_loading_until_the_engines_are_ready(tmp_path: Path, client: httpx.AsyncClient) -> None:
    with llm_standin(0.05, probe_delay_s=3.0) as url, served(tmp_path / "home", *serve_args(url), ready=False) as server:
        first = await client.get(f"{server.url}/health")
        assert first.status_code == 503 and first.json()["status"] == "loading"
        refused = await client.post(f"{server.url}/v1/colonies/default/cascades", json={"prompt": "too soon"})
        assert refused.status_code == 503 and refused.json()["error"]["type"] == "NotReady"
        server.wait(server.ready, "ready")
        assert (await client.get(f"{server.url}/health")).json()["status"] == "ok"


async def test_two_colonies_four_clients_every_field_whole_and_sequential(tmp_path: Path, client: httpx.AsyncClient,
                                                                          standin: str) -> None:
    home = tmp_path / "home"
    with served(home, *serve_args(standin, "--max-active", "8", "--max-waiting", "3")) as server:
        for name in ("one", "two"):
            assert (await client.post(f"{server.url}/v1/colonies", json={"name": name})).status_code == 201

        async def breathe(colony: str, i: int) -> int:
            if i % 2:
                found = await events_of(client, f"{server.url}/v1/colonies/{colony}/cascades", {"prompt": f"voice {i}"})
                return 200 if found[-1][1] == "done" else 500
            return (await client.post(f"{server.url}/v1/colonies/{colony}/cascades",
                                      json={"prompt": f"voice {i}", "seed": i})).status_code

        statuses = await asyncio.gather(*(breathe(colony, i) for colony in ("one", "two") for i in range(4)))
        assert statuses == [200] * 8
    for colony in ("one", "two"):
        fields = await audit_colony(home, colony)
        assert set(fields) == set(FIELDS)
        for name, (result, seen) in fields.items():
            assert result.ok, (colony, name, result.violations)
            assert seen == list(range(4)), f"{colony}/{name}: turns interleaved: {seen}"


async def test_who_gets_in(tmp_path: Path, client: httpx.AsyncClient, standin: str) -> None:
    keys = tmp_path / "keys.txt"
    alice, bob = "alice-key-0123456789abcdef", "bob-key-0123456789abcdef00"
    keys.write_text(f"# two people\n{alice}\n\n{bob}\n")
    with served(tmp_path / "home", *serve_args(standin, "--api-key-file", str(keys))) as server:
        a, b = {"authorization": f"Bearer {alice}"}, {"authorization": f"Bearer {bob}"}
        assert (await client.get(f"{server.url}/health")).status_code == 200, "health needs no key"
        for headers in ({}, {"authorization": "Bearer not-a-key-at-all-nope"}, {"authorization": alice}):
            refused = await client.get(f"{server.url}/v1/colonies", headers=headers)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["error"]["type"] == "Unauthorized"
        assert (await client.post(f"{server.url}/v1/colonies", json={"name": "private"}, headers=a)).status_code == 201
        assert [c["id"] for c in (await client.get(f"{server.url}/v1/colonies", headers=a)).json()["colonies"]] == \
            ["private"]
        assert (await client.get(f"{server.url}/v1/colonies", headers=b)).json()["colonies"] == []
        for method, path, body in (("GET", "", None), ("GET", "/history", None), ("GET", "/fields/haiku", None),
                                   ("POST", "/cascades", {"prompt": "let me in"}), ("POST", "/fork", {}),
                                   ("POST", "/organisms/haiku/turns", {"prompt": "let me in"}), ("DELETE", "", None),
                                   ("DELETE", "/cascades/1", None)):
            answer = await client.request(method, f"{server.url}/v1/colonies/private{path}", json=body, headers=b)
            assert answer.status_code == 404, (method, path, answer.text)
        own = await client.post(f"{server.url}/v1/colonies/private/organisms/haiku/turns",
                                json={"prompt": "mine"}, headers=a)
        assert own.status_code == 200 and own.json()["text"]
        assert alice not in server.log and bob not in server.log, "keys are never logged"
    async with open_store(sqlite_url(tmp_path / "home")) as store:
        owner = (await store.colony("private")).owner
    assert owner is not None and alice not in owner


async def test_forgetting_a_breath_over_http_and_on_the_command_line(tmp_path: Path, client: httpx.AsyncClient,
                                                                    standin: str) -> None:
    home = tmp_path / "home"
    with served(home, *serve_args(standin)) as server:
        colony = f"{server.url}/v1/colonies/forgetful"
        assert (await client.post(f"{server.url}/v1/colonies", json={"name": "forgetful"})).status_code == 201
        ids = [(await client.post(f"{colony}/cascades", json={"prompt": prompt, "seed": 1})).json()["cascade"]
               for prompt in ("Obsidian quarries at noon.", "The harbour at dawn.", "The harbour at dusk.")]
        forgotten = await client.delete(f"{colony}/cascades/{ids[0]}")
        assert forgotten.status_code == 200, forgotten.text
        assert forgotten.json()["fields"]["meta"]["turns"] == 1 and forgotten.json()["fields"]["haiku"]["turns"] == 1
        assert (await client.delete(f"{colony}/cascades/{ids[0]}")).status_code == 404
        assert (await client.delete(f"{colony}/cascades/0")).status_code == 422
        history = (await client.get(f"{colony}/history")).json()["cascades"]
        assert [record["id"] for record in history] == [ids[2], ids[1]]
    command = [sys.executable, "-m", "harmonix", "colony", "forget", str(ids[1]), "--home", str(home),
               "--colony", "forgetful", "--json"]
    answer = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["cascade"] == ids[1]
    missing = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and json.loads(missing.stdout)["error"]["type"] == "CascadeNotFound"
    for result, _ in (await audit_colony(home, "forgetful")).values():
        assert result.ok


def test_without_keys_only_loopback(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "harmonix", "serve", "--home", str(tmp_path / "home"), "--host",
                           "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--api-key-file" in done.stderr and "Traceback" not in done.stderr


BAD_BODIES: list[tuple[str, bytes, int, str]] = [
    ("empty prompt", b'{"prompt": ""}', 422, "prompt is empty"),
    ("whitespace", b'{"prompt": "   \\n "}', 422, "prompt is empty"),
    ("too long", json.dumps({"prompt": "x" * 40_000}).encode(), 422, "prompt is too long"),
    ("over the body limit", json.dumps({"prompt": "x" * 300_000}).encode(), 413, "over"),
    ("control characters", b'{"prompt": "bin\\u0001ary"}', 422, "control character"),
    ("lone surrogate", b'{"prompt": "half \\ud800 a pair"}', 422, "not valid Unicode"),
    ("invalid UTF-8", b'{"prompt": "\xff\xfe"}', 422, "not valid UTF-8"),
    ("invalid JSON", b'{"prompt": ', 422, "JSON"),
    ("a number for the prompt", b'{"prompt": 5}', 422, "prompt"),
    ("a string for the seed", b'{"prompt": "fine", "seed": "x"}', 422, "seed"),
    ("a negative seed", b'{"prompt": "fine", "seed": -1}', 422, "seed"),
    ("an unknown field", b'{"prompt": "fine", "temperature": 2}', 422, "temperature"),
    ("no body", b"", 422, "body"),
    ("a list", b"[1, 2]", 422, "body"),
]


async def test_bad_input_gets_the_right_4xx_and_changes_nothing(tmp_path: Path, client: httpx.AsyncClient,
                                                                standin: str) -> None:
    home = tmp_path / "home"
    with served(home, *serve_args(standin)) as server:
        first = await client.post(f"{server.url}/v1/colonies/default/cascades", json={"prompt": "a first breath"})
        assert first.status_code == 200
        before = await field_prints(home, "default")
        for what, body, status, says in BAD_BODIES:
            for path in ("/v1/colonies/default/cascades", "/v1/colonies/default/organisms/prose/turns"):
                answer = await client.post(f"{server.url}{path}", content=body,
                                           headers={"content-type": "application/json"})
                assert answer.status_code == status, (what, path, answer.text)
                error = answer.json()["error"]
                assert says in error["message"] and "Traceback" not in answer.text, (what, error)
        for path, status in (("/v1/colonies/nobody/cascades", 404), ("/v1/colonies/default/organisms/poet/turns", 404),
                             ("/v1/colonies/..%2Fetc/cascades", 404), ("/v1/colonies/Bad%20Name/cascades", 422)):
            answer = await client.post(f"{server.url}{path}", json={"prompt": "fine"})
            assert answer.status_code == status, (path, answer.text)
            assert set(answer.json()) == {"error"}
        assert (await client.get(f"{server.url}/v1/colonies/default/history?limit=0")).status_code == 422
        assert (await client.get(f"{server.url}/v1/colonies/default/fields/nothing")).status_code == 404
        assert (await client.get(f"{server.url}/no/such/route")).json()["error"]["type"] == "NotFound"
        assert await field_prints(home, "default") == before, "no bad request touched a field"
        hostile = "'); DROP TABLE texts; -- <img src=x onerror=alert(1)> \u202eevil"
        stored = await client.post(f"{server.url}/v1/colonies/default/cascades", json={"prompt": hostile})
        assert stored.status_code == 200
        history = (await client.get(f"{server.url}/v1/colonies/default/history?limit=1")).json()
        assert history["cascades"][0]["prompt"] == hostile, "stored verbatim"


async def test_a_disconnect_mid_stream_leaves_no_partial_turn(tmp_path: Path, client: httpx.AsyncClient) -> None:
    """The client goes away after HAiKU's stage, while Prose waits on a slow LLM: Prose, Artist and the hub have
    nothing of that breath; HAiKU and Sonnet, which had committed, have their whole turn."""
    home = tmp_path / "home"
    with llm_standin(30.0) as slow, served(home, *serve_args(slow)) as server:
        async with aconnect_sse(client, "POST", f"{server.url}/v1/colonies/default/cascades",
                                json={"prompt": "then I leave"}, headers=STREAM) as source:
            async for event in source.aiter_sse():
                if event.event == "stage" and json.loads(event.data)["organism"] == "haiku":
                    break
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the server notices the disconnect and rolls the breath back
            metrics = (await client.get(f"{server.url}/metrics")).text
            if metric(metrics, "harmonix_active_requests") == 0:
                break
            await asyncio.sleep(0.1)
        assert metric(metrics, 'harmonix_requests_total{kind="cascade",outcome="cancelled"}') == 1
    fields = await audit_colony(home, "default")
    for name, (result, seen) in fields.items():
        assert result.ok, (name, result.violations)
        assert seen == list(range(len(seen))), name
    assert fields["haiku"][0].turns == 1
    for name in ("prose", SYNTHESIS, "meta"):
        assert fields[name][0].turns == 0 and fields[name][0].disturbances == 0, f"{name} kept part of the breath"


@pytest.mark.serial
async def test_admission_is_bounded_and_a_deadline_rolls_back(tmp_path: Path, client: httpx.AsyncClient) -> None:
    home = tmp_path / "home"
    with llm_standin(4.0) as slow, served(home, *serve_args(slow, "--max-active", "1", "--deadline", "2")) as server:
        running = asyncio.create_task(client.post(f"{server.url}/v1/colonies/default/cascades",
                                                  json={"prompt": "the first"}))
        while metric((await client.get(f"{server.url}/metrics")).text, "harmonix_active_requests") < 1:
            await asyncio.sleep(0.05)
        started = time.monotonic()
        busy = await client.post(f"{server.url}/v1/colonies/default/cascades", json={"prompt": "the second"})
        assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
        assert time.monotonic() - started < 2, "refused at once, not queued"
        assert busy.json()["error"]["type"] == "ServiceBusy"
        late = await running
        assert late.status_code == 504 and late.json()["error"]["type"] == "DeadlineExceeded"
        metrics = (await client.get(f"{server.url}/metrics")).text
        assert metric(metrics, 'harmonix_rejections_total{reason="busy"}') == 1
    fields = await audit_colony(home, "default")
    assert all(result.ok for result, _ in fields.values())
    assert fields["prose"][0].turns == 0 and fields["meta"][0].turns == 0, "the late breath was rolled back"


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_under_load_lets_breaths_finish_then_exits_0(tmp_path: Path, client: httpx.AsyncClient,
                                                                   number: int) -> None:
    home = tmp_path / "home"
    with llm_standin(1.0) as slow, served(home, *serve_args(slow, "--grace", "60")) as server:
        breaths = [asyncio.create_task(client.post(f"{server.url}/v1/colonies/default/cascades",
                                                   json={"prompt": f"breath {i}"})) for i in range(3)]
        while metric((await client.get(f"{server.url}/metrics")).text, "harmonix_active_requests") < 3:
            await asyncio.sleep(0.05)
        stopped = time.monotonic()
        status = await asyncio.to_thread(server.stop, number)
        answers = await asyncio.gather(*breaths)
        assert status == 0, server.log[-3000:]
        assert time.monotonic() - stopped < 60
        assert [answer.status_code for answer in answers] == [200, 200, 200], "running breaths finished"
    for result, seen in (await audit_colony(home, "default")).values():
        assert result.ok and seen == list(range(len(seen)))


def test_no_server_error_and_every_response_matches_the_schema(tmp_path: Path, standin: str) -> None:
    """schemathesis, from the server's own OpenAPI document, on the non-streaming routes (a breath takes seconds:
    the breath routes are fuzzed by hand in the bad-input test). Every check it has: no 5xx, status codes,
    content types, headers and bodies as documented, invalid data refused."""
    with served(tmp_path / "home", *serve_args(standin)) as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        quick = schema.exclude(path_regex=r"/(cascades|turns|chat/completions)$").exclude(path="/metrics")
        failures = []
        for result in quick.get_all_operations():
            operation = result.ok()

            @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(case=operation.as_strategy())
            def check(case: Any) -> None:
                case.call_and_validate(base_url=server.url)

            try:
                check()
            except Exception as error:  # collected, so that one run reports every operation that fails
                failures.append(f"{operation.label}: {error}")
        assert failures == [], "\n\n".join(failures)


def test_a_stateful_walk_through_the_colony_routes_finds_no_error(tmp_path: Path, standin: str) -> None:
    """schemathesis's stateful phase (its own runner) over the colony routes, following the OpenAPI links the server
    documents (create → cascade or turn → history, get, field; create → fork, remove), with every check on every
    step, as above, and a fixed seed (the runs' routes and forgetting, reached by no link, are left to the stateless
    run above and to their own tests). The walk, read back from its HAR record, must have created a colony, breathed
    a cascade in it (200) and then read that colony's history (200), or it proved nothing. One check is left out:
    that every schema-valid request is accepted. A prompt must hold a letter and no control character (the text
    gate), which JSON Schema cannot say for every script; such a prompt gets the documented 422, and the
    hostile-input tests check those refusals. A breath may take more than schemathesis's 10 s by default on a
    loaded machine (the suite runs in parallel), so each request has two minutes, both to answer and in the check of
    response times."""
    har = tmp_path / "walk.har"
    with served(tmp_path / "home", *serve_args(standin)) as server:
        walked = subprocess.run(
            [str(Path(sys.executable).parent / "schemathesis"), "run", f"{server.url}/openapi.json",
             "--phases", "stateful", "--include-path-regex", "^/v1/colonies",
             "--exclude-path-regex", "/runs/|/cascades/[^/]+$", "--checks", "all",
             "--exclude-checks", "positive_data_acceptance", "--max-examples", "10", "--seed", "1",
             "--workers", "1", "--request-timeout", "120", "--max-response-time", "120", "--report", "har",
             "--report-har-path", str(har)],
            capture_output=True, text=True, timeout=900, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert walked.returncode == 0, walked.stdout[-6000:] + walked.stderr[-2000:]
    entries = json.loads(har.read_text())["log"]["entries"]
    steps = [(entry["request"]["method"], urllib.parse.urlsplit(entry["request"]["url"]).path,
              entry["response"]["status"]) for entry in entries]
    created = {json.loads(entry["response"]["content"]["text"])["name"] for entry in entries
               if entry["request"]["method"] == "POST" and entry["response"]["status"] == 201}
    breathed = {f"/v1/colonies/{name}/cascades" for name in created}
    histories = {f"/v1/colonies/{name}/history" for name in created}
    first_breath = next((index for index, (_, path, status) in enumerate(steps)
                         if path in breathed and status == 200), len(steps))
    assert any(path in histories and status == 200 for _, path, status in steps[first_breath:]), \
        "\n".join(f"{method} {path} {status}" for method, path, status in steps)


def harmonix_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    return subprocess.run([sys.executable, "-m", "harmonix", *args], input=stdin, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})


def test_the_command_line_as_a_client(tmp_path: Path, standin: str) -> None:
    keys = tmp_path / "keys.txt"
    key = "cli-client-key-0123456789"
    keys.write_text(key + "\n")
    with served(tmp_path / "home", *serve_args(standin, "--api-key-file", str(keys))) as server:
        asked = harmonix_cli("--colony", "remote", "ask", "What is rain?", "--server", server.url, "--api-key", key,
                             "--json", "--seed", "3")
        assert asked.returncode == 0, asked.stderr
        document = json.loads(asked.stdout)
        assert document["cascade"] == 1 and document["seed"] == 3
        assert all(document[name]["text"] for name in ORGANISMS) and document["meta"]["sentence"]
        drawn = harmonix_cli("ask", "And the sea?", "--server", server.url, "--colony", "remote",
                             env={"HARMONIX_API_KEY": key})
        assert drawn.returncode == 0 and "HAiKU" in drawn.stdout and "Artist" in drawn.stdout
        assert "resonance=" in drawn.stdout and "timings:" in drawn.stdout
        chat = harmonix_cli("chat", "--server", server.url, "--api-key", key, "--colony", "remote",
                            stdin="A third breath\n/stats\n")
        assert chat.returncode == 0, chat.stderr
        assert "ready: colony remote" in chat.stderr and "Sonnet" in chat.stdout and "disturbances" in chat.stdout
        refused = harmonix_cli("ask", "x", "--server", server.url, "--api-key", "wrong-key-0123456789")
        assert refused.returncode == 2 and "unknown API key" in refused.stderr and "Traceback" not in refused.stderr
        history = httpx.get(f"{server.url}/v1/colonies/remote/history", headers={"authorization": f"Bearer {key}"})
        assert [c["prompt"] for c in history.json()["cascades"]] == ["A third breath", "And the sea?", "What is rain?"]
    gone = harmonix_cli("ask", "x", "--server", "http://127.0.0.1:9")
    assert gone.returncode == 2 and "does not answer" in gone.stderr


def test_bench_serve_reports_every_figure(tmp_path: Path, standin: str) -> None:
    """The benchmark at its smallest (Prose and Artist on the stand-in): every key, sane values, no violation. Not a
    timing test."""
    done = harmonix_cli("bench", "serve", "--repeats", "1", "--cascades", "2", "--colonies", "2", "--llm-url", standin,
                        "--json", env={"HARMONIX_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for key in ("server_overhead_ratio", "first_event_s", "throughput_efficiency", "concurrency_gain",
                "rss_mb_per_colony", "cascades_per_s_1", "cascades_per_s_4", "latency_p50_s", "latency_p95_s"):
        assert isinstance(report[key], float) and report[key] == report[key], key
    assert report["first_event_s"] < report["http_s"] and report["cpu_s_per_cascade_1"] > 0
    assert 0 < report["throughput_efficiency"] <= 1, "the share of the cores the server kept busy"
    assert report["violations"] == 0 and report["server_errors"] == 0 and report["rejections"] == 0


async def test_an_llm_that_goes_away_fails_its_stages_and_the_rest_breathe(tmp_path: Path,
                                                                           client: httpx.AsyncClient) -> None:
    """Prose and Artist report the LLM's error with its type, their fields unchanged; HAiKU and Sonnet answer; a turn
    of Prose alone answers with the status of its error."""
    home = tmp_path / "home"
    llm = llm_standin(0.05)
    url = llm.__enter__()
    try:
        with served(home, *serve_args(url)) as server:
            first = await client.post(f"{server.url}/v1/colonies/default/cascades", json={"prompt": "one"})
            assert first.status_code == 200
            llm.__exit__(None, None, None)  # the LLM server goes away while the server runs
            document = (await client.post(f"{server.url}/v1/colonies/default/cascades", json={"prompt": "two"})).json()
            assert document["haiku"]["text"] and document["sonnet"]["text"]
            for name in ("prose", SYNTHESIS):
                assert document[name]["text"] is None and document[name]["error"]["type"] == "LLMUnavailable"
            turn = await client.post(f"{server.url}/v1/colonies/default/organisms/prose/turns",
                                     json={"prompt": "three"})
            assert turn.status_code == 502 and turn.json()["error"]["type"] == "LLMUnavailable"
            assert turn.json()["stage"]["organism"] == "prose"
    finally:
        llm.__exit__(None, None, None)
    fields = await audit_colony(home, "default")
    for name in ("prose", SYNTHESIS):
        result = fields[name][0]
        assert result.ok and (result.turns, result.disturbances) == (1, 1), f"{name}: its failed turns left nothing"
    assert fields["haiku"][0].turns == 2 and fields["meta"][0].turns == 2
