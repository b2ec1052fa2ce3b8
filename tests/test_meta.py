"""MetaHarmonix: the cascade on real components, and its guarantees with test doubles behind the organism protocol
(a stalled organism, eight concurrent cascades, a cancelled cascade)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fieldtools import fingerprint
from harmonix.config import Config
from harmonix.errors import InvalidText
from harmonix.field import Field, audit_field
from harmonix.meta import ARTIST, INHALE, META_SOURCE, MetaHarmonix, meta_sentence, sentences_of
from harmonix.organisms.base import Stimulus
from harmonix.organisms.haiku import Haiku
from harmonix.text import tokenize


@dataclass(frozen=True)
class DoubleReply:
    text: str
    dissonance: float


class Double:
    """A test double behind the organism protocol: a real field and a real turn, a scripted answer, an optional
    pause while "generating", or a stall that never ends."""

    def __init__(self, name: str, field: Field, *, pause_s: float = 0.0, stall: bool = False) -> None:
        self.name, self._field, self.pause_s, self.stall = name, field, pause_s, stall

    @property
    def field(self) -> Field:
        return self._field

    async def respond(self, stimulus: Stimulus) -> DoubleReply:
        async with self._field.turn() as turn:
            await turn.wrinkle(stimulus.prompt)
            await turn.snapshot(__import__("random").Random(stimulus.seed))
            if self.stall:
                await asyncio.Event().wait()
            await asyncio.sleep(self.pause_s)
            heard = " and ".join(sorted(stimulus.voices)) or "nothing yet"
            text = f"The {self.name} answers with seed {stimulus.seed % 97} after hearing {heard}."
            await turn.ingest(text)
            await turn.record(dissonance=0.5)
        return DoubleReply(text, 0.5)


@contextlib.asynccontextmanager
async def hub_with_doubles(config: Config, *, stalled: str | None = None, pause_s: float = 0.01,
                           timeout_s: float = 60) -> AsyncIterator[MetaHarmonix]:
    """Real HAiKU, doubles for the others (a real field each)."""
    async with contextlib.AsyncExitStack() as stack:
        organisms = {"haiku": await stack.enter_async_context(Haiku.open(config))}
        for name in ("sonnet", "prose", ARTIST):
            field = await stack.enter_async_context(Field.open(config.field_path(name), name))
            organisms[name] = Double(name, field, pause_s=pause_s, stall=name == stalled)
        yield await stack.enter_async_context(MetaHarmonix.open(config, organisms=organisms, timeout_s=timeout_s))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.load(tmp_path / "home")


def test_full_cascade_on_the_real_embedded_components(tmp_path: Path) -> None:
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
    for name in (*INHALE, ARTIST):
        conn = sqlite3.connect(tmp_path / "home" / "fields" / f"{name}.sqlite3")
        assert conn.execute("SELECT count(*) FROM texts WHERE source = ? AND body = ?",
                            (META_SOURCE, sentence)).fetchone()[0] == 1, f"the reverse wave reached {name}"
        conn.close()
        assert audit_field(tmp_path / "home" / "fields" / f"{name}.sqlite3").ok


async def test_a_stalled_organism_times_out_and_the_others_answer(config: Config) -> None:
    async with hub_with_doubles(config, stalled="sonnet", timeout_s=1.0) as hub:
        before = fingerprint(config.field_path("sonnet"))
        result = await hub.cascade("the night is long", seed=1)
    assert result.sonnet.text is None and "TimeoutError" in (result.sonnet.error or "")
    assert result.haiku.text and result.prose.text and result.artist.text
    assert "sonnet" not in result.artist.text and "haiku and prose" in result.artist.text, "Artist heard who came"
    assert result.meta.sentence is not None
    after = await _texts(config, "sonnet")
    assert [t for t in after if t != result.meta.sentence] == [], "the stalled turn left nothing but the reverse wave"
    assert before != fingerprint(config.field_path("sonnet")), "the reverse wave did reach it"


async def test_eight_concurrent_cascades_keep_every_field_sequential_and_whole(config: Config) -> None:
    async with hub_with_doubles(config, pause_s=0.02) as hub:
        results = await asyncio.gather(*(hub.cascade(f"prompt number {i}", seed=i) for i in range(8)))
    assert all(stage.error is None for result in results for stage in result.stages)
    for name in (*INHALE, ARTIST):
        path = config.field_path(name)
        assert audit_field(path).ok, name
        conn = sqlite3.connect(path)
        seen = [row[0] for row in conn.execute("SELECT seen_turns FROM turns ORDER BY id")]
        metas = conn.execute("SELECT count(*) FROM texts WHERE source = ?", (META_SOURCE,)).fetchone()[0]
        conn.close()
        assert seen == list(range(8)), f"{name}: turns interleaved: {seen}"
        assert metas == 8, f"{name} got {metas} reverse waves"
    hub_audit = audit_field(config.field_path("meta"))
    assert hub_audit.ok and hub_audit.turns == 8


async def test_a_cancelled_cascade_releases_every_lock(config: Config) -> None:
    """Cancelled while Prose is still generating: Prose's turn rolls back, Artist and the exhale never happen, the
    organisms that had finished keep their whole turn (a cascade is not a transaction across organisms: they share
    nothing), and every lock is free for the next breath."""
    async with hub_with_doubles(config, timeout_s=600) as hub:
        await hub.cascade("a first breath", seed=1)
        hub.organisms["prose"].stall = True  # type: ignore[attr-defined]
        before = {name: fingerprint(config.field_path(name)) for name in (*INHALE, ARTIST, "meta")}
        task = asyncio.create_task(hub.cascade("a breath that is cancelled", seed=2))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for name in ("prose", ARTIST, "meta"):
            assert fingerprint(config.field_path(name)) == before[name], f"{name} changed"
        for name in ("haiku", "sonnet"):
            audit = audit_field(config.field_path(name))
            assert audit.ok and audit.turns == 2, f"{name}: one whole turn more, nothing half-done"
        hub.organisms["prose"].stall = False  # type: ignore[attr-defined]
        async with asyncio.timeout(30):
            result = await hub.cascade("the next breath", seed=3)
    assert all(stage.error is None for stage in result.stages)


async def test_sequential_and_parallel_give_the_same_breath(tmp_path: Path) -> None:
    results = []
    for name, sequential in (("a", False), ("b", True)):
        async with hub_with_doubles(Config.load(tmp_path / name)) as hub:
            results.append(await hub.cascade("winter light", seed=9, sequential=sequential))
    parallel, sequential = results
    assert [s.text for s in parallel.stages] == [s.text for s in sequential.stages]
    assert parallel.meta == sequential.meta


async def test_a_bad_prompt_touches_nothing(config: Config) -> None:
    async with hub_with_doubles(config) as hub:
        before = {name: fingerprint(config.field_path(name)) for name in (*INHALE, ARTIST, "meta")}
        for bad in ("", "   ", "\x00binary", "x" * 1_000_000):
            with pytest.raises(InvalidText):
                await hub.cascade(bad)
        assert before == {name: fingerprint(config.field_path(name)) for name in (*INHALE, ARTIST, "meta")}


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


async def _texts(config: Config, name: str) -> list[str]:
    conn = sqlite3.connect(config.field_path(name))
    try:
        return [row[0] for row in conn.execute("SELECT body FROM texts ORDER BY id")]
    finally:
        conn.close()
