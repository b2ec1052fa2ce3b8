"""``harmonix bench threads``: what ``asyncio.to_thread`` costs per call, for the two kinds of work Harmonix hands
to threads (the seeds' open question: "benchmark asyncio.to_thread overhead; if > 10 %, consider a process pool").

**Why it matters.** The event loop must stay free while an organism computes, so every stage's generation runs in a
worker thread (Sonnet's composition with ``asyncio.to_thread``, llama.cpp in the engine's executor). A hop costs a
submission to the pool, a wake-up of a worker, and a wake-up of the loop when the result is ready; under load the
worker also waits for the GIL and for a core. If that cost were a sizeable share of the work, a process pool (no
shared GIL, but pickling and a process per worker) would be the alternative.

**The work**, at its finest grain, so the figure is an upper bound for any real stage (a stage makes one hop for
many units: a Sonnet composition is hundreds of forward steps in one ``to_thread`` call):

- ``numpy``: one forward step of Sonnet's engine (:meth:`Charformer.extend` of one character for ``LINE_BATCH``
  rows, the batch Sonnet samples lines in, on a warm KV cache), BLAS on one thread as Sonnet runs it;
- ``llama``: one in-process llama.cpp chat completion of ``tokens`` tokens (end-of-sequence ignored) on the
  embedded model (or ``--model``), one llama.cpp thread, called on llama.cpp's own server object as
  ``harmonix bench llm`` calls it.

**Arms**, per kind and repeat: ``calls`` calls one after another, made *directly* on the event loop's thread, and
the same through ``await asyncio.to_thread(...)``; seconds per call. *Alone*: nothing else runs. *Contended*:
``contenders`` plain threads make the same kind of work over and over meanwhile (other cascades' stages in a busy
server; they start before the timing, each having finished one call, and stop after it), so both arms meet the same
competition for the GIL and the cores. The two arms alternate order from repeat to repeat.

**Figures**, per kind and setting: ``ratio = seconds per call through to_thread / seconds per call directly``, the
median over repeats of the per-repeat ratio (paired: the host's drift cancels), with its range, and ``overhead_us``
= the median of the per-repeat differences in microseconds. ``worst_ratio`` is the largest median ratio: the hop
against the smallest unit of work, an upper bound no stage reaches.

**Against a stage**, which is what the seeds' threshold is about: a stage makes one hop. ``stage_ms`` is one
stage's work called directly: for ``numpy`` a whole Sonnet composition (:func:`harmonix.organisms.sonnet.compose`,
median of ``repeats``), for ``llama`` the measured completion itself (a Prose or Artist answer is several times
longer, so this overstates the share). ``stage_share = max(overhead_us alone, contended) / stage_us``;
``process_pool_needed`` is whether any kind's ``stage_share`` exceeds :data:`THRESHOLD`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from harmonix.engines.llm import LlamaCppEngine, LlamaCppSettings, Sampling, embedded_model_path
from harmonix.lab.bench.timing import median, paired_ratios, span
from harmonix.organisms.sonnet import LINE_BATCH, compose, load_engine, load_model, packaged_model_dir
from harmonix.progress import NO_PROGRESS, Progress

THRESHOLD = 0.10
"""The share of a stage above which the seeds asked to consider a process pool."""
PROMPT = "Shall the sea remember what the night\n"
MESSAGES = [{"role": "user", "content": "Write one quiet sentence about a kettle."}]

Work = Callable[[], object]


@dataclass(frozen=True, slots=True)
class Setting:
    """One kind of work in one setting (alone or contended): seconds per call both ways, and what the hop adds."""

    direct_ms: float
    thread_ms: float
    ratio: float
    ratio_range: tuple[float, float]
    overhead_us: float


@dataclass(frozen=True, slots=True)
class Kind:
    alone: Setting
    contended: Setting
    stage_ms: float
    stage_share: float


@dataclass(frozen=True, slots=True)
class ThreadsBench:
    repeats: int
    calls: int
    contenders: int
    tokens: int
    numpy: Kind
    llama: Kind
    worst_ratio: float
    worst_stage_share: float
    threshold: float
    process_pool_needed: bool


def numpy_work() -> Work:
    """A maker of Sonnet forward steps (module docstring): each call feeds one character to ``LINE_BATCH`` rows at
    the same position of a cache warmed with :data:`PROMPT`, so every call does the same work. Each maker has its own
    cache: contenders must not share one."""
    model = load_model(packaged_model_dir())
    prompt = np.array([model.encode(PROMPT)] * LINE_BATCH)
    cache = model.new_cache(LINE_BATCH)
    model.extend(cache, prompt)
    step = np.full((LINE_BATCH, 1), prompt[0, -1])

    def forward_step() -> object:
        cache.length = prompt.shape[1]
        return model.extend(cache, step)

    return forward_step


def llama_work(engine: LlamaCppEngine, tokens: int) -> Work:
    """One llama.cpp chat completion of ``tokens`` tokens, straight on the engine's llama.cpp server (module
    docstring)."""
    request: dict[str, Any] = {"messages": MESSAGES, **Sampling(max_tokens=tokens, temperature=0.8, seed=1,
                                                                extra={"ignore_eos": True}).request(llamacpp=True)}

    def completion() -> object:
        return engine._server.handle_chat_completions(request)  # llama.cpp's own call, on purpose: the work itself

    return completion


@contextlib.contextmanager
def contenders(make: Callable[[], Work], count: int) -> Iterator[None]:
    """``count`` threads making ``make()``'s work over and over for the block; the block starts once each has
    finished one call (so all are in their stride), and ends with them stopped and joined."""
    stop = threading.Event()
    warm = threading.Semaphore(0)
    failures: list[BaseException] = []

    def contend() -> None:
        try:
            work = make()
            work()
            warm.release()
            while not stop.is_set():
                work()
        except BaseException as error:  # reported by the block's end; the timing must not wait for it forever
            failures.append(error)
            warm.release()

    threads = [threading.Thread(target=contend, name=f"harmonix-contender-{k}", daemon=True) for k in range(count)]
    for thread in threads:
        thread.start()
    for _ in threads:
        warm.acquire()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if failures:
        raise RuntimeError(f"a contender failed: {failures[0]!r}") from failures[0]


async def seconds_per_call(work: Work, calls: int, *, through_thread: bool) -> float:
    """Wall seconds per call of ``calls`` calls of ``work``, one after another, directly or through to_thread."""
    started = time.perf_counter()
    for _ in range(calls):
        if through_thread:
            await asyncio.to_thread(work)
        else:
            work()
    return (time.perf_counter() - started) / calls


def composition_ms(repeats: int) -> float:
    """Milliseconds of one whole Sonnet composition called directly (median of ``repeats``): the ``numpy`` stage."""
    engine = load_engine()
    times = []
    for repeat in range(repeats):
        started = time.perf_counter()
        compose(engine.model, engine.copy_filter, engine.rhymes, PROMPT, 1.0, np.random.default_rng(repeat))
        times.append((time.perf_counter() - started) * 1e3)
    return median(times)


async def measure(make: Callable[[], Work], repeats: int, calls: int, contending: int,
                  stage_ms: float | None) -> Kind:
    """Both arms, alone and contended, ``repeats`` times each (module docstring); ``stage_ms`` is the kind's stage,
    ``None`` for the unit itself (its median direct time alone)."""
    work = make()
    work()  # warm: first-call costs (allocations, caches) belong to neither arm
    samples: dict[str, dict[bool, list[float]]] = {"alone": {False: [], True: []}, "contended": {False: [], True: []}}

    async def both_arms(setting: str, repeat: int) -> None:
        for through_thread in ((False, True) if repeat % 2 == 0 else (True, False)):
            samples[setting][through_thread].append(await seconds_per_call(work, calls,
                                                                           through_thread=through_thread))

    for repeat in range(repeats):
        await both_arms("alone", repeat)
    with contenders(make, contending):
        for repeat in range(repeats):
            await both_arms("contended", repeat)
    settings = {}
    for setting, arms in samples.items():
        direct, threaded = arms[False], arms[True]
        ratios = paired_ratios(threaded, direct)
        settings[setting] = Setting(direct_ms=median(direct) * 1e3, thread_ms=median(threaded) * 1e3,
                                    ratio=median(ratios), ratio_range=span(ratios),
                                    overhead_us=median([(t - d) * 1e6 for t, d in zip(threaded, direct, strict=True)]))
    alone, contended = settings["alone"], settings["contended"]
    stage = alone.direct_ms if stage_ms is None else stage_ms
    return Kind(alone=alone, contended=contended, stage_ms=stage,
                stage_share=max(alone.overhead_us, contended.overhead_us) / (stage * 1e3))


@contextlib.asynccontextmanager
async def one_thread_each(contending: int, model: Path | None) -> AsyncIterator[LlamaCppEngine]:
    """The llama.cpp engine, with a slot for the caller and each contender and one llama.cpp thread, as the tests
    run it (more threads than cores would make llama.cpp's spinning workers the contention being measured)."""
    settings = LlamaCppSettings(model or embedded_model_path(), n_parallel=contending + 1, threads=1)
    async with LlamaCppEngine.open(settings) as engine:
        yield engine


async def _run(repeats: int, calls: int, contending: int, tokens: int, model: Path | None,
               progress: Progress) -> ThreadsBench:
    with progress.task("bench threads", 2) as task:
        with threadpool_limits(limits=1, user_api="blas"):
            numpy_kind = await measure(numpy_work, repeats, calls, contending, composition_ms(repeats))
        task.advance(figure=f"numpy x{numpy_kind.alone.ratio:.3f}")
        async with one_thread_each(contending, model) as engine:
            llama_kind = await measure(lambda: llama_work(engine, tokens), repeats, calls, contending, None)
        task.advance(figure=f"llama x{llama_kind.alone.ratio:.3f}")
    kinds = (numpy_kind, llama_kind)
    worst = max(setting.ratio for kind in kinds for setting in (kind.alone, kind.contended))
    share = max(kind.stage_share for kind in kinds)
    return ThreadsBench(repeats=repeats, calls=calls, contenders=contending, tokens=tokens, numpy=numpy_kind,
                        llama=llama_kind, worst_ratio=worst, worst_stage_share=share, threshold=THRESHOLD,
                        process_pool_needed=share > THRESHOLD)


def run_threads_bench(repeats: int = 5, calls: int = 20, contenders: int = 3, tokens: int = 16,
                      model: Path | None = None, progress: Progress = NO_PROGRESS) -> ThreadsBench:
    """The benchmark of the module docstring."""
    return asyncio.run(_run(repeats, calls, contenders, tokens, model, progress))
