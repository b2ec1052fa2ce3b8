"""The OpenAI-compatible routes, tried with clients no one here wrote, against a real server (``harmonix serve`` in a
subprocess; Prose and Artist on the stand-in LLM, so a breath takes seconds): the ``openai`` package (sync, async,
streaming with the usage chunk), LangChain's ``ChatOpenAI`` (streaming) and Simon Willison's ``llm`` command line
through its ``extra-openai-models.yaml``. Then the conventions themselves over plain HTTP: OpenAI's error envelope,
unknown fields ignored, the documented options the organisms cannot honour refused with 400 and the option named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harmonix.field import open_store, sqlite_url
from serving import Served, llm_standin, serve_args, served

ASK = [{"role": "user", "content": "What is rain?"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with llm_standin(0.05) as url, served(tmp_path_factory.mktemp("openai") / "home", *serve_args(url)) as running:
        yield running


def chat(server: Served, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=300)


def test_the_openai_package_sync_and_streamed_with_usage(server: Served) -> None:
    import openai

    api = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    answer = api.chat.completions.create(model="harmonix-haiku", user="sync", messages=ASK, seed=5)
    text = answer.choices[0].message.content
    assert text and len(text.splitlines()) == 3 and answer.usage is not None and answer.usage.completion_tokens > 0
    chunks = list(api.chat.completions.create(model="harmonix-sonnet", user="sync", messages=ASK, stream=True,
                                              stream_options={"include_usage": True}))
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert len(streamed.splitlines()) == 14
    *before, last = chunks
    assert last.choices == [] and last.usage is not None, "the usage comes last, in a chunk of its own"
    assert last.usage.completion_tokens == len(streamed.split())
    assert all(chunk.usage is None for chunk in before)
    plain = list(api.chat.completions.create(model="harmonix-haiku", user="sync", messages=ASK, stream=True))
    assert all(chunk.choices and chunk.usage is None for chunk in plain), "no usage chunk unless asked"


async def test_the_openai_package_async_on_every_model(server: Served) -> None:
    import openai

    api = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    models = {model.id async for model in api.models.list()}
    assert models == {"harmonix", "harmonix-haiku", "harmonix-sonnet", "harmonix-prose"}
    prose = await api.chat.completions.create(model="harmonix-prose", user="alice", messages=ASK)
    assert prose.choices[0].message.content
    streamed = await api.chat.completions.create(model="harmonix", user="alice@example.org", stream=True,
                                                 messages=[{"role": "system", "content": "ignored"},
                                                           {"role": "user", "content": "And the sea?"}])
    pieces = [chunk.choices[0].delta.content or "" async for chunk in streamed if chunk.choices]
    assert "".join(pieces).strip()
    with pytest.raises(openai.NotFoundError) as missing:
        await api.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found" and "harmonix-haiku" in missing.value.message
    with pytest.raises(openai.UnprocessableEntityError):
        await api.chat.completions.create(model="harmonix-prose", messages=[{"role": "user", "content": " "}])
    with pytest.raises(openai.BadRequestError) as refused:
        await api.chat.completions.create(model="harmonix-haiku", messages=ASK, n=2)
    assert refused.value.param == "n"
    async with open_store(sqlite_url(server.home)) as store:
        names = [info.name for info in await store.colonies()]
    assert "alice" in names and any(name.startswith("u-") for name in names), "a user string names its colony"


def test_a_streamed_answer_comes_as_the_organism_settles_it(server: Served) -> None:
    """Prose's paragraph arrives sentence by sentence as it settles (the stand-in writes four sentences of eleven
    words: the first settles with the second, each later one as it ends), not as one piece when the turn is done;
    Artist's piece span by span; joined, each is exactly what the colony kept."""
    import openai

    api = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)

    def pieces(model: str) -> list[str]:
        stream = api.chat.completions.create(model=model, user="settling", messages=ASK, stream=True)
        return [chunk.choices[0].delta.content for chunk in stream
                if chunk.choices and chunk.choices[0].delta.content]

    prose = pieces("harmonix-prose")
    assert len(prose) == 3 and all(piece.rstrip().endswith(".") for piece in prose), prose
    field = httpx.get(f"{server.url}/v1/colonies/settling/fields/prose", timeout=30).json()
    assert "".join(prose) == field["turns"][0]["text"], "the paragraph streamed is the one kept"
    artist = pieces("harmonix")
    history = httpx.get(f"{server.url}/v1/colonies/settling/history", timeout=30).json()["cascades"]
    assert "".join(artist) == history[0]["texts"]["artist"]


def test_langchain_streams_a_colony(server: Served) -> None:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="harmonix-sonnet", base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                       stream_usage=True)
    chunks = list(model.stream("What is the sea?"))
    text = "".join(str(chunk.content) for chunk in chunks)
    assert len(text.splitlines()) == 14
    usage = [chunk.usage_metadata for chunk in chunks if chunk.usage_metadata]
    assert usage and usage[-1]["output_tokens"] == len(text.split())


def test_the_llm_command_line_through_its_model_file(server: Served, tmp_path: Path) -> None:
    (tmp_path / "extra-openai-models.yaml").write_text(
        f"- model_id: colony\n  model_name: harmonix-haiku\n  api_base: \"{server.url}/v1\"\n", encoding="utf-8")
    # LLM_LOAD_PLUGINS empty: llm loads none of its plugins. The embedded model's package is one (it wants
    # llama-cpp-python, which Harmonix does not install: it runs the model through xllamacpp).
    environment = {**os.environ, "LLM_USER_PATH": str(tmp_path), "LLM_LOAD_PLUGINS": ""}
    command = [str(Path(sys.executable).with_name("llm")), "-m", "colony", "--no-log", "What is rain?"]
    answer = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert answer.returncode == 0, answer.stderr
    assert len(answer.stdout.strip().splitlines()) == 3, answer.stdout


def test_errors_come_in_openai_envelope(server: Served) -> None:
    missing = chat(server, {"model": "gpt-4", "messages": ASK})
    assert missing.status_code == 404
    assert missing.json()["error"].keys() == {"message", "type", "param", "code"}
    assert missing.json()["error"]["type"] == "invalid_request_error"
    malformed = chat(server, {"model": "harmonix-haiku", "messages": "What is rain?"})
    assert malformed.status_code == 422 and malformed.json()["error"]["param"] == "messages"
    not_json = httpx.post(f"{server.url}/v1/chat/completions", content=b"{", timeout=30,
                          headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(("option", "value"), [
    ("n", 2), ("tools", [{"type": "function", "function": {"name": "f"}}]), ("tool_choice", "auto"),
    ("response_format", {"type": "json_object"}), ("logprobs", True), ("stream_options", {"include_usage": True})])
def test_a_documented_option_the_organisms_cannot_honour_is_refused(server: Served, option: str, value: Any) -> None:
    assert chat(server, {"model": "harmonix-haiku", "messages": ASK, "user": "refusals", "seed": 1}).status_code == 200

    def counts() -> dict[str, Any]:
        fields = httpx.get(f"{server.url}/v1/colonies/refusals", timeout=30).json()["fields"]
        return {name: stats["counts"] for name, stats in fields.items()}

    before = counts()
    refused = chat(server, {"model": "harmonix-haiku", "messages": ASK, "user": "refusals", option: value})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == option and option in refused.json()["error"]["message"]
    assert counts() == before, "a refused request changes no field"


def test_unknown_fields_and_sampling_options_are_accepted(server: Served) -> None:
    answer = chat(server, {"model": "harmonix-haiku", "messages": ASK, "temperature": 0.2, "max_tokens": 5,
                           "top_p": 0.9, "stop": ["\n"], "a_field_from_the_future": {"x": 1}, "n": 1,
                           "tool_choice": "none", "response_format": {"type": "text"}})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["choices"][0]["message"]["content"].splitlines()) == 3
    streamed = httpx.post(f"{server.url}/v1/chat/completions", timeout=300, json={
        "model": "harmonix-haiku", "messages": ASK, "stream": True, "stream_options": {"include_usage": True}})
    events = [json.loads(line[6:]) for line in streamed.text.splitlines()
              if line.startswith("data: ") and line != "data: [DONE]"]
    assert streamed.text.rstrip().endswith("data: [DONE]") and events[-1]["usage"]["total_tokens"] > 0
