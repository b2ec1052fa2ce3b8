"""A scripted HTTP server on loopback: it answers each POST with the next response of its script (a GET, such as the
engine's ``/v1/models`` probe, gets an empty model list and is not counted). For the retry paths of the OpenAI
backend (429, 503, a refused connection) that a real server will not produce on demand."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Scripted:
    address: str
    requests: list[dict] = field(default_factory=list)


def sse(*pieces: str) -> str:
    """An OpenAI-style streamed chat answer made of ``pieces``."""
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"completion_tokens": len(pieces)}})
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


@contextlib.asynccontextmanager
async def scripted_server(script: list[tuple[int, str]]) -> AsyncIterator[Scripted]:
    """Serve ``script``: a list of (status, body); the last entry repeats once the script is exhausted."""
    state = Scripted(address="")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length")), 0)
        if head.startswith(b"GET "):
            status, body = 200, '{"object": "list", "data": []}'
        else:
            state.requests.append(json.loads(await reader.readexactly(length)) if length else {})
            status, body = script[min(len(state.requests), len(script)) - 1]
        kind = "text/event-stream" if body.startswith("data:") else "application/json"
        payload = body.encode()
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {len(payload)}\r\n"
                     f"connection: close\r\n\r\n".encode() + payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    state.address = f"http://{host}:{port}"
    async with server:
        yield state
