"""The HTTP application: routes that shape requests into service calls and results into documents.

Routes (JSON; the OpenAPI document at ``/openapi.json``):

- ``GET /health`` (no key): 200 ``{"status": "ok"}``, or 503 ``{"status": "loading"}`` while the engines load;
- ``GET /metrics``: Prometheus text (:mod:`harmonix.server.metrics`);
- ``POST /v1/colonies`` → 201, ``GET /v1/colonies``, ``GET /v1/colonies/{id}`` (with each field's stats),
  ``POST /v1/colonies/{id}/fork`` → 201, ``DELETE /v1/colonies/{id}`` → 204;
- ``POST /v1/colonies/{id}/cascades`` and ``POST /v1/colonies/{id}/organisms/{name}/turns`` with
  ``{"prompt", "seed"?}``: the cascade (or stage) document, or with ``Accept: text/event-stream`` the events as they
  happen (:mod:`harmonix.server.streams`);
- ``DELETE /v1/colonies/{id}/cascades/{cascade}``: forget one breath (:func:`harmonix.colony.forget_breath`);
- ``GET /v1/colonies/{id}/history?limit=&before=`` (past cascades, newest first) and
  ``GET /v1/colonies/{id}/fields/{organism}?limit=`` (stats and the per-turn series);
- the OpenAI-compatible ``GET /v1/models`` and ``POST /v1/chat/completions`` (:mod:`harmonix.server.openai`);
- the colony as a Model Context Protocol server at ``/mcp``, streamable HTTP (:mod:`harmonix.server.mcp`);
- the page at ``/`` and its files under ``/static/`` (:mod:`harmonix.server.page`), which need no key.

Every error is one JSON object ``{"error": {"type", "message"}}`` with the status :mod:`harmonix.documents` gives
its type (429 carries ``Retry-After``, 401 ``WWW-Authenticate``); a body over ``max_body_bytes`` is 413, malformed
JSON, invalid UTF-8 or wrong types 422; nothing a client sees carries a stack trace. A client that disconnects while
its breath runs cancels it, streamed or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harmonix import __version__
from harmonix.colony import Colony
from harmonix.config import COLONY_NAME
from harmonix.documents import (
    cascade_document,
    colony_document,
    done_document,
    error_document,
    field_stats_document,
    forgotten_document,
    http_status,
    stage_document,
)
from harmonix.errors import BreathInProgress, HarmonixError, RunNotFound
from harmonix.field import RowLedger
from harmonix.field.runs import RunRecord
from harmonix.meta import BreathListener, StageError
from harmonix.organisms.base import ORGANISMS, plain
from harmonix.server.auth import ApiKeys
from harmonix.server.breath import AdmittedBreath
from harmonix.server.mcp import MCPMount, build_mcp, owner_from_headers
from harmonix.server.metrics import CONTENT_TYPE, ServerMetrics
from harmonix.server.openai import install_openai_routes
from harmonix.server.page import install_page
from harmonix.server.runs import Runs
from harmonix.server.shared import (
    ERRORS,
    ErrorBody,
    ErrorDocument,
    JsonInt,
    Owner,
    error_headers,
    metrics_of,
    service_of,
    until_done_or_gone,
)
from harmonix.server.streams import PING_S, RunStream
from harmonix.service import ColonyService
from harmonix.text import TEXT_SCHEMA

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BODY_BYTES = 256 * 1024
COLONY_PATTERN = f"^{COLONY_NAME.pattern}$"
ColonyId = Annotated[str, Path(pattern=COLONY_PATTERN, description="A colony's name")]
RunId = Annotated[str, Path(pattern=r"^run_[0-9a-f]{24}$", description="A run's id")]
EVENT_STREAM = "text/event-stream"
HTTP_NAMES = {400: "InvalidRequest", 401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed",
              413: "RequestTooLarge", 415: "UnsupportedMediaType", 422: "InvalidRequest"}


@dataclass(frozen=True)
class ServerSettings:
    """What shapes the HTTP surface: the API keys, the body limit, the SSE ping interval, the address it is bound
    to (a loopback one turns on the MCP route's DNS-rebinding protection)."""

    keys: ApiKeys = ApiKeys()
    max_body_bytes: int = MAX_BODY_BYTES
    ping_s: float = PING_S
    host: str = "127.0.0.1"
    grace_s: float = 0.0
    """How long runs with no request waiting for them (background, left running) may finish when the server stops."""
    multitask: str = "enqueue"
    """What a breath that arrives while its colony breathes does, unless it says (``multitask``)."""


# --- request and response shapes (for validation and the OpenAPI document) -------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewColony(Strict):
    name: StrictStr | None = Field(None, pattern=COLONY_PATTERN, description="A random c-… name when absent")


class Breath(Strict):
    prompt: StrictStr = Field(description="What the user says; it wrinkles every field and never reaches a model. "
                                          "It holds a letter and no control character (422 otherwise).",
                              json_schema_extra=TEXT_SCHEMA)
    seed: JsonInt | None = Field(None, ge=0, le=2**63 - 1, description="The same seed on the same fields gives "
                                                                         "the same breath")
    on_disconnect: Literal["cancel", "continue"] = Field(
        "cancel", description="When the client goes away before the end: cancel the breath (what it had not "
                              "committed rolls back), or let it finish for whoever rejoins its run")
    background: StrictBool = Field(False, description="Answer 202 with the run at once; the breath runs on")
    multitask: Literal["reject", "enqueue", "interrupt"] | None = Field(
        None, description="When the colony is already breathing: refuse this one (409 naming the run), run it "
                          "beside (each organism's turns in order; the server's default unless it says otherwise), "
                          "or cancel the running one, removing all it wrote, and run this one")


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ColonyDocument(Loose):
    id: str
    name: str
    created: float
    forked_from: str | None


class ColonyList(Strict):
    colonies: list[ColonyDocument]


class StageDocument(Loose):
    organism: str
    text: str | None
    error: ErrorBody | None
    seconds: float
    dissonance: float | None


class CascadeDocument(Loose):
    prompt: str
    seed: int
    haiku: StageDocument
    sonnet: StageDocument
    prose: StageDocument
    artist: StageDocument
    meta: dict[str, Any]
    timings: dict[str, float]
    cascade: int | None


class RunDocument(Strict):
    id: str
    colony: str
    kind: str
    status: str
    created: float
    ended: float | None
    events: int
    cancel_requested: bool
    request: dict[str, Any]
    result: dict[str, Any] | None


class History(Strict):
    cascades: list[dict[str, Any]]
    next_before: int | None


class ForgottenDocument(Strict):
    cascade: int
    fields: dict[str, dict[str, int]]


class FieldDocument(Strict):
    stats: dict[str, Any]
    turns: list[dict[str, Any]]


class Health(Strict):
    status: str
    version: str


STREAMS = {"content": {EVENT_STREAM: {"schema": {"type": "string"}}},
           "description": "With Accept: text/event-stream, the events as they happen"}


COLONY_READS = ("get_colony", "history", "field_view")
COLONY_OPERATIONS = (*COLONY_READS, "cascade", "turn", "fork_colony", "remove_colony")


def colony_links(colony: str, operations: tuple[str, ...]) -> dict[str, Any]:
    """OpenAPI links from a response to ``operations`` on the colony it names (``colony``: a runtime expression,
    ``$response.body#/name`` or ``$request.path.colony``), so that a client or a stateful fuzzer can follow
    create → cascade → history. Operation ids are the route functions' names (:func:`create_app`)."""
    return {operation: {"operationId": operation, "parameters": {"colony": colony}} for operation in operations}


Responses = dict[int | str, dict[str, Any]]
CREATED_COLONY: Responses = {201: {"links": colony_links("$response.body#/name", COLONY_OPERATIONS)}}
BREATHED: Responses = {200: {**STREAMS, "links": colony_links("$request.path.colony", COLONY_READS)},
                        202: {"model": RunDocument, "description": "With background: the run, started"}}
CONFLICT: Responses = {409: {"model": ErrorDocument, "description": "The colony exists already, or is breathing (a "
                                                                   "colony being removed; a breath that asked "
                                                                   "multitask: reject)"}}


# --- the application ----------------------------------------------------------------------------------------------


def create_app(open_service: Callable[[], contextlib.AbstractAsyncContextManager[ColonyService]],
               settings: ServerSettings = ServerSettings(), *,
               on_ready: Callable[[], None] | None = None) -> MCPMount:
    """The application (behind the body limit, with the MCP server at ``/mcp``: :mod:`harmonix.server.mcp`); its
    lifespan opens the service (the store, and the engines loading in the background) and the MCP sessions, and
    calls ``on_ready`` once the engines have loaded."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_service() as service, Runs.open(service.run_log, grace_s=settings.grace_s) as runs, \
                mounted.running():
            app.state.service = service
            app.state.runs = runs
            app.state.metrics = ServerMetrics(active=lambda: service.admission.active,
                                              waiting=lambda: service.admission.waiting,
                                              open_colonies=lambda: service.open_colonies)

            async def announce() -> None:
                if await service.loaded() and on_ready is not None:
                    on_ready()

            announcing = asyncio.create_task(announce(), name="harmonix-announce-ready")
            try:
                yield
            finally:
                announcing.cancel()
                await asyncio.gather(announcing, return_exceptions=True)

    app = FastAPI(title="Harmonix", version=__version__, lifespan=lifespan,
                  generate_unique_id_function=lambda route: route.name,
                  description="Small text-generation organisms in colonies; each breath streamed as it happens.")
    app.state.settings = settings
    _install_error_handlers(app)
    _install_routes(app)
    install_openai_routes(app)
    install_page(app)
    mcp = build_mcp(lambda: service_of_app(app), owner=owner_from_headers(settings.keys))
    mounted = MCPMount(LimitedBody(app, settings.max_body_bytes), mcp, settings.keys, settings.host)
    return mounted


def service_of_app(app: FastAPI) -> ColonyService:
    service: ColonyService = app.state.service
    return service


def wants_stream(request: Request) -> bool:
    return EVENT_STREAM in request.headers.get("accept", "")


def _install_routes(app: FastAPI) -> None:
    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    async def health(request: Request) -> JSONResponse:
        """Ready (200) or still loading the engines (503). Needs no key."""
        ready = service_of(request).ready
        return JSONResponse({"status": "ok" if ready else "loading", "version": __version__},
                            status_code=200 if ready else 503)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}, **ERRORS})
    async def metrics(request: Request, who: Owner) -> Response:
        """Prometheus metrics: requests, stage latencies, queue depth, rejections, open colonies, LLM tokens/s."""
        return Response(metrics_of(request).exposition(), media_type=CONTENT_TYPE)

    @app.post("/v1/colonies", status_code=201, response_model=ColonyDocument,
              responses={**ERRORS, **CREATED_COLONY, **CONFLICT})
    async def create_colony(request: Request, who: Owner, body: NewColony | None = None) -> JSONResponse:
        """A new, empty colony, owned by the requesting key."""
        info = await service_of(request).create(body.name if body else None, who)
        return JSONResponse(colony_document(info), status_code=201)

    @app.get("/v1/colonies", response_model=ColonyList, responses=ERRORS)
    async def list_colonies(request: Request, who: Owner) -> JSONResponse:
        """The colonies the requesting key may see."""
        return JSONResponse({"colonies": [colony_document(info) for info in await service_of(request).colonies(who)]})

    @app.get("/v1/colonies/{colony}", response_model=ColonyDocument, responses=ERRORS)
    async def get_colony(request: Request, colony: ColonyId, who: Owner) -> JSONResponse:
        """A colony and each of its fields' stats."""
        service = service_of(request)
        info = await service.colony_info(colony, who)
        return JSONResponse(plain(colony_document(info, await service.stats(colony, who))))

    @app.post("/v1/colonies/{colony}/fork", status_code=201, response_model=ColonyDocument,
              responses={**ERRORS, **CREATED_COLONY, **CONFLICT})
    async def fork_colony(request: Request, colony: ColonyId, who: Owner,
                          body: NewColony | None = None) -> JSONResponse:
        """A copy of the colony as it is now (each field in one consistent read), owned by the requesting key."""
        info = await service_of(request).fork(colony, body.name if body else None, who)
        return JSONResponse(colony_document(info), status_code=201)

    @app.delete("/v1/colonies/{colony}", status_code=204, response_class=Response,
                responses={**ERRORS, **CONFLICT})
    async def remove_colony(request: Request, colony: ColonyId, who: Owner) -> Response:
        """Remove the colony and all its fields (409 while a breath runs in it)."""
        await service_of(request).remove(colony, who)
        return Response(status_code=204)

    @app.post("/v1/colonies/{colony}/cascades", response_model=CascadeDocument,
              responses={**ERRORS, **BREATHED, **CONFLICT})
    async def cascade(request: Request, colony: ColonyId, body: Breath, who: Owner) -> Response:
        """One breath: HAiKU, Sonnet and Prose in parallel, then Artist, then the exhale."""
        return await _breath(request, "cascade", colony, who, body, ORGANISMS, _cascade(body))

    @app.post("/v1/colonies/{colony}/organisms/{organism}/turns", response_model=StageDocument,
              responses={**ERRORS, **BREATHED, **CONFLICT, 502: {"model": ErrorDocument}})
    async def turn(request: Request, colony: ColonyId, organism: str, body: Breath, who: Owner) -> Response:
        """One organism's turn alone (no exhale). If the organism could not answer, the status says why (503 LLM
        busy, 504 timed out, 502 the LLM server failed, 500 no reply it could keep) and the body carries the error
        and the stage."""
        return await _breath(request, "turn", colony, who, body, (organism,), _turn(organism, body))

    @app.get("/v1/colonies/{colony}/runs/{run}", response_model=RunDocument, responses=ERRORS)
    async def get_run(request: Request, colony: ColonyId, run: RunId, who: Owner) -> JSONResponse:
        """A run: its status (running, done, failed, cancelled), when it began and ended, how many events it sent,
        and its result (the breath's document, or its error) once it has ended."""
        return JSONResponse(run_document(await visible_run(request, colony, run, who)))

    @app.post("/v1/colonies/{colony}/runs/{run}/cancel", response_model=RunDocument, responses=ERRORS)
    async def cancel_run(request: Request, colony: ColonyId, run: RunId, who: Owner) -> JSONResponse:
        """Cancel a run: what it had not committed rolls back. A run of another server process on the same store
        stops within a fraction of a second; an ended run stays as it ended."""
        await visible_run(request, colony, run, who)
        return JSONResponse(run_document(await runs_of(request).cancel(run)))

    @app.get("/v1/colonies/{colony}/runs/{run}/stream", response_class=Response,
             responses={**ERRORS, 200: STREAMS})
    async def join_run(request: Request, colony: ColonyId, run: RunId, who: Owner,
                       last_event_id: Annotated[str, Header(pattern=r"^[0-9]{1,18}$")] = "",
                       after: Annotated[int | None, Query(ge=0)] = None) -> Response:
        """Rejoin a run's stream, through any server process on the same store: the events after
        ``Last-Event-ID`` (or ``after``; all of them without either), then the new ones as they happen, until it
        ends. Leaving this stream never cancels the run."""
        await visible_run(request, colony, run, who)
        return RunStream(runs_of(request), run, after=int(last_event_id or after or 0), cancel_on_disconnect=False,
                         ping_s=request.app.state.settings.ping_s)

    @app.delete("/v1/colonies/{colony}/cascades/{cascade}", response_model=ForgottenDocument, responses=ERRORS)
    async def forget_cascade(request: Request, colony: ColonyId, cascade: Annotated[int, Path(ge=1)],
                             who: Owner) -> JSONResponse:
        """Forget one breath: its prompt in every field, every organism's reply, the meta sentence each field heard
        and the hub's record, removed with exactly the counts they had added (one transaction per field). Answers
        how many rows each field lost; 404 for a breath the colony does not hold (or no longer)."""
        return JSONResponse(forgotten_document(await service_of(request).forget(colony, who, cascade)))

    @app.get("/v1/colonies/{colony}/history", response_model=History, responses=ERRORS)
    async def history(request: Request, colony: ColonyId, who: Owner,
                      limit: Annotated[int, Query(ge=1, le=100)] = 20,
                      before: Annotated[int | None, Query(ge=1)] = None) -> JSONResponse:
        """Past cascades, newest first: prompt, texts, metrics, timings. Page with ``before``."""
        records = await service_of(request).history(colony, who, limit=limit, before=before)
        next_before = records[-1].id if len(records) == limit else None
        return JSONResponse(plain({"cascades": records, "next_before": next_before}))

    @app.get("/v1/colonies/{colony}/fields/{organism}", response_model=FieldDocument, responses=ERRORS)
    async def field_view(request: Request, colony: ColonyId, organism: str, who: Owner,
                         limit: Annotated[int, Query(ge=1, le=100)] = 50) -> JSONResponse:
        """One field: its stats, and per turn its text, dissonance, temperature, sizes and metrics."""
        view = await service_of(request).field_view(colony, who, organism, limit=limit)
        return JSONResponse(plain({"stats": field_stats_document(view.stats), "turns": view.turns}))

    del health, metrics, create_colony, list_colonies, get_colony, fork_colony, remove_colony, cascade, turn
    del history, field_view, forget_cascade, get_run, cancel_run, join_run


LedgeredWork = Callable[[Colony, BreathListener, RowLedger], Awaitable[dict[str, Any]]]
"""A breath's work on the admitted colony, its rows told to the ledger."""


def _cascade(body: Breath) -> LedgeredWork:
    """The cascade's work: ``{"document": …, "done": …}`` (the JSON answer, the ``done`` event)."""
    async def run(colony: Colony, listener: BreathListener, ledger: RowLedger) -> dict[str, Any]:
        result = await colony.cascade(body.prompt, seed=body.seed, listener=listener, ledger=ledger)
        return {"document": cascade_document(result), "done": done_document(result)}
    return run


def _turn(organism: str, body: Breath) -> LedgeredWork:
    """One organism's turn as work, answered as :func:`_cascade`'s."""
    async def run(colony: Colony, listener: BreathListener, ledger: RowLedger) -> dict[str, Any]:
        stage = await colony.turn(organism, body.prompt, seed=body.seed, listener=listener, ledger=ledger)
        return {"document": stage_document(stage),
                "done": {"organism": organism, "seconds": stage.seconds, "error": plain(stage.error)}}
    return run


async def _breath(request: Request, kind: str, colony: str, who: str | None, body: Breath,
                  organisms: Sequence[str], work: LedgeredWork) -> Response:
    """Admit the breath (errors become a status before anything streams), start it as a run
    (:mod:`harmonix.server.runs`), then answer 202 at once (``background``), stream its events, or answer with its
    document; a client that goes away cancels it unless it asked ``on_disconnect: "continue"``."""
    runs, service = runs_of(request), service_of(request)
    policy = body.multitask or request.app.state.settings.multitask
    ledger = RowLedger()
    async with runs.gate(colony):
        await service.colony_info(colony, who)
        running = await runs.running_in(colony)
        if running and policy == "reject":
            raise BreathInProgress(f"colony {colony} is breathing (run {running[0]}); this request asked to be "
                                   "refused meanwhile (multitask: reject)", running[0])
        if running and policy == "interrupt":
            for run_id in running:
                await runs.cancel(run_id, undo=True)
        breath = await AdmittedBreath.admit(request, kind, colony, who, body.prompt, organisms)

        async def run(listener: BreathListener) -> tuple[dict[str, Any], dict[str, Any]]:
            finished = await breath.run(lambda opened, heard: work(opened, heard, ledger), listener)
            return finished["done"], plain(finished["document"])

        started = await runs.start(colony=colony, kind=kind, owner=who, breath=run, release=breath.release,
                                   undo=lambda: service.undo(colony, ledger),
                                   request={"prompt": body.prompt, "seed": body.seed, "organisms": list(organisms),
                                            "on_disconnect": body.on_disconnect, "background": body.background,
                                            "multitask": policy})
    run_id = started.record.id
    headers = {"Location": f"/v1/colonies/{colony}/runs/{run_id}", "X-Harmonix-Run": run_id}
    if body.background:
        return JSONResponse(run_document(await runs.record(run_id)), status_code=202, headers=headers)
    cancel_on_disconnect = body.on_disconnect == "cancel"
    if wants_stream(request):
        return RunStream(runs, run_id, cancel_on_disconnect=cancel_on_disconnect, headers=headers,
                         ping_s=request.app.state.settings.ping_s,
                         on_first_stage=metrics_of(request).first_event_seconds.observe)
    if await until_done_or_gone(request, started.ended.wait()) is None and not started.ended.is_set():
        if cancel_on_disconnect:
            await runs.cancel(run_id)
        return Response(status_code=499, headers=headers)  # nobody is there to read it
    if started.status != "done":
        assert started.result is not None
        status = 499 if started.status == "cancelled" else http_status_of(started.result)
        return JSONResponse(started.result, status_code=status, headers=headers)
    document = {**(started.result or {}), "run": run_id}
    if kind == "turn" and document["error"] is not None:  # the request was this one stage: its error is the answer's
        failed = StageError(document["error"]["type"], document["error"]["message"])
        return JSONResponse({"error": document["error"], "stage": document}, status_code=http_status(failed),
                            headers=headers)
    return JSONResponse(document, headers=headers)


def http_status_of(document: dict[str, Any]) -> int:
    """The status of a failed run's error document (by its error type; an unknown type is 500)."""
    return http_status(StageError(document["error"]["type"], document["error"]["message"]))


def run_document(record: RunRecord) -> dict[str, Any]:
    """A run as a client sees it (its owner is never shown)."""
    return {"id": record.id, "colony": record.colony, "kind": record.kind, "status": record.status,
            "created": record.created, "ended": record.ended, "events": record.events,
            "cancel_requested": record.cancel_requested, "request": record.request, "result": record.result}


def runs_of(request: Request) -> Runs:
    runs: Runs = request.app.state.runs
    return runs


async def visible_run(request: Request, colony: str, run_id: str, who: str | None) -> RunRecord:
    """Run ``run_id`` of ``colony`` if the requester may see it, else :class:`RunNotFound` (as for a run that does
    not exist)."""
    await service_of(request).colony_info(colony, who)
    record = await runs_of(request).record(run_id)
    if record.colony != colony or (who is not None and record.owner != who):
        raise RunNotFound(f"no run {run_id!r} in colony {colony}")
    return record


# --- errors -------------------------------------------------------------------------------------------------------


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HarmonixError)
    async def harmonix_error(request: Request, error: HarmonixError) -> JSONResponse:
        return JSONResponse(error_document(error), status_code=http_status(error), headers=error_headers(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(invalid_document(error.errors()), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        status = 422 if error.status_code == 400 else error.status_code
        return JSONResponse({"error": {"type": HTTP_NAMES.get(status, "HTTPError"), "message": str(error.detail)}},
                            status_code=status, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"type": "InternalError",
                                       "message": f"internal error ({type(error).__name__}; see the server's log)"}},
                            status_code=500)

    del harmonix_error, invalid_request, http_error, unexpected


def invalid_document(problems: Any) -> dict[str, Any]:
    """A 422 body from pydantic's list of problems: where, and what."""
    parts = []
    for problem in problems:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "body"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return {"error": {"type": "InvalidRequest", "message": "; ".join(parts) or "invalid request"}}


class LimitedBody:
    """ASGI middleware: reads a request's whole body first; more than ``limit`` bytes is 413, a JSON body that is
    not UTF-8 is 422, before the application sees any of it. Then replays the body to the application."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _reply(send, 413, {"error": {"type": "RequestTooLarge",
                                                   "message": f"the body is over {self.limit} bytes"}})
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and b"json" in dict(scope.get("headers", [])).get(b"content-type", b"json"):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as error:
                await _reply(send, 422, {"error": {"type": "InvalidRequest",
                                                   "message": f"the body is not valid UTF-8 (byte {error.start})"}})
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def __getattr__(self, name: str) -> Any:  # the wrapped application's attributes (state, openapi, routes …)
        return getattr(self.app, name)


async def _reply(send: Send, status: int, document: dict[str, Any]) -> None:
    payload = json.dumps(document).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
