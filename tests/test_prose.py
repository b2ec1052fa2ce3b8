"""Prose in organism mode: the user's words never reach the model; rejects are retried and never stored; any
failure leaves the field as it was."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import signal
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from fieldtools import audit, fingerprint, opened
from harmonix.colony import Harmonix
from harmonix.config import Config
from harmonix.engines.llm import Generation, LLMEngine, Message, Sampling, TextListener
from harmonix.engines.memory import Memory
from harmonix.errors import CompositionFailed, InvalidText, LLMUnavailable
from harmonix.field import Disturbance, Field, FieldCounts, FieldSnapshot, SnapshotSpec, Store, TextRow, ensure_colony
from harmonix.lab.prompts import standard_prompts
from harmonix.metatalk import meta_talk
from harmonix.metrics import echo
from harmonix.organisms.base import LLM_MODES
from harmonix.organisms.listening import LEAN_WORDS, listen, prompt_words
from harmonix.organisms.prose import (
    ATTEMPTS,
    GENERIC_SHARE,
    GENESIS_SOURCE,
    MEMORIES,
    MEMORY_CHOICES,
    OPENER,
    Prose,
    ProseReply,
    Settling,
    clean,
    genesis,
    opening,
    without_preamble,
)
from harmonix.text import tokenize


class Recording:
    """Delegates to a real engine and keeps, as text, everything it was given."""

    def __init__(self, inner: LLMEngine) -> None:
        self.inner, self.sent, self.samplings, self.answers = inner, [], [], []

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def reports_alternatives(self) -> bool:
        return self.inner.reports_alternatives

    async def chat(self, messages: Sequence[Message], sampling: Sampling, *, timeout: float | None = None,
                   on_text: TextListener | None = None):
        self.sent.append("\n\n".join(f"{m['role']}: {m['content']}" for m in messages))
        self.answers.append(await self.inner.chat(messages, sampling, timeout=timeout, on_text=on_text))
        return self.answers[-1]

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: TextListener | None = None):
        self.sent.append(prompt)
        self.samplings.append(sampling)
        self.answers.append(await self.inner.complete(prompt, sampling, timeout=timeout, on_text=on_text))
        return self.answers[-1]


class Scripted:
    """A test double behind the engine protocol: answers with the next scripted text, or raises it. Like a model in
    completion mode it goes on from the word the paragraph opens on (after the opening's last blank line)."""

    backend = "scripted"
    reports_alternatives = False

    def __init__(self, answers: list[str | Exception]) -> None:
        self.answers = answers

    async def chat(self, messages: Sequence[Message], sampling: Sampling, *, timeout: float | None = None,
                   on_text: TextListener | None = None):
        return await self.complete("", sampling, timeout=timeout, on_text=on_text)

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: TextListener | None = None):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if answer and prompt.rsplit("\n\n", 1)[-1]:
            answer = " " + answer
        for word in answer.split(" "):
            if on_text is not None:
                on_text(word + " ")
        return Generation(answer, len(answer.split()), 0.1, "stop", self.backend)


class Likely:
    """A test double that reports fixed likeliest next tokens, and counts what it was asked."""

    backend = "likely"

    def __init__(self, likely: dict[str, float], reports: bool = True) -> None:
        self.likely, self.reports_alternatives, self.asked = likely, reports, []

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: TextListener | None = None):
        self.asked.append((prompt, sampling))
        return Generation(max(self.likely, key=self.likely.__getitem__), 1, 0.1, "length", self.backend,
                          (self.likely,))


async def test_the_opening_word_weighs_the_models_likelihood_with_the_lean() -> None:
    """argmax over the lean's non-generic words of log p(" w") + log lean(w); none likely, or an engine that
    reports nothing: no opening words, and such an engine is not asked."""
    memory = Memory.build(["The time of day and the hour of the clock."] * 29 + ["The ocean and the water at night."])
    assert memory.share("time") > GENERIC_SHARE >= max(memory.share("ocean"), memory.share("water"))

    def organism(engine: Likely) -> Prose:
        return Prose(None, engine, memory, timeout_s=5)  # type: ignore[arg-type]  # no field needed

    async def opener(engine: Likely, lean: dict[str, float]) -> str:
        prose = organism(engine)
        return await prose._likeliest_opener("The sea.\n\n", prose._opener_candidates(lean))

    likely = {" time": -0.1, " ocean": -1.0, " water": -2.0, " zebra": -3.0}
    engine = Likely(likely)
    assert organism(engine)._opener_candidates({"time": 1.0, "ocean": 1.0, "water": 0.5, "zebra": 0.0}) == {
        "ocean": 1.0, "water": 0.5}, "time is generic, zebra not leaned to"
    assert await opener(engine, {"time": 1.0, "ocean": 1.0, "water": 1.0}) == "The ocean"
    prompt, sampling = engine.asked[0]
    assert prompt == "The sea.\n\n" + OPENER and sampling.max_tokens == 1 and sampling.temperature == 0.0
    assert sampling.alternatives > 0
    # ocean: -1.0 + log 0.1 = -3.30; water: -2.0 + log 1 = -2.0
    assert await opener(Likely(likely), {"ocean": 0.1, "water": 1.0}) == "The water"
    assert await opener(Likely(likely), {"harbour": 1.0}) == "", "no lean word among the likely ones"
    assert organism(Likely(likely, reports=False))._opener_candidates({"ocean": 1.0}) == {}, "such an engine is not asked"


class Asked(Likely):
    """:class:`Likely` for the opening's question; any other request is a paragraph, answered with ``GOOD``."""

    async def complete(self, prompt: str, sampling: Sampling, *, timeout: float | None = None,
                       on_text: TextListener | None = None):
        self.asked.append((prompt, sampling))
        if sampling.alternatives:
            return Generation(" x", 1, 0.1, "length", self.backend, (self.likely,) if self.likely else ())
        return Generation(GOOD, len(GOOD.split()), 0.1, "stop", self.backend)


@pytest.mark.parametrize("likely", [{" zzz": -0.1}, {}], ids=["no-lean-word-likely", "none-reported"])
async def test_the_paragraph_continues_from_the_openings_question_even_when_no_word_is_chosen(
        config: Config, likely: dict[str, float]) -> None:
    """Asking read the opening once; the paragraph's prompt begins like the asked one, so it reuses that state
    instead of reading the opening a second time (a cascade paid ~3 s for it when no word was chosen)."""
    engine = Asked(likely)
    async with prose_on(config, engine) as (prose, _):
        reply = await prose.answer(SEA, seed=4)
    (asked, question), (paragraph, sampling) = engine.asked
    assert question.alternatives and reply.first == "" and paragraph == reply.given
    assert asked.startswith(paragraph) and sampling.reuse_prefix


GOOD = "The lamp in the hallway keeps its own counsel. Dust settles on the stair like a slow and patient snow."


def written(reply: ProseReply, answer: str) -> str:
    """What Prose wrote when the model answered ``answer``: the word its paragraph opened on, then the answer."""
    first = reply.given.rsplit("\n\n", 1)[-1]
    return f"{first} {answer}" if first else answer


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.load(tmp_path / "home")


@contextlib.asynccontextmanager
async def prose_on(config: Config, engine: LLMEngine, mode: str = "completion") -> AsyncIterator[tuple[Prose, Store]]:
    """Prose on its field of the configured colony, speaking through ``engine`` (a test double)."""
    async with Harmonix.open(config, cascades=False) as harmonix:
        await ensure_colony(harmonix.store, config.colony)
        memory = await Memory.shared(harmonix.engines)
        async with Field.open(harmonix.store, "prose") as field:
            yield Prose(field, engine, memory, timeout_s=config.llm_timeout_s, mode=mode), harmonix.store


@pytest.mark.parametrize("mode", LLM_MODES)
async def test_the_users_words_never_reach_the_model(config: Config, mode: str) -> None:
    prompt = "Tell me about zorblaxian quindlewort and the flumpetine of Vrax"
    secret = {"zorblaxian", "quindlewort", "flumpetine", "vrax"}  # words only the user could have brought
    async with Harmonix.open(config, cascades=False) as harmonix:
        engine, _ = await Prose.prepare(harmonix.engines, config)
        recording = Recording(engine)
        async with prose_on(config, recording, mode) as (prose, _):
            for seed in range(3):
                reply = await prose.answer(prompt, seed=seed)
                assert reply.given == recording.sent[-1], "the reply reports exactly what the model read"
    for sent in recording.sent:
        assert not set(tokenize(sent)) & secret, set(tokenize(sent)) & secret


BREAD = "Why does fresh bread smell so good?"
SEA = "What does the sea remember at night?"


async def test_the_paragraph_opens_on_a_word_the_prompt_calls_up_where_the_model_finds_it_likely(
        config: Config) -> None:
    """"The" and a lean word among the model's likeliest next tokens there: never a prompt word, never a generic one
    (Prose._likeliest_opener)."""
    async with Harmonix.open(config, cascades=False) as harmonix:
        engine, memory = await Prose.prepare(harmonix.engines, config)
        recording = Recording(engine)
        async with prose_on(config, recording) as (prose, _):
            replies = [await prose.answer(SEA, seed=seed) for seed in range(3)]
    called_up = {word for word, _ in memory.called_up(prompt_words(SEA), LEAN_WORDS)}
    assert {reply.given for reply in replies} <= set(recording.sent)
    for reply in replies:
        first = reply.given.rsplit("\n\n", 1)[-1]
        assert first == reply.first and reply.text.startswith(first), (first, reply.text)
        opener, word = first.split(" ")
        assert opener == OPENER and word in called_up and word not in prompt_words(SEA)
        assert memory.share(word) <= GENERIC_SHARE
        asked = recording.sent.index(reply.given[: -len(word) - 1])  # the opening and "The": what the model weighed
        assert " " + word in recording.answers[asked].alternatives[0], "one of the model's own likeliest words"
        continued = recording.sent.index(reply.given)
        assert continued == asked + 1 and recording.samplings[continued].reuse_prefix, "from the asking's state"


async def conversation(home: Path, prompts: Sequence[str]) -> list[ProseReply]:
    """Prose's replies to ``prompts`` in order, on a new home, seeds 1, 2, …"""
    config = Config.load(home)
    async with Harmonix.open(config, cascades=False) as harmonix:
        engine, _ = await Prose.prepare(harmonix.engines, config)
        async with prose_on(config, Recording(engine)) as (prose, _):
            return [await prose.answer(prompt, seed=seed) for seed, prompt in enumerate(prompts, start=1)]


async def test_the_prompt_chooses_which_memories_surface(tmp_path: Path) -> None:
    """The opening holds the memories that resonate with the prompt, never the prompt: a prompt about bread
    calls up paragraphs about bread, one about the sea paragraphs about the sea (each on a field that heard nothing
    before it: what a field heard lingers, the next test shows)."""
    replies = {prompt: (await conversation(tmp_path / name, [prompt]))[-1] for name, prompt in (("bread", BREAD),
                                                                                              ("sea", SEA))}
    memory = Memory.load()
    read: dict[str, list[str]] = {}
    for prompt, reply in replies.items():
        assert reply.memories == MEMORIES
        stems_alone = memory.query(prompt_words(prompt), associates=0)
        ranked = [memory.texts[i] for i in memory.resonant(stems_alone, MEMORY_CHOICES)]
        read[prompt] = reply.given.split("\n\n")[-1 - MEMORIES:-1]
        assert set(read[prompt]) <= set(ranked), "only memories that resonate surface"
        assert ranked.index(read[prompt][-1]) < ranked.index(read[prompt][0]), "the most resonant is read last"
    assert not set(read[BREAD]) & set(read[SEA]), "another prompt calls up other memories"


async def test_what_it_heard_before_chooses_memories_for_a_prompt_that_calls_up_little(tmp_path: Path) -> None:
    """After a prompt about bread, "Continue." reads memories about bread: the earlier prompt's stems linger in the
    query (harmonix.organisms.listening, "Remembering what it heard"), and the newest paragraph comes after them (asked
    to go on). On a field that heard nothing before, "Continue." names nothing, so no memory surfaces and Prose speaks
    from its own texts."""
    fresh = (await conversation(tmp_path / "fresh", ["Continue."]))[-1]
    assert fresh.memories == 0
    after_bread = (await conversation(tmp_path / "after-bread", [BREAD, "Continue."]))[-1]
    assert after_bread.memories == MEMORIES
    read = after_bread.given.split("\n\n")[-2 - MEMORIES:-2]  # before the newest paragraph and the first word
    memory = Memory.load()
    bread = set(memory.query(prompt_words(BREAD), associates=0))
    assert all(bread & set(memory.query(prompt_words(text), associates=0)) for text in read), read


async def test_a_seed_reproduces_the_answer(tmp_path: Path) -> None:
    texts = []
    for name in ("a", "b"):
        async with opened(Config.load(tmp_path / name), Prose) as (prose, _):
            texts.append((await prose.answer("what is resonance", seed=21)).text)
    assert texts[0] == texts[1] and texts[0]


async def test_genesis_then_own_words_in_one_turn(config: Config) -> None:
    async with prose_on(config, Scripted([GOOD])) as (prose, store):
        reply = await prose.answer("hello there", seed=1)
        stats = await prose.field.stats()
        assert (await audit(store, "prose")).ok
    assert reply.text == written(reply, GOOD) and 0.0 < reply.dissonance <= 1.0
    assert stats.counts.texts == len(genesis()) + 1 and stats.counts.turns == 1
    assert reply.given.startswith(genesis()[-1]), "an empty field speaks from its genesis"


async def test_rejects_are_retried_and_never_stored(config: Config) -> None:
    answers = ["", "echo echo echo echo echo echo echo echo echo echo echo echo echo echo", GOOD]
    async with prose_on(config, Scripted(answers)) as (prose, _):
        reply = await prose.answer("a prompt", seed=2)
        snapshot = await prose.field.snapshot(random.Random(0), SnapshotSpec(recent=50))
    assert reply.attempts == 3 and len(reply.rejected) == 2
    assert [t.body for t in snapshot.recent if t.source != GENESIS_SOURCE] == [written(reply, GOOD)]


async def test_an_echoing_answer_is_rejected(config: Config) -> None:
    prompt = "The lamp in the hallway keeps dust on the stair like snow"
    async with prose_on(config, Scripted([GOOD] * ATTEMPTS)) as (prose, _):
        with pytest.raises(CompositionFailed, match="echoes the prompt"):
            await prose.answer(prompt, seed=3)


@pytest.mark.parametrize("failure", [LLMUnavailable("gone"), CompositionFailed])
async def test_a_failed_turn_leaves_the_field_unchanged(config: Config, failure: object) -> None:
    answers: list[str | Exception] = [GOOD]
    answers += [failure] if isinstance(failure, Exception) else [""] * ATTEMPTS
    async with prose_on(config, Scripted(answers)) as (prose, store):
        await prose.answer("the first turn", seed=4)
        before = await fingerprint(store, "prose")
        with pytest.raises((LLMUnavailable, CompositionFailed)):
            await prose.answer("the second turn", seed=5)
        assert await fingerprint(store, "prose") == before


async def test_server_killed_mid_generation_leaves_the_field_unchanged(tmp_path: Path) -> None:
    """The server dies while its first token is on the way in: the turn (genesis included) is not stored."""
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("llm_server.py"))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        config = Config.load(tmp_path / "home", llm_url=server.stdout.readline().strip())
        async with opened(config, Prose) as (prose, store):
            before = await fingerprint(store, "prose")
            speaking = asyncio.Event()
            answer = asyncio.create_task(prose.answer("a turn cut short", seed=7,
                                                      on_token=lambda text, attempt: speaking.set()))
            await speaking.wait()
            server.send_signal(signal.SIGKILL)
            with pytest.raises(LLMUnavailable):
                await answer
            assert await fingerprint(store, "prose") == before
    finally:
        server.kill()
        server.wait(timeout=30)


async def test_a_timeout_leaves_the_field_unchanged(config: Config) -> None:
    impatient = dataclasses.replace(config, llm_timeout_s=0.05)
    async with opened(impatient, Prose) as (prose, _):
        with pytest.raises(TimeoutError):
            await prose.answer("a turn with no time", seed=8)
        assert (await prose.field.stats()).counts.turns == 0


@pytest.mark.parametrize("bad", ["", "  ", "x" * 1_000_000, "nul\x00", b"bytes"])
async def test_bad_prompt_is_refused_and_the_field_unchanged(config: Config, bad: object) -> None:
    async with prose_on(config, Scripted([])) as (prose, store):
        before = await fingerprint(store, "prose")
        with pytest.raises(InvalidText):
            await prose.answer(bad)  # type: ignore[arg-type]
        assert await fingerprint(store, "prose") == before


async def test_tokens_stream_to_a_listener_with_their_attempt(config: Config) -> None:
    """A rejected attempt's tokens carry its attempt number, so a client can drop them when the next one starts."""
    heard: list[tuple[str, int]] = []
    answers = ["", GOOD]
    async with prose_on(config, Scripted(answers)) as (prose, _):
        reply = await prose.answer("a prompt", seed=3, on_token=lambda text, attempt: heard.append((text, attempt)))
    assert reply.attempts == 2
    assert {attempt for _, attempt in heard} == {1, 2}
    assert "".join(text for text, attempt in heard if attempt == 2).strip() == written(reply, GOOD)


MORE = " Somewhere a kettle remembers the morning while the window holds the last of the light."
PREAMBLE = "Here is a paragraph about the evening, as you asked, written in my own words. "
ABBREVIATED = " Small things, e.g. the kettle and the window, keep the evening for whoever comes home late."
PERSONA_TALK = " I am Prose, and this is the paragraph that grows out of the fragments I remember."


def settle(written: str, prompt: str = "a prompt") -> tuple[list[str], str, str | None]:
    """``written`` given to a :class:`Settling` word by word as a model streams it: what settled on the way (in
    order, empty pieces left out), and the attempt's reply and its problem."""
    settling = Settling(prompt, "")
    pieces = [settling.add(word) for word in re_words(written)]
    text, problem = settling.reply(written)
    return [piece for piece in pieces if piece], text, problem


def re_words(text: str) -> list[str]:
    """``text`` in pieces as a model streams them: each word with the space before it."""
    words = text.split(" ")
    return [words[0], *(" " + word for word in words[1:])]


@pytest.mark.parametrize(("written", "settled", "reply"), [
    (GOOD + MORE, [GOOD], GOOD + MORE),  # the last sentence ends the text: it settles with the reply, at the end
    (GOOD + MORE + " ", [GOOD, MORE], GOOD + MORE),
    (PREAMBLE + GOOD + " ", [GOOD], GOOD),  # the preamble is never shown: dropped before anything settles
    (GOOD + PERSONA_TALK + MORE + " ", [GOOD], GOOD),  # the whole fails once GOOD settled: the reply is GOOD
    (GOOD + ABBREVIATED + " ", [GOOD, ABBREVIATED], GOOD + ABBREVIATED),  # "e.g." ends no sentence
    (GOOD + ABBREVIATED + PERSONA_TALK, [GOOD, ABBREVIATED], GOOD + ABBREVIATED),  # nor is a cut made there
])
def test_a_paragraph_settles_sentence_by_sentence_and_what_settled_begins_its_reply(
        written: str, settled: list[str], reply: str) -> None:
    pieces, text, problem = settle(written)
    assert problem is None and text == reply and pieces == settled
    assert text.startswith("".join(pieces))
    whole = Settling("a prompt", "")
    assert whole.reply(written) == (text, problem), "settled from the whole text, the reply is the same"


@pytest.mark.parametrize("written", [
    "echo echo echo echo echo echo echo echo echo echo echo echo echo echo ",
    PREAMBLE + PERSONA_TALK + " ", "The lamp is lit. "])
def test_an_attempt_that_is_rejected_settles_nothing(written: str) -> None:
    pieces, _, problem = settle(written)
    assert problem is not None and pieces == []


async def test_what_settles_comes_only_from_the_kept_attempt_and_begins_the_stored_text(config: Config) -> None:
    settled: list[str] = []
    answers = [PREAMBLE + PERSONA_TALK, GOOD + MORE]
    async with prose_on(config, Scripted(answers)) as (prose, _):
        reply = await prose.answer("a prompt", seed=3, on_settled=settled.append)
        snapshot = await prose.field.snapshot(random.Random(0), SnapshotSpec(recent=50))
    assert reply.attempts == 2 and len(settled) == 2
    assert "".join(settled).strip() == reply.text == written(reply, GOOD + MORE)
    assert [t.body for t in snapshot.recent if t.source != GENESIS_SOURCE] == [reply.text]


async def test_talk_about_the_task_is_rejected_and_never_stored(config: Config) -> None:
    answers = ["Here is a paragraph about the evening, as you asked, written in my own words.",
               "I am Prose, and this is the paragraph that grows out of the fragments I remember.", GOOD]
    async with prose_on(config, Scripted(answers)) as (prose, _):
        reply = await prose.answer("a prompt", seed=9)
        snapshot = await prose.field.snapshot(random.Random(0), SnapshotSpec(recent=50))
    assert reply.attempts == 3 and all("talks about its task" in why for why in reply.rejected)
    assert [t.body for t in snapshot.recent if t.source != GENESIS_SOURCE] == [written(reply, GOOD)]


async def test_copying_what_it_read_is_rejected(config: Config) -> None:
    newest = genesis()[-1]  # an empty field's newest paragraph opens what Prose reads
    async with prose_on(config, Scripted([newest, GOOD])) as (prose, _):
        reply = await prose.answer("a prompt", seed=10)
    assert newest in reply.given
    assert reply.text == written(reply, GOOD) and reply.rejected == ("copies 8 words of what it was given",)


@pytest.mark.timeout(600)  # 24 turns on one thread: some 2 minutes here
async def test_a_conversation_on_the_real_model_keeps_its_echo_low_and_no_task_talk_in_the_field(config: Config) -> None:
    """The crystal guard and the echo on the real model: 24 turns of one conversation (every third standard prompt:
    two of each theme); not one of Prose's own texts holds a task or persona phrase, and its replies give back few of
    the prompts' words (the ≥ 40-prompt acceptance is `harmonix eval --organisms prose`)."""
    prompts = standard_prompts()[::3]
    async with opened(config, Prose) as (prose, _):
        replies = [await prose.answer(prompt, seed=i) for i, prompt in enumerate(prompts)]
        snapshot = await prose.field.snapshot(random.Random(0), SnapshotSpec(recent=200))
    own = [text.body for text in snapshot.recent if text.source == "self"]
    assert len(own) == len(prompts) == 24
    assert [text for text in own if meta_talk(text) is not None] == []
    echoes = [echo(reply.text, prompt) for reply, prompt in zip(replies, prompts, strict=True)]
    assert None not in echoes and statistics.mean(echoes) <= 0.15


def test_a_first_sentence_about_the_task_is_dropped_when_the_rest_is_clean() -> None:
    paragraph = "The tide turns over the grey stones and the gulls wheel above the harbour wall at dusk."
    assert without_preamble(f"Here's a paragraph about the sea: {paragraph}") == paragraph
    assert without_preamble(f"Here is a paragraph. {paragraph} This paragraph ends.").startswith("Here is")
    assert without_preamble("Here is a short one. Too short.") == "Here is a short one. Too short."
    assert without_preamble(paragraph) == paragraph


def test_a_leading_run_of_digits_and_marks_is_cleaned_away() -> None:
    assert clean("1502384974 The Most quiet hour comes before the bakers wake.") == \
        "The Most quiet hour comes before the bakers wake."
    assert clean("  -- 12) The gulls wheel above the harbour wall at dusk.") == \
        "The gulls wheel above the harbour wall at dusk."
    assert clean("d8.jpg An illustration of the river in winter light.") == \
        "An illustration of the river in winter light."
    assert clean("k The harbour wall is cold at dusk.") == "The harbour wall is cold at dusk."
    assert clean("The 1984 winter was long and the harbour froze twice.") == \
        "The 1984 winter was long and the harbour froze twice."


def test_asked_to_go_on_prose_goes_on_from_what_it_said_last() -> None:
    """After prompts about a harbour, "Tell me more." puts Prose's newest paragraph last in its opening, nearest to
    what the model writes, after the memories the harbour calls up; a prompt with a subject keeps it first."""
    memory = Memory.build(["Fishing boats leave the harbour before the waves rise on the sea.",
                           "The harbour lights shine on the boats at night.",
                           "Bread from the oven cools on the kitchen table by the window."])
    newest = TextRow(id=2, source="self", body="The last thing Prose said, about the quay.", created=0.0)
    older = TextRow(id=1, source="self", body="An older paragraph of its own.", created=0.0)
    heard = ("boats in the harbour", "the harbour at night")

    def opened_on(prompt: str) -> tuple[str, ...]:
        disturbances = tuple(Disturbance(id=9 - i, source="user", body=body, created=0.0)
                             for i, body in enumerate((prompt, *heard)))
        snapshot = FieldSnapshot(name="prose", recent=(newest, older), random=(), trigrams=(), words=(),
                                 disturbances=disturbances, last_spoken=None,
                                 counts=FieldCounts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), state={}, lookup={})
        return opening(snapshot, listen(prompt, snapshot, memory), random.Random(0))

    going_on = opened_on("Tell me more.")
    assert going_on[-1] == newest.body and going_on.count(newest.body) == 1
    assert any("harbour" in paragraph for paragraph in going_on[:-1]), "the earlier prompts chose the memories"
    assert opened_on("bread in the kitchen")[0] == newest.body
