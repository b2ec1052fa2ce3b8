"""MetaHarmonix: the cascade on real components, and its guarantees with test doubles behind the organism protocol
(a stalled organism, eight concurrent cascades, a cancelled cascade)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from doubles import hub_with_doubles
from fieldtools import audit, fingerprint, fingerprints
from harmonix.colony import Harmonix
from harmonix.config import Config
from harmonix.errors import CompositionFailed, InvalidText
from harmonix.field import Field, Store, open_store, sqlite_url
from harmonix.meta import (
    ARTIST,
    INHALE,
    META_SOURCE,
    BreathEvent,
    SettledEvent,
    StageEvent,
    meta_sentence,
    sentences_of,
)
from harmonix.organisms.base import FIELDS, HUB, ORGANISMS, Stimulus
from harmonix.text import tokenize


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.load(tmp_path / "home")


async def texts_of(store: Store, name: str, source: str | None = None) -> list[str]:
    async with Field.open(store, name, create=False) as field:
        dump = await field.dump()
    return [text[2] for text in dump.texts if source is None or text[1] == source]


async def test_full_cascade_on_the_real_embedded_components(tmp_path: Path) -> None:
    """`harmonix ask --json` as a user runs it: one JSON object with every organism, the meta sentence, timings."""
    env = {**os.environ, "HARMONIX_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "harmonix", "ask", "What is resonance?", "--json", "--seed", "3"],
                            capture_output=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    document = json.loads(result.stdout)
    for name in (*INHALE, ARTIST):
        assert document[name]["error"] is None, document[name]
        assert document[name]["text"]
    assert {"sentence", "global_resonance", "field_entropy"} <= document["meta"].keys()
    assert {"haiku", "sonnet", "prose", "artist", "inhale", "exhale", "total"} <= document["timings"].keys()
    assert len(document["sonnet"]["lines"]) == 14 and document["haiku"]["syllables"] == [5, 7, 5]
    for span in document["artist"]["spans"]:
        if span["source"] != "artist":
            assert span["text"] in document[span["source"]]["text"], "quoted verbatim"
    assert abs(sum(document["artist"]["shares"].values()) - 1) < 1e-9
    sentence = document["meta"]["sentence"]
    async with open_store(sqlite_url(tmp_path / "home")) as store:
        for name in ORGANISMS:
            assert (await texts_of(store, name, META_SOURCE)).count(sentence) == 1, f"the reverse wave reached {name}"
            assert (await audit(store, name)).ok


async def test_prose_and_artist_settle_their_text_while_they_write_on_the_embedded_model(config: Config) -> None:
    """What settles (the OpenAI stream sends it as it comes) arrives before the stage ends and, joined, begins the
    stage's text. Artist's four lines end in newlines, so its piece always settles before it ends; a paragraph whose
    only sentence ends the text settles only with the reply."""
    events: list[BreathEvent] = []
    async with Harmonix.open(config) as harmonix, harmonix.colony() as colony:
        result = await colony.cascade("What does the harbour remember at night?", seed=11, listener=events.append)
    for stage in (result.prose, result.artist):
        assert stage.text, stage.error
        settled = [index for index, event in enumerate(events)
                   if isinstance(event, SettledEvent) and event.organism == stage.name]
        ended = next(index for index, event in enumerate(events)
                     if isinstance(event, StageEvent) and event.stage.name == stage.name)
        assert all(index < ended for index in settled)
        shown = "".join(event.text for event in events if isinstance(event, SettledEvent)
                        and event.organism == stage.name)
        assert stage.text.startswith(shown)
        assert shown or stage.name != ARTIST, "Artist's piece settles while it writes"


async def test_a_stalled_organism_times_out_and_the_others_answer(config: Config) -> None:
    async with hub_with_doubles(config, stalled="sonnet", timeout_s=1.0) as (hub, store):
        before = await fingerprint(store, "sonnet")
        result = await hub.cascade("the night is long", seed=1)
        after = await texts_of(store, "sonnet")
        assert before != await fingerprint(store, "sonnet"), "the reverse wave did reach it"
    assert result.sonnet.text is None and result.sonnet.error is not None
    assert result.sonnet.error.type == "TimeoutError", "a stage keeps its error's type"
    assert result.haiku.text and result.prose.text and result.artist.text
    assert "sonnet" not in result.artist.text and "haiku and prose" in result.artist.text, "Artist heard who came"
    assert result.meta.sentence is not None
    assert [t for t in after if t != result.meta.sentence] == [], "the stalled turn left nothing but the reverse wave"


async def test_a_named_failure_is_logged_without_a_traceback_and_a_bug_with_one(
        config: Config, caplog: pytest.LogCaptureFixture) -> None:
    """An organism that cannot compose is an expected outcome a user reads in one line; an unexpected error is a
    bug, and its traceback is what a developer needs. Both are reported in the stage and the breath goes on."""

    async def cannot_compose(stimulus: Stimulus) -> None:
        raise CompositionFailed("no line it may keep")

    async def broken(stimulus: Stimulus) -> None:
        raise RuntimeError("a bug")

    async with hub_with_doubles(config) as (hub, _store):
        hub.organisms["prose"].respond = cannot_compose  # type: ignore[method-assign]
        hub.organisms["sonnet"].respond = broken  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="harmonix.meta"):
            result = await hub.cascade("the night is long", seed=1)
    assert result.prose.error is not None and result.prose.error.type == "CompositionFailed"
    assert result.sonnet.error is not None and result.sonnet.error.type == "RuntimeError"
    assert result.haiku.text and result.artist.text
    told = {record.getMessage().split(" ")[0]: record for record in caplog.records if "failed" in record.getMessage()}
    assert told["prose"].exc_info is None, "a named failure: one line, no traceback"
    assert told["sonnet"].exc_info is not None, "a bug keeps its traceback"


async def test_eight_concurrent_cascades_keep_every_field_sequential_and_whole(config: Config) -> None:
    async with hub_with_doubles(config, pause_s=0.02) as (hub, store):
        results = await asyncio.gather(*(hub.cascade(f"prompt number {i}", seed=i) for i in range(8)))
        assert all(stage.error is None for result in results for stage in result.stages)
        for name in ORGANISMS:
            assert (await audit(store, name)).ok, name
            async with Field.open(store, name, create=False) as field:
                dump = await field.dump()
            seen = [turn[4] for turn in dump.turns]
            metas = sum(text[1] == META_SOURCE for text in dump.texts)
            assert seen == list(range(8)), f"{name}: turns interleaved: {seen}"
            assert metas == 8, f"{name} got {metas} reverse waves"
        hub_audit = await audit(store, HUB)
    assert hub_audit.ok and hub_audit.turns == 8


async def test_a_cancelled_cascade_releases_every_lock(config: Config) -> None:
    """Cancelled while Prose is still generating: Prose's turn rolls back, Artist and the exhale never happen, the
    organisms that had finished keep their whole turn (a cascade is not a transaction across organisms: they share
    nothing), and every lock is free for the next breath."""
    async with hub_with_doubles(config, timeout_s=600) as (hub, store):
        await hub.cascade("a first breath", seed=1)
        hub.organisms["prose"].stall = True  # type: ignore[attr-defined]
        before = await fingerprints(store, FIELDS)
        finished: set[str] = set()
        haiku_and_sonnet = asyncio.Event()

        def listener(event: BreathEvent) -> None:
            if isinstance(event, StageEvent):
                finished.add(event.stage.name)
                if {"haiku", "sonnet"} <= finished:
                    haiku_and_sonnet.set()

        task = asyncio.create_task(hub.cascade("a breath that is cancelled", seed=2, listener=listener))
        async with asyncio.timeout(60):  # a readiness signal, not a guess: both done, Prose inside its turn
            await haiku_and_sonnet.wait()
            await hub.organisms["prose"].stalled.wait()  # type: ignore[attr-defined]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = await fingerprints(store, FIELDS)
        for name in ("prose", ARTIST, HUB):
            assert after[name] == before[name], f"{name} changed"
        for name in ("haiku", "sonnet"):
            result = await audit(store, name)
            assert result.ok and result.turns == 2, f"{name}: one whole turn more, nothing half-done"
        hub.organisms["prose"].stall = False  # type: ignore[attr-defined]
        async with asyncio.timeout(30):
            result = await hub.cascade("the next breath", seed=3)
    assert all(stage.error is None for stage in result.stages)


async def test_sequential_and_parallel_give_the_same_breath(tmp_path: Path) -> None:
    results = []
    for name, sequential in (("a", False), ("b", True)):
        async with hub_with_doubles(Config.load(tmp_path / name)) as (hub, _):
            results.append(await hub.cascade("winter light", seed=9, sequential=sequential))
    parallel, sequential = results
    assert [s.text for s in parallel.stages] == [s.text for s in sequential.stages]
    assert parallel.meta == sequential.meta


async def test_a_bad_prompt_touches_nothing(config: Config) -> None:
    async with hub_with_doubles(config) as (hub, store):
        before = await fingerprints(store, FIELDS)
        for bad in ("", "   ", "\x00binary", "x" * 1_000_000):
            with pytest.raises(InvalidText):
                await hub.cascade(bad)
        assert before == await fingerprints(store, FIELDS)


class TestMetaSentence:
    TEXTS = ["the sea keeps the light of the long night", "the light of the moon falls on the quiet sea and sleeps",
             "a quiet river keeps the moon in its arms until morning"]

    def test_a_new_sentence_of_8_to_20_words_from_the_turns_words(self) -> None:
        words = {w for text in self.TEXTS for w in tokenize(text)}
        whole = {" ".join(s) for text in self.TEXTS for s in sentences_of(text)}
        for seed in range(10):
            sentence = meta_sentence(self.TEXTS, np.random.default_rng(seed))
            assert sentence is not None and sentence[0].isupper() and sentence.endswith(".")
            tokens = tokenize(sentence)
            assert 8 <= len(tokens) <= 20 and set(tokens) <= words
            assert " ".join(tokens) not in whole, "not a sentence one organism already said"

    def test_the_pronoun_i_is_capitalised(self) -> None:
        texts = ["and i think that i'm the sea that keeps the light", "i know the sea that keeps the light of the moon"]
        sentences = {meta_sentence(texts, np.random.default_rng(seed)) for seed in range(10)}
        assert all(" i " not in s and " i'" not in s for s in sentences if s)

    def test_nothing_to_walk(self) -> None:
        assert meta_sentence([], np.random.default_rng(0)) is None
        assert meta_sentence(["Too short."], np.random.default_rng(0)) is None
