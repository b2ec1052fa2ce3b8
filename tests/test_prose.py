"""Prose in organism mode: the user's words never reach the model; rejects are retried and never stored; any
failure leaves the field as it was."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from fieldtools import fingerprint
from harmonix.config import Config
from harmonix.engines.llm import EnginePool, Generation, LLMEngine, LLMUnavailable, Message, Sampling
from harmonix.errors import InvalidText
from harmonix.field import audit_field
from harmonix.metrics import echo
from harmonix.organisms.prose import GENESIS_SOURCE, Prose, ProseFailed, genesis
from harmonix.prompts import standard_prompts
from harmonix.text import content_words, tokenize


class Recording:
    """Delegates to a real engine and keeps every message list it was given."""

    def __init__(self, inner: LLMEngine) -> None:
        self.inner, self.sent = inner, []

    @property
    def backend(self) -> str:
        return self.inner.backend

    async def chat(self, messages: Sequence[Message], sampling: Sampling, *, timeout: float | None = None):
        self.sent.append([dict(m) for m in messages])
        return await self.inner.chat(messages, sampling, timeout=timeout)

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None):
        raise AssertionError("Prose chats")


class Scripted:
    """A test double behind the engine protocol: answers with the next scripted text, or raises it."""

    backend = "scripted"

    def __init__(self, answers: list[str | Exception]) -> None:
        self.answers = answers

    async def chat(self, messages: Sequence[Message], sampling: Sampling, *, timeout: float | None = None):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Generation(answer, len(answer.split()), 0.1, "stop", self.backend)

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None):
        raise AssertionError("Prose chats")


GOOD = "The lamp in the hallway keeps its own counsel. Dust settles on the stair like a slow and patient snow."


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.load(tmp_path / "home")


async def test_the_users_words_never_reach_the_model(config: Config) -> None:
    prompt = "Tell me about zorblaxian quindlewort and the flumpetine of Vrax"
    secret = set(content_words(tokenize(prompt)))
    async with EnginePool.open() as pool:
        recording = Recording(await config.llm.engine(pool))
        async with Prose.open(config, pool, engine=recording) as prose:
            for seed in range(3):
                reply = await prose.answer(prompt, seed=seed)
                assert list(reply.messages) == recording.sent[-1], "the reply reports exactly what was sent"
    for sent in recording.sent:
        words = set(tokenize(" ".join(message["content"] for message in sent)))
        assert not words & secret, words & secret


async def test_a_seed_reproduces_the_answer(tmp_path: Path) -> None:
    texts = []
    async with EnginePool.open() as pool:
        for name in ("a", "b"):
            async with Prose.open(Config.load(tmp_path / name), pool) as prose:
                texts.append((await prose.answer("what is resonance", seed=21)).text)
    assert texts[0] == texts[1] and texts[0]


async def test_genesis_then_own_words_in_one_turn(config: Config) -> None:
    async with EnginePool.open() as pool, Prose.open(config, pool, engine=Scripted([GOOD])) as prose:
        reply = await prose.answer("hello there", seed=1)
        stats = await prose.field.stats()
    assert reply.text == GOOD and reply.dissonance == 1.0
    assert stats.counts.texts == len(genesis()) + 1 and stats.counts.turns == 1
    assert all(line.strip() for line in reply.seed_text.splitlines())
    assert audit_field(config.field_path("prose")).ok


async def test_rejects_are_retried_and_never_stored(config: Config) -> None:
    answers = ["", "echo echo echo echo echo echo echo echo echo echo echo echo echo echo", GOOD]
    async with EnginePool.open() as pool, Prose.open(config, pool, engine=Scripted(answers)) as prose:
        reply = await prose.answer("a prompt", seed=2)
    assert reply.attempts == 3 and len(reply.rejected) == 2
    conn_texts = [t.body for t in (await _snapshot(config)).recent if t.source != GENESIS_SOURCE]
    assert conn_texts == [GOOD]


async def test_an_echoing_answer_is_rejected(config: Config) -> None:
    prompt = "The lamp in the hallway keeps dust on the stair like snow"
    async with EnginePool.open() as pool, Prose.open(config, pool, engine=Scripted([GOOD] * 3)) as prose:
        with pytest.raises(ProseFailed, match="echoes the prompt"):
            await prose.answer(prompt, seed=3)


@pytest.mark.parametrize("failure", [LLMUnavailable("gone"), ProseFailed])
async def test_a_failed_turn_leaves_the_field_unchanged(config: Config, failure: object) -> None:
    answers: list[str | Exception] = [GOOD]
    answers += [failure] if isinstance(failure, Exception) else ["", "", ""]
    async with EnginePool.open() as pool, Prose.open(config, pool, engine=Scripted(answers)) as prose:
        await prose.answer("the first turn", seed=4)
        before = fingerprint(config.field_path("prose"))
        with pytest.raises((LLMUnavailable, ProseFailed)):
            await prose.answer("the second turn", seed=5)
        assert fingerprint(config.field_path("prose")) == before


async def test_server_killed_mid_generation_leaves_the_field_unchanged(tmp_path: Path) -> None:
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("llm_server.py"))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        config = Config.load(tmp_path / "home", llm_url=server.stdout.readline().strip())
        async with EnginePool.open() as pool, Prose.open(config, pool) as prose:
            await prose.answer("the first turn", seed=6)
            before = fingerprint(config.field_path("prose"))
            answer = asyncio.create_task(prose.answer("the second turn", seed=7))
            await asyncio.sleep(0.4)
            server.send_signal(signal.SIGKILL)
            with pytest.raises(LLMUnavailable):
                await answer
            assert fingerprint(config.field_path("prose")) == before
    finally:
        server.kill()
        server.wait(timeout=30)


async def test_a_timeout_leaves_the_field_unchanged(config: Config) -> None:
    impatient = dataclasses.replace(config, llm_timeout_s=0.05)
    async with EnginePool.open() as pool, Prose.open(impatient, pool) as prose:
        with pytest.raises(TimeoutError):
            await prose.answer("a turn with no time", seed=8)
        assert (await prose.field.stats()).counts.turns == 0


@pytest.mark.parametrize("bad", ["", "  ", "x" * 1_000_000, "nul\x00", b"bytes"])
async def test_bad_prompt_is_refused_and_the_field_unchanged(config: Config, bad: object) -> None:
    async with EnginePool.open() as pool, Prose.open(config, pool, engine=Scripted([])) as prose:
        before = fingerprint(config.field_path("prose"))
        with pytest.raises(InvalidText):
            await prose.answer(bad)  # type: ignore[arg-type]
        assert fingerprint(config.field_path("prose")) == before


async def test_speaks_from_its_field_over_a_dozen_prompts(config: Config) -> None:
    """A quick echo check in the suite; the ≥ 40-prompt acceptance is `harmonix eval --organisms prose`."""
    prompts = standard_prompts()[::6]
    async with EnginePool.open() as pool, Prose.open(config, pool) as prose:
        replies = [await prose.answer(prompt, seed=i) for i, prompt in enumerate(prompts)]
    echoes = [echo(reply.text, prompt) for reply, prompt in zip(replies, prompts, strict=True)]
    assert None not in echoes and statistics.mean(echoes) <= 0.15


async def _snapshot(config: Config):
    import random

    from harmonix.field import Field, SnapshotSpec

    async with Field.open(config.field_path("prose"), "prose") as field:
        return await field.snapshot(random.Random(0), SnapshotSpec(recent=50))
