"""An OpenAI-compatible stand-in for a remote LLM, in its own process: every chat answer comes after ``DELAY``
seconds with no local compute (:mod:`harmonix.lab.bench.delay_server`); a GET (an engine's probe) after ``PROBE``
seconds. Prints its URL, then serves until killed.

    python llm_standin.py DELAY [PROBE]
    python llm_standin.py --gated
    python llm_standin.py --stall
    python llm_standin.py --hostile

With ``--gated`` every chat answer waits for a gate, closed at the start: a line ``open`` on stdin opens it (answers
waiting and to come go out at once), ``close`` closes it again; the stand-in prints ``opened`` or ``closed`` when
done, so a test holds a breath inside Prose exactly as long as it needs (no delay to guess).
With ``--stall`` every chat answer instead stops in the middle: the stand-in sends the answer's first words as
streamed chunks, prints ``streaming`` on stdout and sends nothing more, so a test knows an answer is half-way when it
kills the process (an LLM server that dies mid-stream). With ``--hostile`` every chat request is refused (HTTP 400)
with an error message full of terminal escape sequences (:data:`HOSTILE_MESSAGE`), as a broken or malicious server
might send.
"""

from __future__ import annotations

import asyncio
import json
import sys

from harmonix.lab.bench.delay_server import ANSWER, delayed_server

HALF = ANSWER.split(" ")[:6]
HOSTILE_MESSAGE = "\x1b[2J\x1b]0;owned\x07\x9b31mthe model refuses\x1b[0m"


async def answer(writer: asyncio.StreamWriter, status: str, payload: bytes) -> None:
    writer.write(f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n".encode()
                 + f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n".encode() + payload)
    await writer.drain()
    writer.close()


async def request_head(reader: asyncio.StreamReader) -> bytes:
    """Read one request; its head (the body is read and dropped)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length")), 0)
    await reader.readexactly(length)
    return head


async def hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer a probe at once; refuse a chat request with :data:`HOSTILE_MESSAGE`."""
    if (await request_head(reader)).startswith(b"GET "):
        await answer(writer, "200 OK", b'{"object": "list", "data": []}')
        return
    await answer(writer, "400 Bad Request", json.dumps({"error": {"message": HOSTILE_MESSAGE}}).encode())


async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer a probe at once; a chat request with half a stream, then silence (module docstring)."""
    if (await request_head(reader)).startswith(b"GET "):
        await answer(writer, "200 OK", b'{"object": "list", "data": []}')
        return
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
    for word in HALF:
        chunk = {"choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
        writer.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await writer.drain()
    print("streaming", flush=True)
    await asyncio.Event().wait()


async def gated() -> None:
    """Serve with a gate worked from stdin (module docstring)."""
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with delayed_server(0.0, gate=gate) as url:
        print(url, flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "open":
                gate.set()
                print("opened", flush=True)
            elif line.strip() == "close":
                gate.clear()
                print("closed", flush=True)


async def main(arguments: list[str]) -> None:
    if arguments[0] == "--gated":
        await gated()
        return
    handlers = {"--stall": stall, "--hostile": hostile}
    if arguments[0] in handlers:
        server = await asyncio.start_server(handlers[arguments[0]], "127.0.0.1", 0)
        host, port = server.sockets[0].getsockname()[:2]
        async with server:
            print(f"http://{host}:{port}", flush=True)
            await asyncio.Event().wait()
    async with delayed_server(float(arguments[0]), float(arguments[1]) if len(arguments) > 1 else 0.0) as url:
        print(url, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
