"""A loopback OpenAI-compatible server that answers every chat request after a fixed delay, with no local compute.

It stands in for a remote GPU server in ``harmonix bench cascade --io``: Prose and Artist then cost waiting, not
CPU. It answers ``/v1/chat/completions`` and ``/v1/completions`` with a streamed paragraph of a few lines (usable by
both organisms), and a ``GET`` (the engine's probe of ``/v1/models``) at once with an empty model list.

The paragraph is :func:`answer_for` the request's ``seed``: lines put together from small word pools, so answers to
different seeds differ. A constant answer would be rejected from the second turn on by the organisms' own guard
(an answer must not copy eight words of what the model was given, and Prose is given its newest paragraph).

:func:`delayed_server_thread` runs it on an event loop of its own, for a benchmark whose own loop blocks while it
waits for a ``harmonix serve`` subprocess (which probes its LLM server before it is ready).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import random
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

ANSWER = ("The lamp in the hallway keeps its own counsel.\nDust settles on the stair like a slow and patient "
          "snow.\nSomewhere a kettle remembers the morning.\nThe window holds the last of the light for a while.")
"""The answer to a request without a seed."""
THINGS = ("lamp", "kettle", "window", "stair", "garden", "river", "lantern", "orchard", "harbour", "chimney", "meadow",
          "attic", "bridge", "candle", "willow", "doorway")
DOINGS = ("keeps", "remembers", "gathers", "carries", "hides", "softens", "warms", "follows", "answers", "holds")
QUALITIES = ("patient", "quiet", "early", "silver", "narrow", "distant", "amber", "heavy", "gentle", "hollow",
             "crooked", "faded")
TIMES = ("morning", "evening", "winter", "weather", "harvest", "silence", "rain", "dusk", "noon", "tide")
LINES = 4


def answer_for(seed: int | None) -> str:
    """:data:`ANSWER` without a seed; else ``LINES`` lines "The <thing> <doing> the <quality> <time> of the
    <quality> <thing>." with every word drawn by ``random.Random(seed)``."""
    if seed is None:
        return ANSWER
    rng = random.Random(seed)
    return "\n".join(f"The {rng.choice(THINGS)} {rng.choice(DOINGS)} the {rng.choice(QUALITIES)} {rng.choice(TIMES)} "
                     f"of the {rng.choice(QUALITIES)} {rng.choice(THINGS)}." for _ in range(LINES))


@contextlib.asynccontextmanager
async def delayed_server(delay_s: float, probe_delay_s: float = 0.0, gate: asyncio.Event | None = None,
                         ) -> AsyncIterator[str]:
    """Serve until the block ends; yields the server's base URL. ``probe_delay_s`` delays the answer to a ``GET``
    (an engine's probe when it opens), for tests of a server that is still loading. With a ``gate``, an answer also
    waits, after its delay, until the gate is set: a test holds a breath inside its LLM stages for exactly as long
    as it needs, instead of for a delay long enough on a loaded machine."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length")), 0)
        request = await reader.readexactly(length)
        if head.startswith(b"GET "):
            await asyncio.sleep(probe_delay_s)
            kind, payload = "application/json", b'{"object": "list", "data": []}'
        else:
            await asyncio.sleep(delay_s)
            if gate is not None:
                await gate.wait()
            seed = json.loads(request).get("seed") if request else None
            words = answer_for(seed if isinstance(seed, int) else None).split(" ")
            chunks: list[dict[str, Any]] = [
                {"choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]} for word in words]
            chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                           "usage": {"completion_tokens": len(words)}})
            body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
            kind, payload = "text/event-stream", body.encode()
        writer.write(f"HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\n".encode()
                     + f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n".encode() + payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    async with server:
        yield f"http://{host}:{port}"


@contextlib.contextmanager
def delayed_server_thread(delay_s: float) -> Iterator[str]:
    """:func:`delayed_server` on its own event loop in a thread of its own, for the block; yields its URL."""
    address: queue.Queue[str] = queue.Queue()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with delayed_server(delay_s) as url:
            address.put(url)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), name="harmonix-delay-server",
                              daemon=True)
    thread.start()
    try:
        yield address.get(timeout=30)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
