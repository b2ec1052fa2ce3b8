"""The page: a colony in the browser, served by the server itself at ``/`` with its files under ``/static/``.

The page is static files inside the package (``harmonix/server/static``): plain ES modules, a style sheet and the
HTML, so a user needs no build step and no second server. It talks to the server only through the HTTP API, like any
other client, so the API routes know nothing about it. Its files need no API key (they hold no secret; the page asks
for the key when the API answers 401).

Every response of the page carries a Content-Security-Policy that allows scripts, styles and connections from the
server's own origin only: no inline script, no inline event handler, no ``eval``, no other host. A hostile string
that found its way into a field could not run even if the page inserted it as HTML (it inserts every text as text).
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_PACKAGE = ("harmonix.server", "static")
STATIC_PREFIX = "/static"
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer"}


def page_html() -> bytes:
    """The page's HTML, read from the package (so an installed wheel serves the same file as a checkout)."""
    return resources.files(STATIC_PACKAGE[0]).joinpath(STATIC_PACKAGE[1], "index.html").read_bytes()


class WithPageHeaders:
    """ASGI wrapper: adds :data:`PAGE_HEADERS` to every response of the wrapped app (the static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(name.lower().encode(), value.encode()) for name, value in PAGE_HEADERS.items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_page(app: FastAPI) -> None:
    """``GET /`` (the page) and ``/static/…`` (its scripts and style sheet), outside the OpenAPI document."""

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        """The page itself."""
        return Response(page_html(), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    app.mount(STATIC_PREFIX, WithPageHeaders(StaticFiles(packages=[STATIC_PACKAGE])), name="static")
    del page
