"""A colony as an MCP server, driven by the official SDK's own client (``mcp.Client``) over both transports: stdio
(``harmonix mcp`` started by the client) and streamable HTTP at ``/mcp`` on a real ``harmonix serve``, with and
without API keys. Prose and Artist run on the stand-in LLM, so a breath takes seconds."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from harmonix.field import open_store, sqlite_url
from serving import llm_standin, serve_args, served

TOOLS = {"breathe", "organism_turn", "history", "read_field", "colonies"}


@pytest.fixture(scope="module")
def standin() -> Iterator[str]:
    with llm_standin(0.05) as url:
        yield url


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    document = result.structured_content
    assert isinstance(document, dict)
    return document.get("result", document) if set(document) == {"result"} else document


def error_text(result: Any) -> str:
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


async def breathe_and_read(client: Client, colony: str | None) -> dict[str, Any]:
    """List the tools, breathe once and read it back through every reader; the cascade document."""
    assert {tool.name for tool in (await client.list_tools()).tools} >= TOOLS
    named = {} if colony is None else {"colony": colony}
    cascade = structured(await client.call_tool("breathe", {"prompt": "What is the tide?", "seed": 7, **named}))
    assert len(cascade["haiku"]["text"].splitlines()) == 3 and len(cascade["sonnet"]["text"].splitlines()) == 14
    assert cascade["artist"]["text"] and cascade["cascade"] == 1
    history = structured(await client.call_tool("history", {"limit": 5, **named}))
    assert [record["id"] for record in history["cascades"]] == [1]
    assert history["cascades"][0]["prompt"] == "What is the tide?"
    field = structured(await client.call_tool("read_field", {"field": "haiku", **named}))
    assert field["turns"][0]["text"] == cascade["haiku"]["text"]
    turn = structured(await client.call_tool("organism_turn", {"organism": "haiku", "prompt": "And the moon?",
                                                               **named}))
    assert len(turn["text"].splitlines()) == 3
    return cascade


async def test_stdio_one_colony(tmp_path: Path, standin: str) -> None:
    home = tmp_path / "home"
    command = StdioServerParameters(command=sys.executable, env={**os.environ}, args=[
        "-m", "harmonix", "mcp", "--home", str(home), "--colony", "studio", "--llm-url", standin])
    async with Client(command) as client:
        await breathe_and_read(client, None)
        assert "studio" in error_text(await client.call_tool("history", {"colony": "elsewhere"}))
        listed = structured(await client.call_tool("colonies", {}))
        assert [colony["name"] for colony in listed["colonies"]] == ["studio"]
        resource = await client.read_resource("harmonix://colonies/studio")
        document = json.loads(resource.contents[0].text)
        assert document["name"] == "studio" and document["fields"]["meta"]["counts"]["turns"] == 1
    async with open_store(sqlite_url(home)) as store:
        assert "studio" in [info.name for info in await store.colonies()]


async def test_http_without_keys(tmp_path: Path, standin: str) -> None:
    with served(tmp_path / "home", *serve_args(standin)) as server:
        async with Client(f"{server.url}/mcp") as client:
            await breathe_and_read(client, "tides")
            bad = await client.call_tool("organism_turn", {"organism": "haiku", "prompt": " ", "colony": "tides"})
            assert "InvalidText" in error_text(bad)
        answer = httpx.get(f"{server.url}/v1/colonies/tides/history", timeout=30).json()
    assert len(answer["cascades"]) == 1, "the bad prompt changed nothing; the MCP breath is in the history"


async def test_http_with_keys_each_key_sees_its_own(tmp_path: Path, standin: str) -> None:
    keys = tmp_path / "keys"
    keys.write_text("alice-key-0123456789\nbob-key-0123456789ab\n", encoding="utf-8")

    def as_key(server_url: str, key: str | None) -> Client:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
        return Client(streamable_http_client(f"{server_url}/mcp", http_client=http))

    with served(tmp_path / "home", *serve_args(standin, "--api-key-file", str(keys))) as server:
        refused = httpx.post(f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                             headers={"accept": "application/json, text/event-stream"}, timeout=30)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        with pytest.raises(Exception):  # noqa: B017  (the SDK's own error for a 401, whatever its class)
            async with as_key(server.url, "not-a-key-0123456789") as client:
                await client.list_tools()
        async with as_key(server.url, "alice-key-0123456789") as alice:
            await breathe_and_read(alice, "alices")
        async with as_key(server.url, "bob-key-0123456789ab") as bob:
            assert "ColonyNotFound" in error_text(await bob.call_tool("history", {"colony": "alices"}))
            assert structured(await bob.call_tool("colonies", {}))["colonies"] == []
