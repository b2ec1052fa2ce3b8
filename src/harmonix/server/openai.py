"""The OpenAI-compatible routes, so any OpenAI client or chat interface can talk to a colony.

- ``GET /v1/models``: ``harmonix`` (a whole cascade; the answer is Artist's piece) and ``harmonix-haiku``,
  ``harmonix-sonnet``, ``harmonix-prose`` (that organism's turn alone).
- ``POST /v1/chat/completions``: the prompt is the last ``user`` message (text parts joined); the rest of the
  conversation is already in the colony's fields. The colony is the ``X-Harmonix-Colony`` header, else the
  request's ``user`` field, else ``default``; a name that is not a valid colony name (an e-mail address, say) is
  mapped to ``u-`` and 16 hex digits of its SHA-256, so every user string has a colony of its own. A colony that does
  not exist yet is created for the requesting key.
- With ``stream: true`` the answer comes as ``chat.completion.chunk`` events as the organism settles it: Prose's
  paragraph sentence by sentence, each the moment it ends and passes the guards, Artist's piece span by span as its
  lines are judged (:class:`~harmonix.meta.SettledEvent`); a rejected attempt never reaches a client, since text
  once sent cannot be taken back. HAiKU and Sonnet, which write their text whole, send it line by line when it is
  done; what settles only at the end comes last; ``: ping`` comments go out meanwhile, then ``data: [DONE]``. With
  ``stream_options: {"include_usage": true}`` every chunk carries ``"usage": null`` and one last chunk, with no
  choices, carries the usage, as OpenAI's API does.

**The request's options.** Unknown fields are accepted and ignored, so a client that sends a newer option still
talks to a colony. Of OpenAI's documented options:

- honoured: ``model``, ``messages``, ``stream``, ``stream_options.include_usage``, ``user`` (the colony), ``seed``
  (the same seed on the same fields gives the same answer);
- accepted and ignored, by design: the sampling options (``temperature``, ``top_p``, ``max_tokens``,
  ``max_completion_tokens``, ``presence_penalty``, ``frequency_penalty``, ``stop``, ``logit_bias``): each organism's
  observer sets its own temperature from the prompt's dissonance, and its form sets its length;
- refused with 400 (:class:`~harmonix.errors.Unsupported`, ``param`` naming the option): ``n`` other than 1 (a
  colony answers once per breath), ``tools``, ``functions`` and a ``tool_choice`` other than ``"none"`` (the
  organisms call no tools), a ``response_format`` other than ``text``, ``logprobs`` (no organism exposes them), and
  ``stream_options`` without ``stream``.

**Errors** on these routes come in OpenAI's envelope, ``{"error": {"message", "type", "param", "code"}}``: ``type``
is OpenAI's kind (``invalid_request_error``, ``authentication_error``, ``rate_limit_error``, ``server_error``),
``code`` the Harmonix error in snake case (``model_not_found`` for an unknown model), ``param`` the request field at
fault or ``null``; the statuses are the server's usual ones (:mod:`harmonix.documents`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from harmonix.colony import Colony
from harmonix.config import COLONY_NAME, DEFAULT_COLONY
from harmonix.documents import http_status
from harmonix.errors import CompositionFailed, HarmonixError, InvalidArgument, OrganismNotFound, Unsupported
from harmonix.meta import BreathListener, SettledEvent, StageResult
from harmonix.organisms.base import ORGANISMS, SYNTHESIS
from harmonix.server.breath import AdmittedBreath
from harmonix.server.shared import JsonInt, Owner, error_headers, service_of
from harmonix.server.streams import Failed, Outcome, Progress, WorkStream

log = logging.getLogger(__name__)
CASCADE_MODEL = "harmonix"
ORGANISM_MODELS = {"harmonix-haiku": "haiku", "harmonix-sonnet": "sonnet", "harmonix-prose": "prose"}
MODELS = (CASCADE_MODEL, *ORGANISM_MODELS)
ERROR_KINDS = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
ERROR_CODES = {"OrganismNotFound": "model_not_found", "Unauthorized": "invalid_api_key",
               "ServiceBusy": "rate_limit_exceeded"}


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: StrictStr
    content: StrictStr | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: StrictBool = False


class ChatRequest(BaseModel):
    """A chat completion request (the options of the module docstring)."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field(description=f"One of {', '.join(MODELS)}")
    messages: list[Message] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    user: StrictStr | None = Field(None, description="Names the colony (see the module docstring)")
    seed: JsonInt | None = Field(None, ge=0, le=2**63 - 1)
    n: JsonInt | None = Field(None, description="1 only: a colony answers once per breath")
    tools: list[Any] | None = Field(None, description="Refused when not empty: the organisms call no tools")
    functions: list[Any] | None = Field(None, description="Refused when not empty, as tools")
    tool_choice: Any = Field(None, description='Refused unless "none"')
    response_format: dict[str, Any] | None = Field(None, description='Only {"type": "text"}')
    logprobs: StrictBool | None = Field(None, description="Refused when true")

    def refuse_unsupported(self) -> None:
        """Raise :class:`~harmonix.errors.Unsupported` for the first documented option this server cannot honour
        (module docstring)."""
        if self.n is not None and self.n != 1:
            raise Unsupported(f"n must be 1: a colony answers once per breath (got {self.n})", "n")
        for name in ("tools", "functions"):
            if getattr(self, name):
                raise Unsupported(f"{name}: the organisms call no tools", name)
        if self.tool_choice not in (None, "none"):
            raise Unsupported("tool_choice: the organisms call no tools; only \"none\" is accepted", "tool_choice")
        if self.response_format is not None and self.response_format.get("type", "text") != "text":
            raise Unsupported("response_format: the organisms write plain text; only {\"type\": \"text\"} is "
                              "accepted", "response_format")
        if self.logprobs:
            raise Unsupported("logprobs: no organism exposes its log-probabilities", "logprobs")
        if self.stream_options is not None and not self.stream:
            raise Unsupported("stream_options is only allowed with stream: true", "stream_options")

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class ModelCard(BaseModel):
    id: str
    object: str
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: str
    data: list[ModelCard]


class Completion(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: str
    created: int
    model: str
    choices: list[dict[str, Any]]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    error: OpenAIErrorBody


OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIError} for status in (400, 401, 404, 413, 422, 429, 500, 503, 504)}


def openai_error(message: str, status: int, name: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope (module docstring) for an error of class ``name`` answered with ``status``."""
    kind = ERROR_KINDS.get(status, "server_error" if status >= 500 else "invalid_request_error")
    code = ERROR_CODES.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_error_of(error: HarmonixError) -> dict[str, Any]:
    return openai_error(str(error) or type(error).__name__, http_status(error), type(error).__name__,
                        error.param if isinstance(error, Unsupported) else None)


class OpenAIRoute(APIRoute):
    """A route that answers every error in OpenAI's envelope (module docstring) instead of the server's own."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as error:
                problems = list(error.errors())
                where = [str(part) for part in (problems[0].get("loc", ()) if problems else ()) if part != "body"]
                message = "; ".join(f"{'.'.join(str(p) for p in problem.get('loc', ()) if p != 'body') or 'body'}: "
                                    f"{problem.get('msg', 'invalid')}" for problem in problems)
                return JSONResponse(openai_error(message or "invalid request", 422, "InvalidRequest",
                                                 ".".join(where) or None), status_code=422)
            except HarmonixError as error:
                return JSONResponse(openai_error_of(error), status_code=http_status(error),
                                    headers=error_headers(error))

        return route


def colony_for(header: str | None, user: str | None) -> str:
    """The colony a chat request speaks to (module docstring)."""
    chosen = (header or user or DEFAULT_COLONY).strip()
    if COLONY_NAME.fullmatch(chosen):
        return chosen
    return "u-" + hashlib.sha256(chosen.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]


def prompt_of(messages: list[Message]) -> str:
    """The last user message's text (a list of content parts: their ``text`` parts joined by newlines)."""
    for message in reversed(messages):
        if message.role != "user":
            continue
        if isinstance(message.content, str):
            return message.content
        if isinstance(message.content, list):
            return "\n".join(str(part.get("text", "")) for part in message.content if part.get("type") == "text")
    raise InvalidArgument("the conversation holds no user message to answer")


def install_openai_routes(app: FastAPI) -> None:
    router = APIRouter(route_class=OpenAIRoute)

    @router.get("/v1/models", response_model=ModelList, responses=OPENAI_ERRORS)
    async def models(request: Request, who: Owner) -> JSONResponse:
        """The models this server answers as (module docstring)."""
        created = int(time.time())
        return JSONResponse({"object": "list", "data": [
            {"id": model, "object": "model", "created": created, "owned_by": "harmonix"} for model in MODELS]})

    @router.post("/v1/chat/completions", response_model=Completion,
                 responses={**OPENAI_ERRORS, 200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}})
    async def chat_completions(request: Request, body: ChatRequest, who: Owner,
                               x_harmonix_colony: Annotated[str | None, Header()] = None) -> Response:
        """A chat completion answered by a colony (module docstring)."""
        if body.model != CASCADE_MODEL and body.model not in ORGANISM_MODELS:
            raise OrganismNotFound(f"no model {body.model!r}; the models are {', '.join(MODELS)}")
        body.refuse_unsupported()
        prompt = prompt_of(body.messages)
        colony = colony_for(x_harmonix_colony, body.user)
        await service_of(request).ensure(colony, who)
        organism = ORGANISM_MODELS.get(body.model)
        breath = await AdmittedBreath.admit(request, "cascade" if organism is None else "turn", colony, who, prompt,
                                            ORGANISMS if organism is None else (organism,))
        completion_id = f"chatcmpl-{colony}-{time.time_ns()}"

        async def answer(opened: Colony, listener: BreathListener) -> str:
            if organism is None:
                return _text((await opened.cascade(prompt, seed=body.seed, listener=listener)).artist)
            return _text(await opened.turn(organism, prompt, seed=body.seed, listener=listener))

        if body.stream:
            chunks = Chunks(completion_id, body.model, prompt, body.include_usage, organism or SYNTHESIS)
            return WorkStream(lambda emit: breath.run(answer, emit), chunks.render, release=breath.release,
                              ping_s=request.app.state.settings.ping_s)
        text = await breath.answer(answer)
        if text is None:
            return Response(status_code=499)
        return JSONResponse(_completion(completion_id, body.model, text, prompt))

    app.include_router(router)
    del models, chat_completions


def _text(stage: StageResult) -> str:
    if stage.text is None:
        why = f": {stage.error.type}: {stage.error.message}" if stage.error else ""
        raise CompositionFailed(f"{stage.name} could not answer{why}")
    return stage.text


def _usage(prompt: str, text: str) -> dict[str, int]:
    """Token counts as words (the organisms' tokenizers differ; words are what every organism shares)."""
    asked, said = len(prompt.split()), len(text.split())
    return {"prompt_tokens": asked, "completion_tokens": said, "total_tokens": asked + said}


def _completion(completion_id: str, model: str, text: str, prompt: str) -> dict[str, Any]:
    return {"id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": _usage(prompt, text)}


class Chunks:
    """A streamed answer's bytes: the role first; the answering organism's text as it settles
    (:class:`~harmonix.meta.SettledEvent`s of ``organism``), each piece a chunk; when the breath is done, what had not
    settled, line by line, and the finish; with ``include_usage`` a last chunk with the usage and no choices; then
    ``[DONE]``. An error ends the stream in OpenAI's envelope."""

    def __init__(self, completion_id: str, model: str, prompt: str, include_usage: bool, organism: str) -> None:
        self._id, self._model, self._prompt, self._include_usage = completion_id, model, prompt, include_usage
        self._organism = organism
        self._sent = ""
        self._begun = False

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        chunk: dict[str, Any] = {"id": self._id, "object": "chat.completion.chunk", "created": int(time.time()),
                                 "model": self._model, "choices": choices}
        if self._include_usage:
            chunk["usage"] = usage
        return _data(chunk)

    def _delta(self, delta: dict[str, str], finish: str | None = None) -> bytes:
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": finish}])

    def _content(self, text: str) -> bytes:
        """``text`` as the next piece of the answer (the role before the first)."""
        begin = b"" if self._begun else self._delta({"role": "assistant", "content": ""})
        self._begun = True
        self._sent += text
        return begin + (self._delta({"content": text}) if text else b"")

    def render(self, outcome: Outcome) -> bytes:
        if isinstance(outcome, Failed):
            error = outcome.document["error"]
            return _data(openai_error(error["message"], outcome.status, error["type"])) + b"data: [DONE]\n\n"
        if isinstance(outcome, Progress):
            event = outcome.item
            if isinstance(event, SettledEvent) and event.organism == self._organism:
                return self._content(event.text)
            return b""
        text = str(outcome.result)
        if not text.startswith(self._sent):  # a settled piece is the start of the text, always (tested)
            log.error("the %s stream sent %r, which does not begin its answer %r", self._organism, self._sent, text)
        rest = text[len(self._sent):] if text.startswith(self._sent) else ""
        body = b"".join(self._content(line) for line in rest.splitlines(keepends=True)) or self._content("")
        usage = self._chunk([], _usage(self._prompt, text)) if self._include_usage else b""
        return body + self._delta({}, "stop") + usage + b"data: [DONE]\n\n"


def _data(document: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(document, ensure_ascii=False)}\n\n".encode()
