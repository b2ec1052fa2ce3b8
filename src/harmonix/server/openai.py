"""The OpenAI-compatible routes, so any OpenAI client or chat interface can talk to a colony.

- ``GET /v1/models``: ``harmonix`` (a whole cascade; the answer is Artist's piece) and ``harmonix-haiku``,
  ``harmonix-sonnet``, ``harmonix-prose`` (that organism's turn alone).
- ``POST /v1/chat/completions``: the prompt is the last ``user`` message (text parts joined); the rest of the
  conversation is already in the colony's fields. The colony is the ``X-Harmonix-Colony`` header, else the
  request's ``user`` field, else ``default``; a name that is not a valid colony name (an e-mail address, say) is
  mapped to ``u-`` and 16 hex digits of its SHA-256, so every user string has a colony of its own. A colony that does
  not exist yet is created for the requesting key. ``seed`` is honoured; sampling options (temperature …) are
  accepted and ignored: each organism's observer sets its own temperature.
- With ``stream: true`` the answer comes as ``chat.completion.chunk`` events when it is whole (a rejected Prose
  attempt must never reach a client as text), ``: ping`` comments meanwhile, then ``data: [DONE]``.

Errors are the server's usual ``{"error": {"type", "message"}}`` objects, a shape OpenAI clients read.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from harmonix.colony import Colony
from harmonix.config import COLONY_NAME, DEFAULT_COLONY
from harmonix.errors import CompositionFailed, InvalidArgument, OrganismNotFound
from harmonix.meta import BreathListener, StageResult
from harmonix.organisms.base import ORGANISMS
from harmonix.server.breath import AdmittedBreath
from harmonix.server.shared import ERRORS, JsonInt, Owner, service_of
from harmonix.server.streams import Failed, Finished, Outcome, WorkStream

CASCADE_MODEL = "harmonix"
ORGANISM_MODELS = {"harmonix-haiku": "haiku", "harmonix-sonnet": "sonnet", "harmonix-prose": "prose"}
MODELS = (CASCADE_MODEL, *ORGANISM_MODELS)


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: StrictStr
    content: StrictStr | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field(description=f"One of {', '.join(MODELS)}")
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    user: StrictStr | None = Field(None, description="Names the colony (see the module docstring)")
    seed: JsonInt | None = Field(None, ge=0, le=2**63 - 1)


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
    @app.get("/v1/models", response_model=ModelList, responses=ERRORS)
    async def models(request: Request, who: Owner) -> JSONResponse:
        """The models this server answers as (module docstring)."""
        created = int(time.time())
        return JSONResponse({"object": "list", "data": [
            {"id": model, "object": "model", "created": created, "owned_by": "harmonix"} for model in MODELS]})

    @app.post("/v1/chat/completions", response_model=Completion,
              responses={**ERRORS, 200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}})
    async def chat_completions(request: Request, body: ChatRequest, who: Owner,
                               x_harmonix_colony: Annotated[str | None, Header()] = None) -> Response:
        """A chat completion answered by a colony (module docstring)."""
        if body.model != CASCADE_MODEL and body.model not in ORGANISM_MODELS:
            raise OrganismNotFound(f"no model {body.model!r}; the models are {', '.join(MODELS)}")
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
            return WorkStream(lambda _: breath.run(answer), lambda outcome: _chunks(outcome, completion_id, body.model),
                              release=breath.release, ping_s=request.app.state.settings.ping_s)
        text = await breath.answer(answer)
        if text is None:
            return Response(status_code=499)
        return JSONResponse(_completion(completion_id, body.model, text, prompt))

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


def _chunks(outcome: Outcome, completion_id: str, model: str) -> bytes:
    """The whole answer as chunks (role, the text line by line, the finish), then ``[DONE]``; or the error."""
    if isinstance(outcome, Failed):
        return _data(outcome.document) + b"data: [DONE]\n\n"
    if not isinstance(outcome, Finished):
        return b""

    def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
        return _data({"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                      "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    lines = str(outcome.result).splitlines(keepends=True)
    return (chunk({"role": "assistant", "content": ""}) + b"".join(chunk({"content": line}) for line in lines)
            + chunk({}, "stop") + b"data: [DONE]\n\n")


def _data(document: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(document, ensure_ascii=False)}\n\n".encode()
