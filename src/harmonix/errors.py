"""The one error tree. Every failure a user or a caller can cause or act on has a class here, named for what
happened; all derive from :class:`HarmonixError`.

The tree groups errors by what the caller can do about them, which is what a surface needs to answer:

```
HarmonixError
├── InvalidInput (ValueError)        the request itself is wrong: fix it and ask again
│   ├── InvalidText                  a prompt or text: empty, too long, binary, invalid Unicode, no words
│   ├── InvalidArgument              any other argument out of its documented range
│   ├── InvalidConfiguration         a setting (flag or environment variable), named with its accepted range
│   └── Unsupported                  a well-formed option Harmonix does not do (an OpenAI ``n`` of 2, tools …)
├── NotFound (LookupError)           what was named does not exist
│   ├── ColonyNotFound
│   ├── FieldNotFound
│   ├── OrganismNotFound
│   ├── CascadeNotFound              a colony's breath by its number (never recorded, or forgotten)
│   ├── RunNotFound                  a run by its id (never started, or no longer kept)
│   └── ModelMissing                 a model file (the LLM's GGUF, Sonnet's weights)
├── ColonyExists                     a colony of that name is already there
├── ColonyBusy                       the colony is breathing: it cannot be removed now
│   └── BreathInProgress             … nor take a second message that asked to be refused meanwhile
├── StoreUnavailable                 the home or the database cannot be used (read-only, missing, refused)
├── ServiceBusy                      a server's bound on waiting requests is reached: try again after a while
├── DeadlineExceeded                 a request ran past its deadline; what it had not committed was rolled back
├── NotReady                         a server is still loading its engines
├── Unauthorized                     no API key, or one the server does not know
├── ServerUnreachable                a Harmonix server that does not answer (``--server``)
├── FieldError                       a field could not do what was asked; the field is unchanged
│   ├── FieldClosed, FieldReentry, FieldVersionError, FieldMismatch, OperationAbandoned
│   ├── FieldBusy                    another writer held the field past the lock timeout
│   └── FieldWriteFailed             the disk refused the write (full, a file-size limit, an I/O error)
├── LLMError                         an LLM call failed; nothing it produced is kept
│   ├── LLMUnavailable               the model or server could not be used, or went away mid-answer
│   │   └── LLMUnreachable           the configured server does not answer at all
│   ├── LLMRequestError              the server refused the request (4xx other than 429)
│   ├── LLMTimeout                   the answer took longer than its timeout; generation was stopped
│   └── LLMBusy                      every slot busy and the waiting queue full
└── CompositionFailed                an organism could not make a reply it may keep (nothing was stored)
```

How each class maps to an exit status and an HTTP status lives in one table, :mod:`harmonix.documents`.
"""

from __future__ import annotations


class HarmonixError(Exception):
    """Base of every error Harmonix raises on purpose."""


# --- the request is wrong -------------------------------------------------------------------------------------------


class InvalidInput(HarmonixError, ValueError):
    """The request itself is wrong; nothing was changed."""


class InvalidText(InvalidInput):
    """A text was rejected before it touched any field: empty, too long, binary, invalid Unicode, no words."""


class InvalidArgument(InvalidInput):
    """An argument other than a text is out of its documented range (a source name, metadata, a limit)."""


class Unsupported(InvalidInput):
    """A well-formed request option that Harmonix does not do (an OpenAI client asking for two choices, tools or
    log-probabilities); ``param`` names the option."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class InvalidConfiguration(InvalidInput):
    """A setting is out of range. The message names the flag or environment variable and what it accepts."""


# --- what was named is not there ------------------------------------------------------------------------------------


class NotFound(HarmonixError, LookupError):
    """What was named does not exist."""


class ColonyNotFound(NotFound):
    """No colony of that name (or none that the caller may see)."""


class FieldNotFound(NotFound):
    """No field of that name in the colony."""


class OrganismNotFound(NotFound):
    """No organism of that name."""


class RunNotFound(NotFound):
    """No run of that id in the colony (never started here, or no longer kept)."""


class CascadeNotFound(NotFound):
    """No breath of that number in the colony: it was never recorded, or it has been forgotten."""


class ModelMissing(NotFound, FileNotFoundError):
    """No model file where one was expected (the LLM's GGUF file, Sonnet's weights)."""


class ColonyExists(HarmonixError):
    """A colony of that name already exists."""


class ColonyBusy(HarmonixError):
    """The colony has breaths in flight, so it cannot be removed now."""


class BreathInProgress(ColonyBusy):
    """A request asked to be refused while the colony is breathing (``multitask: "reject"``), and it is: ``run``
    names the run in progress."""

    def __init__(self, message: str, run: str) -> None:
        super().__init__(message)
        self.run = run


class ServiceBusy(HarmonixError):
    """Admission is bounded: every slot for this kind of request is taken and its waiting line is full. Nothing was
    started; ``retry_after_s`` estimates when trying again is worth it."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeadlineExceeded(HarmonixError, TimeoutError):
    """The request ran past its deadline and was cancelled: turns that had not committed were rolled back."""


class NotReady(HarmonixError):
    """The server is still loading its engines."""


class Unauthorized(HarmonixError):
    """No API key was given, or one the server does not know."""


class ServerUnreachable(HarmonixError):
    """The Harmonix server named with ``--server`` does not answer."""


class StoreUnavailable(HarmonixError):
    """Where fields live cannot be used: a home that cannot be created or written, a database that refuses."""


# --- fields ---------------------------------------------------------------------------------------------------------


class FieldError(HarmonixError):
    """A field could not do what was asked; the field is unchanged."""


class FieldClosed(FieldError):
    """The field was used outside its ``async with`` block."""


class FieldReentry(FieldError, RuntimeError):
    """A task that holds a field's lock asked for it again, which would deadlock.

    Inside ``async with field.turn() as turn`` use the turn's own methods, not the field's.
    """


class FieldVersionError(FieldError):
    """The field was written by a newer Harmonix (its schema version is unknown to this one)."""


class FieldMismatch(FieldError):
    """The storage belongs to another field (another organism's memory)."""


class OperationAbandoned(FieldError):
    """The awaiting task was cancelled before the operation committed; its transaction was rolled back."""


class FieldBusy(FieldError):
    """Another writer (another process) held the field longer than the lock timeout; nothing was changed."""


class FieldWriteFailed(FieldError):
    """The disk refused the field's write: it is full, the process is over its file-size limit, or the device
    reported an I/O error. The transaction was rolled back, so the field is as it was before."""


# --- the LLM --------------------------------------------------------------------------------------------------------


class LLMError(HarmonixError):
    """An LLM call failed; nothing it produced is returned."""


class LLMUnavailable(LLMError):
    """The model or server could not be used, or went away during the answer."""


class LLMUnreachable(LLMUnavailable):
    """The configured OpenAI-compatible server does not answer at all (checked when the engine opens)."""


class LLMRequestError(LLMError):
    """The server refused the request (a 4xx answer other than 429): retrying would not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class LLMTimeout(LLMError, TimeoutError):
    """The call took longer than its timeout; the generation was stopped."""


class LLMBusy(LLMError):
    """Every slot is busy and the waiting queue is full."""


# --- organisms ------------------------------------------------------------------------------------------------------


class CompositionFailed(HarmonixError):
    """An organism could not make a reply it may keep (no 5-7-5 path, no line, every attempt rejected).

    Nothing was stored: the turn that raised it was rolled back."""
