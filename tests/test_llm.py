"""The LLM engines against real components: the embedded model in-process, llama.cpp's own OpenAI-compatible HTTP
server, a server process killed mid-answer, and a scripted server for the retry paths."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from harmonix.config import LLMChoice
from harmonix.engines.llm import (
    EnginePool,
    Generation,
    LlamaCppEngine,
    LlamaCppSettings,
    OpenAIEngine,
    OpenAISettings,
    Replicas,
    Sampling,
    embedded_model_path,
)
from harmonix.errors import LLMBusy, LLMRequestError, LLMTimeout, LLMUnavailable, LLMUnreachable, ModelMissing
from scripted_http import scripted_server, sse

SAY = [{"role": "user", "content": "Write one sentence about a river."}]
LONG = Sampling(max_tokens=400, temperature=0.8, seed=1, extra={"ignore_eos": True})


@pytest_asyncio.fixture
async def engine() -> AsyncIterator[LlamaCppEngine]:
    async with LlamaCppEngine.open(LlamaCppSettings(embedded_model_path(), n_parallel=2, threads=1)) as opened:
        yield opened


class TestEmbedded:
    async def test_generates_and_a_seed_reproduces_it(self, engine: LlamaCppEngine) -> None:
        sampling = Sampling(max_tokens=24, temperature=0.9, seed=7)
        first, again = await engine.chat(SAY, sampling), await engine.chat(SAY, sampling)
        other = await engine.chat(SAY, Sampling(max_tokens=24, temperature=0.9, seed=8))
        assert first.text and first.text == again.text and other.text != first.text
        assert 0 < first.tokens <= 24 and first.tokens_per_s > 0 and first.backend == "llamacpp"

    async def test_completion_and_stop_sequence(self, engine: LlamaCppEngine) -> None:
        generation = await engine.complete("One, two, three, four,", Sampling(max_tokens=30, seed=1, stop=("seven",)))
        assert "seven" not in generation.text and generation.text

    async def test_the_likeliest_next_tokens_are_reported_when_asked(self, engine: LlamaCppEngine) -> None:
        """What an organism weighs an opening word with (Prose._likeliest_opener): at each step the likeliest
        tokens with their log-probabilities, the one greedy decoding wrote first among them."""
        asked = await engine.complete("The sun rises in the", Sampling(max_tokens=2, temperature=0.0, alternatives=20))
        assert engine.reports_alternatives and len(asked.alternatives) == 2
        for step in asked.alternatives:
            assert len(step) == 20 and all(value <= 0 for value in step.values())
        first = asked.alternatives[0]
        assert asked.text.startswith(max(first, key=first.__getitem__))
        assert (await engine.complete("The sun rises in the", Sampling(max_tokens=2))).alternatives == ()

    async def test_concurrent_requests_share_the_slots(self, engine: LlamaCppEngine) -> None:
        results = await asyncio.gather(*(engine.chat(SAY, Sampling(max_tokens=16, seed=i)) for i in range(4)))
        assert all(result.text for result in results)

    @pytest.mark.serial
    async def test_timeout_stops_the_generation_and_frees_the_slot(self) -> None:
        settings = LlamaCppSettings(embedded_model_path(), n_parallel=1, threads=1)
        async with LlamaCppEngine.open(settings) as single:
            started = time.perf_counter()
            with pytest.raises(LLMTimeout):
                await single.chat(SAY, LONG, timeout=0.3)
            assert time.perf_counter() - started < 3, "stopped within a few tokens of the timeout"
            async with asyncio.timeout(20):
                assert (await single.chat(SAY, Sampling(max_tokens=8, seed=1))).text

    async def test_cancellation_frees_the_slot(self) -> None:
        settings = LlamaCppSettings(embedded_model_path(), n_parallel=1, threads=1)
        async with LlamaCppEngine.open(settings) as single:
            writing = asyncio.Event()
            task = asyncio.create_task(single.chat(SAY, LONG, on_text=lambda text: writing.set()))
            await writing.wait()  # the slot is generating: its first piece of text has arrived
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with asyncio.timeout(20):
                assert (await single.chat(SAY, Sampling(max_tokens=8, seed=1))).text

    async def test_the_queue_is_bounded(self) -> None:
        settings = LlamaCppSettings(embedded_model_path(), n_parallel=1, threads=1, max_queue=1)
        async with LlamaCppEngine.open(settings) as single:
            writing = asyncio.Event()
            running = asyncio.create_task(single.chat(SAY, LONG, on_text=lambda text: writing.set()))
            waiting = asyncio.create_task(single.chat(SAY, Sampling(max_tokens=4, seed=2)))
            await writing.wait()  # the one slot is writing, so the second request has taken the queue's one place
            with pytest.raises(LLMBusy):
                await single.chat(SAY, Sampling(max_tokens=4, seed=3))
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            assert (await waiting).text

    async def test_missing_model_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(ModelMissing):
            async with LlamaCppEngine.open(LlamaCppSettings(tmp_path / "nothing.gguf")):
                pass

    async def test_pool_shares_one_engine_per_model(self) -> None:
        choice = LLMChoice(threads=1, parallel=1)
        async with EnginePool.open() as pool:
            assert await pool.engine(choice) is await pool.engine(choice)


class TestOpenAIAgainstARealServer:
    async def test_chat_and_completions_over_http(self, engine: LlamaCppEngine) -> None:
        async with OpenAIEngine.open(OpenAISettings(engine.listening_address + "/v1")) as client:
            chat = await client.chat(SAY, Sampling(max_tokens=16, seed=3))
            completion = await client.complete("The river", Sampling(max_tokens=8, seed=3))
        assert chat.text and completion.text and chat.backend == "openai" and chat.tokens > 0

    async def test_same_answer_in_process_and_over_http(self, engine: LlamaCppEngine) -> None:
        """Same model, same sampling (the llama.cpp-only repeat penalty neutral): the same answer either way."""
        sampling = Sampling(max_tokens=16, temperature=0.7, seed=11, repeat_penalty=1.0)
        async with OpenAIEngine.open(OpenAISettings(engine.listening_address)) as client:
            assert (await client.chat(SAY, sampling)).text == (await engine.chat(SAY, sampling)).text

    async def test_the_same_alternatives_in_process_and_over_http(self, engine: LlamaCppEngine) -> None:
        sampling = Sampling(max_tokens=1, temperature=0.0, alternatives=5)
        async with OpenAIEngine.open(OpenAISettings(engine.listening_address)) as client:
            over_http = await client.complete("The river runs to the", sampling)
        assert not client.reports_alternatives, "an organism does not ask a server it does not know"
        assert over_http.alternatives == (await engine.complete("The river runs to the", sampling)).alternatives
        assert len(over_http.alternatives) == 1 and len(over_http.alternatives[0]) == 5

    async def test_a_bad_request_is_a_clear_error_not_a_retry(self, engine: LlamaCppEngine) -> None:
        async with OpenAIEngine.open(OpenAISettings(engine.listening_address)) as client:
            with pytest.raises(LLMRequestError) as error:
                await client.chat([{"role": "user"}], Sampling(max_tokens=4, seed=1))  # a message with no content
        assert error.value.status == 400 and "content" in str(error.value)

    async def test_timeout(self, engine: LlamaCppEngine) -> None:
        async with OpenAIEngine.open(OpenAISettings(engine.listening_address)) as client:
            with pytest.raises(LLMTimeout):
                await client.chat(SAY, LONG, timeout=0.3)

    async def test_server_killed_mid_answer_is_a_clear_error(self) -> None:
        server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("llm_server.py"))],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            address = server.stdout.readline().strip()
            async with OpenAIEngine.open(OpenAISettings(address, max_retries=0)) as client:
                streaming = asyncio.Event()
                answer = asyncio.create_task(client.chat(SAY, LONG, on_text=lambda text: streaming.set()))
                await streaming.wait()  # mid-answer: the first piece has arrived
                assert not answer.done()
                server.send_signal(signal.SIGKILL)
                with pytest.raises(LLMUnavailable, match="went away"):
                    await answer
        finally:
            server.kill()
            server.wait(timeout=30)


class TestRetries:
    async def test_429_and_503_are_retried_with_backoff(self) -> None:
        delays: list[float] = []

        async def sleep(seconds: float) -> None:
            delays.append(seconds)

        script = [(429, '{"error": {"message": "slow down"}}'), (503, "{}"), (200, sse("a river", " sings"))]
        async with scripted_server(script) as server:
            async with OpenAIEngine.open(OpenAISettings(server.address, backoff_s=0.5), sleep=sleep) as client:
                answer = await client.chat(SAY, Sampling(max_tokens=8))
        assert answer.text == "a river sings" and answer.tokens == 2
        assert delays == [0.5, 1.0] and len(server.requests) == 3
        assert server.requests[-1]["stream"] is True and "repeat_penalty" not in server.requests[-1]

    async def test_retries_give_up_with_a_clear_error(self) -> None:
        async with scripted_server([(503, "{}")]) as server:
            async with OpenAIEngine.open(OpenAISettings(server.address, max_retries=2),
                                         sleep=lambda s: asyncio.sleep(0)) as client:
                with pytest.raises(LLMUnavailable, match="503.*after 3 attempts"):
                    await client.chat(SAY, Sampling())

    async def test_a_server_that_goes_away_is_retried_then_unavailable(self) -> None:
        server_context = scripted_server([(200, sse("x"))])
        server = await server_context.__aenter__()
        async with OpenAIEngine.open(OpenAISettings(server.address, max_retries=1),
                                     sleep=lambda s: asyncio.sleep(0)) as client:
            await server_context.__aexit__(None, None, None)  # the server goes away after the engine opened
            with pytest.raises(LLMUnavailable, match="cannot reach"):
                await client.chat(SAY, Sampling())

    async def test_a_server_that_does_not_answer_is_unreachable_when_the_engine_opens(self) -> None:
        async with scripted_server([(200, sse("x"))]) as server:
            address = server.address
        with pytest.raises(LLMUnreachable, match=re.escape(address)):
            async with OpenAIEngine.open(OpenAISettings(address)):
                pass

    async def test_alternatives_in_openais_completions_shape_are_read(self) -> None:
        """OpenAI's completions API reports each step's likeliest tokens as one mapping (llama.cpp as a list)."""
        chunks = [{"choices": [{"index": 0, "text": " sea", "finish_reason": None,
                                "logprobs": {"tokens": [" sea"], "token_logprobs": [-0.5],
                                             "top_logprobs": [{" sea": -0.5, " sky": -1.5}]}}]},
                  {"choices": [{"index": 0, "text": "", "finish_reason": "length"}],
                   "usage": {"completion_tokens": 1}}]
        body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
        async with scripted_server([(200, body)]) as server:
            async with OpenAIEngine.open(OpenAISettings(server.address)) as client:
                answer = await client.complete("The", Sampling(max_tokens=1, alternatives=2))
        assert answer.text == " sea" and answer.alternatives == ({" sea": -0.5, " sky": -1.5},)
        assert server.requests[-1]["logprobs"] == 2

    async def test_4xx_is_not_retried(self) -> None:
        async with scripted_server([(401, json.dumps({"error": {"message": "bad key"}}))]) as server:
            async with OpenAIEngine.open(OpenAISettings(server.address, api_key="wrong")) as client:
                with pytest.raises(LLMRequestError, match="401: bad key"):
                    await client.chat(SAY, Sampling())
        assert len(server.requests) == 1


async def test_tokens_reach_a_listener_on_the_event_loop_as_they_are_written(engine: LlamaCppEngine) -> None:
    """llama.cpp writes on a worker thread; the listener is called on the loop's thread, piece by piece, and the
    pieces make the whole answer."""
    loop_thread = threading.get_ident()
    pieces: list[str] = []
    threads: set[int] = set()

    def listen(piece: str) -> None:
        pieces.append(piece)
        threads.add(threading.get_ident())

    answer = await engine.chat(SAY, Sampling(max_tokens=24, seed=3), on_text=listen)
    assert len(pieces) > 3 and "".join(pieces) == answer.text
    assert threads == {loop_thread}


class Gated:
    """A replica behind the engine protocol that keeps the prompts it was given and answers once its gate opens."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.gate = asyncio.Event()

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: object = None) -> Generation:
        self.prompts.append(prompt)
        await self.gate.wait()
        return Generation("x", 1, 0.1, "stop", "gated")


@pytest.mark.parametrize("paragraph", ["memory\n\nThe harbour", "memory\n\n"], ids=["word-chosen", "none-chosen"])
async def test_a_request_that_reuses_a_prefix_meets_the_replica_that_read_it(paragraph: str) -> None:
    """The opening's question goes to the first replica and is still there; the paragraph that continues from it
    (its prompt longer, or shorter where no word was chosen) goes there too, though the second is less busy; another
    breath's request, which reuses nothing, goes to the less busy one."""
    first, second = Gated(), Gated()
    replicas = Replicas([first, second])  # type: ignore[list-item]  # doubles behind the protocol
    asked = asyncio.create_task(replicas.complete("memory\n\nThe", Sampling(max_tokens=1)))
    continued = asyncio.create_task(replicas.complete(paragraph, Sampling(reuse_prefix=True)))
    other = asyncio.create_task(replicas.complete("another breath", Sampling()))
    async with asyncio.timeout(30):
        while len(first.prompts) + len(second.prompts) < 3:
            await asyncio.sleep(0)  # each request reaches its replica within a turn of the loop
    assert first.prompts == ["memory\n\nThe", paragraph] and second.prompts == ["another breath"]
    first.gate.set()
    second.gate.set()
    await asyncio.gather(asked, continued, other)
