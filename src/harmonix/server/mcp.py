"""A colony as a Model Context Protocol server, so assistants and IDEs can breathe with it as a tool.

Built with the official ``mcp`` SDK (:class:`mcp.server.mcpserver.MCPServer`) over a
:class:`~harmonix.service.ColonyService`, so an MCP call meets the same rules as an HTTP request: the owner rule,
bounded admission (a busy colony answers with the error, never an endless wait), the deadline, and cancellation
rolling back what had not committed. Two transports:

- **stdio** (``harmonix mcp``): one colony (``--colony``), for one assistant on this machine; the ``colony``
  argument of every tool may be left out and naming another colony is an error;
- **streamable HTTP** at ``/mcp`` on ``harmonix serve`` (:class:`MCPMount`): any colony the requesting key may see,
  ``colony`` defaulting to ``default``; with API keys on, a request without a known key is refused with 401
  before the MCP layer reads it, exactly as on every other route.

**Tools.** ``breathe`` (a whole cascade; the result is the cascade document the HTTP API answers),
``organism_turn`` (one organism's turn alone), ``history`` (past breaths, newest first), ``read_field`` (one
field's stats and latest turns) and ``colonies`` (those the requester may see). A breath or a turn creates its
colony when it does not exist yet (for the requesting key), as the OpenAI route does; the readers need an existing
colony. A failure is the tool's error (``isError``), its text the Harmonix error's type and message.

**Resources.** Every colony the requester may see is a resource, ``harmonix://colonies/{name}``: the colony with
each field's stats (JSON); the ``colonies`` tool lists them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from harmonix import __version__
from harmonix.config import DEFAULT_COLONY, Config
from harmonix.documents import cascade_document, colony_document, field_stats_document, stage_document
from harmonix.errors import HarmonixError, InvalidArgument, NotFound
from harmonix.organisms.base import plain
from harmonix.server.auth import ApiKeys, is_loopback
from harmonix.service import ColonyService

MCP_PATH = "/mcp"
INSTRUCTIONS = (
    "A colony of small text-generation organisms (HAiKU, Sonnet, Prose, Artist) joined by a hub. `breathe` sends a "
    "prompt through the whole colony; what it hears shapes what it says turns later. The prompt never reaches a "
    "model: it wrinkles each organism's memory.")
Organism = Literal["haiku", "sonnet", "prose", "artist"]
Field = Literal["haiku", "sonnet", "prose", "artist", "meta"]
Owner = Callable[[Context], str | None]
"""Who asks, from the request's context (the API key's owner over HTTP; ``None``: every colony is visible)."""


def build_mcp(service_now: Callable[[], ColonyService], *, owner: Owner, only_colony: str | None = None) -> MCPServer:
    """The MCP server over the service ``service_now`` returns when a call arrives (a server opens its service in
    its lifespan, after the routes are made). ``only_colony``: the stdio transport's one colony."""
    server = MCPServer("harmonix", version=__version__, instructions=INSTRUCTIONS)

    def colony_of(named: str | None) -> str:
        if only_colony is None:
            return named or DEFAULT_COLONY
        if named not in (None, only_colony):
            raise InvalidArgument(f"this MCP server serves colony {only_colony!r} only")
        return only_colony

    @contextlib.contextmanager
    def reported() -> Iterator[None]:
        """A Harmonix error as the SDK's anticipated failure: the client reads its type and message (anything
        else is a crash, logged here with its traceback and shown to the client only as a failure)."""
        try:
            yield
        except NotFound as error:
            raise ResourceNotFoundError(f"{type(error).__name__}: {error}") from error
        except HarmonixError as error:
            raise ToolError(f"{type(error).__name__}: {error}") from error

    @server.tool(description="One breath of the colony: HAiKU, Sonnet and Prose answer the prompt at once, Artist "
                             "weaves their voices into one piece, the hub exhales a meta sentence into every field. "
                             "Returns every voice, the metrics and the breath's number in the colony's history.")
    async def breathe(prompt: str, ctx: Context, colony: str | None = None, seed: int | None = None) -> dict[str, Any]:
        with reported():
            name, who, service = colony_of(colony), owner(ctx), service_now()
            await service.ensure(name, who)
            await service.loaded()  # a call that arrives while the engines load waits for them
            return plain(cascade_document(await service.cascade(name, who, prompt, seed=seed)))

    @server.tool(description="One organism's turn alone (no exhale): haiku (5-7-5), sonnet (14 rhymed lines), "
                             "prose (a paragraph) or artist (writes from its own memory).")
    async def organism_turn(organism: Organism, prompt: str, ctx: Context, colony: str | None = None,
                            seed: int | None = None) -> dict[str, Any]:
        with reported():
            name, who, service = colony_of(colony), owner(ctx), service_now()
            await service.ensure(name, who)
            await service.loaded()
            return plain(stage_document(await service.turn(name, who, organism, prompt, seed=seed)))

    @server.tool(description="The colony's past breaths, newest first: prompt, every voice, metrics, timings. Page "
                             "with `before` (the last id of the previous page).")
    async def history(ctx: Context, colony: str | None = None, limit: int = 10,
                      before: int | None = None) -> dict[str, Any]:
        with reported():
            records = await service_now().history(colony_of(colony), owner(ctx), limit=limit, before=before)
            return plain({"cascades": records, "next_before": records[-1].id if len(records) == limit else None})

    @server.tool(description="One field of the colony (an organism's memory, or the hub's `meta`): its sizes and "
                             "its latest turns, each with its text, dissonance and temperature.")
    async def read_field(field: Field, ctx: Context, colony: str | None = None, limit: int = 10) -> dict[str, Any]:
        with reported():
            view = await service_now().field_view(colony_of(colony), owner(ctx), field, limit=limit)
            return plain({"stats": field_stats_document(view.stats), "turns": view.turns})

    @server.tool(description="The colonies the requester may see (their names, creation times and forks).")
    async def colonies(ctx: Context) -> dict[str, Any]:
        with reported():
            if only_colony is not None:
                return {"colonies": [colony_document(await service_now().colony_info(only_colony, None))]}
            return {"colonies": [colony_document(info) for info in await service_now().colonies(owner(ctx))]}

    @server.resource("harmonix://colonies/{name}", mime_type="application/json",
                     description="One colony with each field's stats.")
    async def colony(name: str, ctx: Context) -> str:
        with reported():
            colony_of(name)
            who = owner(ctx)
            service = service_now()
            info = await service.colony_info(name, who)
            return json.dumps(plain(colony_document(info, await service.stats(name, who))))

    del breathe, organism_turn, history, read_field, colonies, colony
    return server


class MCPMount:
    """ASGI: requests under ``/mcp`` go to the MCP server's streamable-HTTP app, behind the API keys; everything
    else to ``app``. :meth:`running` runs the MCP session manager for a block (the server's lifespan)."""

    def __init__(self, app: ASGIApp, mcp: MCPServer, keys: ApiKeys, host: str) -> None:
        self.app, self._keys = app, keys
        # DNS-rebinding protection (the Host header must name this machine) while bound to loopback; a server
        # bound to a public address is reached by other names and is guarded by its keys instead.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=is_loopback(host),
                                             allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
                                             allowed_origins=["http://127.0.0.1:*", "http://localhost:*",
                                                              "http://[::1]:*"])
        self._mcp_app: Starlette = mcp.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security)
        self._mcp = mcp

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self._mcp.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or (path != MCP_PATH and not path.startswith(MCP_PATH + "/")):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization")
        try:
            self._keys.owner(None if authorization is None else authorization.decode("latin-1"))
        except HarmonixError as error:
            body = json.dumps({"error": {"type": type(error).__name__, "message": str(error)}}).encode()
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self._mcp_app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:  # the wrapped application's attributes (state, openapi, routes …)
        return getattr(self.app, name)


async def serve_stdio(config: Config) -> None:
    """``harmonix mcp``: the configured colony (created if missing) over stdin and stdout until the client closes
    them, with one client's compute budget; the engines load in the background meanwhile."""
    async with ColonyService.open(config, serving=False) as service:
        await service.ensure(config.colony, None)
        await build_mcp(lambda: service, owner=lambda ctx: None, only_colony=config.colony).run_stdio_async()


def owner_from_headers(keys: ApiKeys) -> Owner:
    """The requesting owner of an MCP call over HTTP, read from its ``Authorization`` header."""

    def owner(ctx: Context) -> str | None:
        headers = ctx.headers or {}
        return keys.owner(headers.get("authorization"))

    return owner
