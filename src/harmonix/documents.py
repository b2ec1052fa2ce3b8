"""The one place that shapes results into documents and errors into statuses, for every surface.

A *document* is a plain JSON object: what ``--json`` prints and what the server sends. The CLI and the server build
them here, so a cascade, a stage, a field's stats, a colony and an error look the same wherever they are read.

Errors map to an exit status (CLI) and an HTTP status (server) through one table, :data:`STATUSES`: the first row
whose class the error is an instance of decides. Exit status 2 means "the request or the configuration is wrong: fix
it and ask again"; 1 means "it failed while running". An error document is ``{"error": {"type", "message"}}``, with
the error's class name as its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harmonix import errors
from harmonix.colony import ForgottenBreath
from harmonix.errors import (
    ColonyBusy,
    ColonyExists,
    CompositionFailed,
    DeadlineExceeded,
    FieldBusy,
    FieldError,
    FieldWriteFailed,
    HarmonixError,
    InvalidInput,
    LLMBusy,
    LLMError,
    LLMRequestError,
    LLMTimeout,
    LLMUnreachable,
    ModelMissing,
    NotFound,
    NotReady,
    ServerUnreachable,
    ServiceBusy,
    StoreUnavailable,
    Unauthorized,
    Unsupported,
)
from harmonix.field import ColonyInfo, FieldStats
from harmonix.meta import (
    BreathEvent,
    CascadeResult,
    MetaEvent,
    SettledEvent,
    StageError,
    StageEvent,
    StageResult,
    TokenEvent,
)
from harmonix.organisms.base import SYNTHESIS, plain

STATUSES: tuple[tuple[type[BaseException], int, int], ...] = (
    # (error class, exit status, HTTP status); the first row that matches wins, so specific classes come first.
    (LLMUnreachable, 2, 502),
    (ModelMissing, 2, 503),
    (Unsupported, 2, 400),
    (InvalidInput, 2, 422),
    (NotFound, 2, 404),
    (ColonyExists, 2, 409),
    (ColonyBusy, 1, 409),
    (Unauthorized, 2, 401),
    (ServerUnreachable, 2, 502),
    (StoreUnavailable, 2, 503),
    (ServiceBusy, 1, 429),
    (NotReady, 1, 503),
    (DeadlineExceeded, 1, 504),
    (FieldBusy, 1, 503),
    (FieldWriteFailed, 1, 507),
    (LLMBusy, 1, 503),
    (LLMTimeout, 1, 504),
    (LLMRequestError, 1, 502),
    (LLMError, 1, 502),
    (CompositionFailed, 1, 500),
    (FieldError, 1, 500),
    (HarmonixError, 1, 500),
)
UNEXPECTED = (1, 500)


def _row(error_type: type[BaseException]) -> tuple[int, int]:
    for cls, exit_status, http_status in STATUSES:
        if issubclass(error_type, cls):
            return exit_status, http_status
    return UNEXPECTED


def exit_status(error: BaseException) -> int:
    """The CLI's exit status for ``error``."""
    return _row(type(error))[0]


def http_status(error: BaseException | StageError) -> int:
    """The HTTP status for ``error``, or for a stage's error by its type name (an unknown name: 500)."""
    if isinstance(error, StageError):
        cls = getattr(errors, error.type, None)
        return _row(cls)[1] if isinstance(cls, type) and issubclass(cls, BaseException) else UNEXPECTED[1]
    return _row(type(error))[1]


def error_document(error: BaseException) -> dict[str, Any]:
    """``{"error": {"type": class name, "message": text}}``."""
    return {"error": {"type": type(error).__name__, "message": str(error) or type(error).__name__}}


def stage_document(stage: StageResult) -> dict[str, Any]:
    """One organism's part of a cascade (or one organism's turn): its text or its error, seconds, dissonance,
    and the reply's own details (form, temperature, seed, provenance …)."""
    details = stage.reply.details() if stage.reply is not None else {}
    return {"organism": stage.name, "text": stage.text, "error": None if stage.error is None else plain(stage.error),
            "seconds": stage.seconds, "dissonance": stage.dissonance, **details}


def cascade_document(result: CascadeResult) -> dict[str, Any]:
    """A whole breath: prompt, seed, each organism's stage, the meta result, timings."""
    document: dict[str, Any] = {"prompt": result.prompt, "seed": result.seed, "sequential": result.sequential}
    for stage in result.stages:
        document[stage.name] = stage_document(stage)
    document["meta"] = plain(result.meta)
    document["timings"] = dict(result.timings)
    document["cascade"] = result.id
    return document


def event_document(event: BreathEvent, *, cascade: bool) -> tuple[str, dict[str, Any]]:
    """A breath's event as its name and data: ``token`` (organism, attempt, text), ``settled`` (organism, text: a
    piece of its reply that stands), ``stage`` (a stage document; in a cascade Artist's is named ``artist``),
    ``meta`` (the meta result and the cascade's id)."""
    match event:
        case TokenEvent(organism=organism, attempt=attempt, text=text):
            return "token", {"organism": organism, "attempt": attempt, "text": text}
        case SettledEvent(organism=organism, text=text):
            return "settled", {"organism": organism, "text": text}
        case StageEvent(stage=stage):
            return ("artist" if cascade and stage.name == SYNTHESIS else "stage"), stage_document(stage)
        case MetaEvent(meta=meta, cascade_id=cascade_id):
            return "meta", {**plain(meta), "cascade": cascade_id}
    raise TypeError(f"unknown breath event {event!r}")


def done_document(result: CascadeResult) -> dict[str, Any]:
    """The end of a breath: its id, seed and timings."""
    return {"cascade": result.id, "seed": result.seed, "timings": dict(result.timings)}


def field_stats_document(stats: FieldStats, *, location: bool = False) -> dict[str, Any]:
    """A field's identity and sizes; where it is stored (a path of the machine that holds it) only with
    ``location``, for a user on that machine: a server's clients are never shown it."""
    document = plain(stats)
    if not location:
        del document["location"]
    return document


def forgotten_document(forgotten: ForgottenBreath) -> dict[str, Any]:
    """What forgetting a breath removed: ``{"cascade": id, "fields": {name: {"texts", "disturbances", "turns"}}}``
    (rows removed from each field)."""
    return {"cascade": forgotten.cascade, "fields": {name: plain(rows) for name, rows in forgotten.fields.items()}}


def colony_document(info: ColonyInfo, fields: Mapping[str, FieldStats] | None = None) -> dict[str, Any]:
    """A colony (its owner is never shown: it is a hash only the server compares), with its fields' stats when
    given."""
    document: dict[str, Any] = {"id": info.name, "name": info.name, "created": info.created,
                                "forked_from": info.forked_from}
    if fields is not None:
        document["fields"] = {name: field_stats_document(stats) for name, stats in fields.items()}
    return document
