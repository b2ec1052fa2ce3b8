"""HAiKU: vocabulary and bootstrap, the acceptance figures, reproducibility, the atomic turn, inner life, bad input."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import random
import statistics
from pathlib import Path

import pytest

import harmonix.organisms.haiku as haiku_module
from fieldtools import Stall, audit, audit_in, fingerprint, opened
from harmonix.config import Config
from harmonix.engines.memory import Memory
from harmonix.errors import InvalidText
from harmonix.field import FieldCounts, FieldSnapshot, WordCount
from harmonix.lab.prompts import read_prompts, standard_prompts
from harmonix.lab.training import haiku_bootstrap
from harmonix.metrics import distinct_n, echo
from harmonix.organisms.haiku import (
    ADMIT_AFTER,
    BUDGETS,
    Haiku,
    HaikuReply,
    admitted_words,
    copies_corpus,
    load_bootstrap,
    read_vocabulary,
)
from harmonix.text import STOPWORDS, content_words, is_known, syllables, tokenize


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.load(tmp_path / "home")


async def session(config: Config, turns: int, *, reflect: bool = True, seed: int = 0) -> list[HaikuReply]:
    """``turns`` answers to the standard prompts in order, seeds ``seed, seed + 1, …``, on one HAiKU."""
    prompts = standard_prompts()
    async with opened(config, Haiku, reflect=reflect) as (haiku, _):
        return [await haiku.answer(prompts[i % len(prompts)], seed=seed + i) for i in range(turns)]


class TestVocabularyAndBootstrap:
    def test_core_vocabulary_is_about_500_dictionary_words(self) -> None:
        text = (Path(haiku_bootstrap.VOCABULARY_FILE)).read_text(encoding="utf-8")
        sections = read_vocabulary(text)
        words = [word for line in text.splitlines() if not line.startswith("#") for word in line.split()]
        assert len(words) == len(set(words)), "no word twice"
        assert 450 <= len(words) <= 550
        assert all(word == word.lower() and is_known(word) for word in words)
        assert {"joining words", "sky and weather", "doing and being"} <= sections.keys()

    def test_imagery_excludes_the_joining_words(self) -> None:
        bootstrap = load_bootstrap()
        assert {"sea", "moon", "stone", "bird"} <= bootstrap.imagery
        assert not {"the", "and", "of", "walk"} & bootstrap.imagery

    def test_bootstrap_is_reproducible_from_the_corpus(self) -> None:
        """Rebuilding from the registry packages gives exactly the committed file."""
        rebuilt = haiku_bootstrap.build(haiku_bootstrap.core_vocabulary())
        committed = json.loads(gzip.decompress(haiku_bootstrap.BOOTSTRAP_FILE.read_bytes()))
        assert rebuilt == committed

    def test_bootstrap_holds_only_core_words(self) -> None:
        bootstrap = load_bootstrap()
        for state, following in list(bootstrap.chain.transitions.items())[:5000]:
            assert set(state) | set(following) <= bootstrap.vocabulary

    def test_prompt_set_is_large_and_varied(self) -> None:
        prompts = read_prompts()
        assert len(prompts) >= 60 and len({p.theme for p in prompts}) >= 10


def corpus_windows(n: int) -> set[tuple[str, ...]]:
    windows: set[tuple[str, ...]] = set()
    for works in haiku_bootstrap.bootstrap_layers().values():
        for work in works:
            tokens = tokenize(work.text)
            windows.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return windows


async def test_acceptance_500_haiku(config: Config) -> None:
    """The issue's acceptance, measured: 500 haiku over the standard prompts on one field."""
    replies = await session(config, 500)
    prompts = standard_prompts()
    for reply in replies:
        assert reply.syllables == BUDGETS
        words = tokenize(reply.text)
        assert all(is_known(word) for word in words), reply.text
        assert [sum(syllables(w) for w in line.split()) for line in reply.lines] == list(BUDGETS)
        assert reply.text == "\n".join(reply.lines)
        assert not [line for line in reply.lines if line.split()[-1] in STOPWORDS], reply.text
    copied = corpus_windows(6)
    assert not [r.text for r in replies if any(tuple(tokenize(r.text)[i : i + 6]) in copied for i in range(12))]
    # 0.62 before the prompt leaned the walk (issue 13); the same 72 prompts now call up the same associates about
    # seven times each over 500 haiku, and 0.595 was measured; 0.583 once the walker drew its noise in batches
    # (another stream from the same seeds). Without habituation it is 0.50: the floor keeps a walk that repeats
    # itself out.
    assert distinct_n([r.text for r in replies], 2) >= 0.57
    echoes = [echo(reply.text, prompts[i % len(prompts)]) for i, reply in enumerate(replies)]
    assert None not in echoes
    assert statistics.mean(echoes) <= 0.10
    assert (await audit_in(config, "haiku")).ok


async def test_same_seed_same_field_same_haiku(tmp_path: Path) -> None:
    first = await session(Config.load(tmp_path / "a"), 12, seed=40)
    second = await session(Config.load(tmp_path / "b"), 12, seed=40)
    other = await session(Config.load(tmp_path / "c"), 12, seed=41)
    assert [r.text for r in first] == [r.text for r in second]
    assert [r.reflection for r in first] == [r.reflection for r in second]
    assert [r.text for r in first] != [r.text for r in other]


async def test_copy_check_rejects_corpus_windows() -> None:
    bootstrap = load_bootstrap()
    window = next(iter(w for w in corpus_windows(6) if all(word in bootstrap.vocabulary for word in w)))
    assert copies_corpus(("sea", *window, "stone"), bootstrap)
    assert not copies_corpus(("sea", "stone", "sea", "stone", "sea", "stone"), bootstrap)


def snapshot_with_words(counts: dict[str, int]) -> FieldSnapshot:
    words = tuple(WordCount(word=w, own=0, heard=n) for w, n in counts.items())
    return FieldSnapshot(name="haiku", recent=(), random=(), trigrams=(), words=words, disturbances=(),
                         last_spoken=None, counts=FieldCounts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), state={})


def test_words_outside_the_core_are_admitted_once_heard_enough() -> None:
    bootstrap = load_bootstrap()
    assert "quasar" not in bootstrap.vocabulary and is_known("quasar") and not is_known("zzyzxq")
    assert "quasar" not in admitted_words(snapshot_with_words({"quasar": ADMIT_AFTER - 1}), bootstrap)
    assert "quasar" in admitted_words(snapshot_with_words({"quasar": ADMIT_AFTER}), bootstrap)
    assert "zzyzxq" not in admitted_words(snapshot_with_words({"zzyzxq": 99}), bootstrap), "CMUdict must know it"


async def test_a_heard_word_joins_the_walk_once_admitted(config: Config) -> None:
    """Heard twice, "quasar" has no path in HAiKU's chain; heard a third time, the walk can reach it from the state
    ("and", "the") that the heard trigram ("and", "the", "quasar") joins."""
    async with opened(config, Haiku) as (haiku, store):

        async def reachable() -> bool:
            snapshot = await haiku.field.snapshot(random.Random(0), haiku_module.snapshot_spec("quasar", Memory.load()))
            chain = haiku_module.turn_chain("nothing new", snapshot, load_bootstrap())
            return "quasar" in chain.transitions.get(("and", "the"), {})

        for _ in range(ADMIT_AFTER - 1):
            await haiku.field.wrinkle("and the quasar of the night")
        assert not await reachable()
        await haiku.field.wrinkle("and the quasar of the night")
        assert await reachable()


class TestTheTurn:
    async def test_one_turn_writes_one_whole_turn(self, config: Config) -> None:
        async with opened(config, Haiku) as (haiku, store):
            reply = await haiku.answer("What does the sea remember at night?", seed=3)
            stats = await haiku.field.stats()
        assert (stats.counts.disturbances, stats.counts.turns) == (1, 1)
        assert stats.counts.texts == 1 + (reply.reflection is not None)
        assert 0 <= reply.dissonance <= 1 and 0.6 <= reply.temperature <= 1.1
        assert all(0 <= v <= 1 for v in (reply.pulse.novelty, reply.pulse.arousal, reply.pulse.entropy))
        result = await audit_in(config, "haiku")
        assert result.ok, result.violations

    async def test_dissonance_is_measured_against_the_field(self, config: Config) -> None:
        async with opened(config, Haiku) as (haiku, store):
            foreign = await haiku.answer("zorblax quindlewort", seed=1)
            own_words = await haiku.answer(foreign.text, seed=2)
            again = [await haiku.answer("zorblax quindlewort", seed=3 + i) for i in range(3)]
        assert foreign.dissonance == 1.0, "words neither the field nor the memory ever met"
        assert own_words.dissonance < 0.75, "HAiKU's own words are familiar to it"
        assert own_words.temperature < foreign.temperature
        assert [reply.dissonance for reply in again] == sorted(reply.dissonance for reply in again)[::-1]
        assert again[-1].dissonance < again[0].dissonance, "a prompt heard before grows familiar"

    async def test_concurrent_turns_on_one_haiku_are_sequential(self, config: Config) -> None:
        prompts = standard_prompts()[:12]
        async with opened(config, Haiku) as (haiku, store):
            replies = await asyncio.gather(*(haiku.answer(p, seed=i) for i, p in enumerate(prompts)))
            dump = await haiku.field.dump()
            assert (await audit(store, "haiku")).ok
        bodies = {text[0]: text[2] for text in dump.texts}
        assert [turn[4] for turn in dump.turns] == list(range(12))
        assert sorted(bodies[turn[3]] for turn in dump.turns) == sorted(r.text for r in replies)

    async def test_two_haiku_on_two_fields_do_not_wait_for_each_other(self, tmp_path: Path) -> None:
        async with opened(Config.load(tmp_path / "a"), Haiku) as (a, _), \
                opened(Config.load(tmp_path / "b"), Haiku) as (b, _):
            held, release = asyncio.Event(), asyncio.Event()

            async def hold_b() -> None:
                async with b.field.turn() as turn:
                    await turn.wrinkle("holding b's lock")
                    held.set()
                    await release.wait()

            holder = asyncio.create_task(hold_b())
            await held.wait()
            async with asyncio.timeout(30):
                reply = await a.answer("the other organism is busy", seed=1)
            release.set()
            await holder
        assert reply.syllables == BUDGETS

    async def test_cancelled_turn_leaves_the_field_unchanged(self, config: Config,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
        async with opened(config, Haiku) as (haiku, store):
            await haiku.answer("a first turn", seed=0)
            before = await fingerprint(store, "haiku")
            stall = Stall(monkeypatch, haiku_module, "compose")
            await stall.cancel_inside(haiku.answer("a turn that is cancelled while composing", seed=1))
            assert await fingerprint(store, "haiku") == before
            stall.release()
            async with asyncio.timeout(30):
                await haiku.answer("the next turn is fine", seed=2)

    @pytest.mark.parametrize("bad", ["", "   \n", "x" * 1_000_000, "binary\x00\x01\x02", b"bytes"],
                             ids=["empty", "whitespace", "1MB", "binary", "bytes"])
    async def test_bad_prompt_is_refused_and_the_field_unchanged(self, config: Config, bad: object) -> None:
        async with opened(config, Haiku) as (haiku, store):
            await haiku.answer("a first turn", seed=0)
            before = await fingerprint(store, "haiku")
            with pytest.raises(InvalidText):
                await haiku.answer(bad)  # type: ignore[arg-type]
            assert await fingerprint(store, "haiku") == before


class TestInnerLife:
    async def test_scorer_changes_the_choice(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The scorer is not decoration: with it, chosen haiku carry more imagery than the first candidate would."""
        imagery = load_bootstrap().imagery

        def imagery_share(replies: list[HaikuReply]) -> float:
            return statistics.mean(sum(w in imagery for w in r.text.split()) / len(r.text.split()) for r in replies)

        scored = await session(Config.load(tmp_path / "scored"), 60)
        monkeypatch.setattr(haiku_module, "score", lambda candidate, **kwargs: 0.0)
        first = await session(Config.load(tmp_path / "first"), 60)
        assert imagery_share(scored) > imagery_share(first) + 0.02

    async def test_reflection_carries_the_theme_into_the_next_turn(self, tmp_path: Path) -> None:
        """The measured effect that keeps the reflection in HAiKU (see its module docstring): the words of the
        previous prompt in a haiku, leaving out those of the prompt it answers (HAiKU listens to that one)."""
        prompts = standard_prompts()

        def carry(replies: list[HaikuReply]) -> float:
            shares = []
            for i in range(1, len(replies)):
                mine = content_words(tokenize(replies[i].text))
                before = (set(content_words(tokenize(prompts[(i - 1) % len(prompts)])))
                          - set(content_words(tokenize(prompts[i % len(prompts)]))))
                shares.append(sum(w in before for w in mine) / len(mine) if mine else 0.0)
            return statistics.mean(shares)

        reflecting = await session(Config.load(tmp_path / "on"), 150, reflect=True)
        silent = await session(Config.load(tmp_path / "off"), 150, reflect=False)
        assert carry(reflecting) > 2 * carry(silent)
        assert statistics.mean(echo(r.text, prompts[i % len(prompts)]) or 0 for i, r in enumerate(reflecting)) <= 0.10

    async def test_the_walk_leans_towards_what_the_prompt_calls_up(self, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
        """With the lean, more of a haiku's words are words the memory associates with its prompt than without;
        and the prompt's own words do not come back more for it."""
        memory = Memory.load()
        prompts = standard_prompts()

        def association(replies: list[HaikuReply]) -> float:
            shares = []
            for i, reply in enumerate(replies):
                called_up = {word for word, _ in memory.called_up(content_words(tokenize(prompts[i])), 48)}
                mine = content_words(tokenize(reply.text))
                shares.append(sum(word in called_up for word in mine) / len(mine) if mine else 0.0)
            return statistics.mean(shares)

        leaning = await session(Config.load(tmp_path / "on"), 48)
        real_listen = haiku_module.listen
        monkeypatch.setattr(haiku_module, "listen", lambda *args, **kwargs: dataclasses.replace(
            real_listen(*args, **kwargs), lean={}))
        upright = await session(Config.load(tmp_path / "off"), 48)
        assert association(leaning) > 1.5 * association(upright)
        echoes = [statistics.mean(echo(r.text, prompts[i]) or 0 for i, r in enumerate(replies))
                  for replies in (leaning, upright)]
        assert echoes[0] <= echoes[1] + 0.02
