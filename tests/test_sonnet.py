"""Sonnet: the form's guide, the scheme, the phase machine, and the organism's turn."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import numpy as np
import pytest

import harmonix.organisms.sonnet as sonnet_module
from fieldtools import Stall, audit_in, fingerprint, opened
from harmonix.config import Config
from harmonix.engines.charformer import Sample
from harmonix.engines.memory import Memory
from harmonix.errors import InvalidText
from harmonix.field import FieldCounts, FieldSnapshot
from harmonix.lab.prompts import standard_prompts
from harmonix.organisms.haiku import Haiku
from harmonix.organisms.listening import Listening, listen
from harmonix.organisms.sonnet import (
    LEADS,
    LINE_ATTEMPTS,
    OPENERS,
    OPENING_CHOICES,
    OPENING_FLOOR,
    PHASES,
    RESCUE_ATTEMPTS,
    SCHEME,
    LineGuide,
    Phase,
    Sonnet,
    clean_line,
    compose,
    iambic_score,
    load_copy_filter,
    load_engine,
    load_rhymes,
    next_phase,
    opened_on,
    openers,
    packaged_model_dir,
    priming_text,
    punctuate,
    rank_candidate,
    read_line,
    scheme_of,
    stale_grams,
)
from harmonix.text import is_known, ngrams, rhyme_key, syllables, tokenize

MEMORY = Memory.build([
    "The sea rolls waves onto the shore and the salt stays on the rocks.",
    "Waves break on the shore at night while the sea keeps its salt.",
    "The kitchen smells of bread and the oven hums while the bread rises.",
])


def snapshot_of() -> FieldSnapshot:
    return FieldSnapshot(name="sonnet", recent=(), random=(), trigrams=(), words=(), disturbances=(),
                         last_spoken=None, counts=FieldCounts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), state={})


VOCAB = CHARS = "\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def allowed_chars(mask: np.ndarray | None) -> set[str]:
    return set(VOCAB) if mask is None else {char for char, ok in zip(VOCAB, mask, strict=True) if ok}


class TestLineGuide:
    def test_a_line_starts_with_a_capital(self) -> None:
        guide = LineGuide(VOCAB, load_rhymes(packaged_model_dir()), None, None)
        assert allowed_chars(guide.allowed(0, "")) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

    def test_no_newline_before_nine_syllables_and_after_eleven_nothing(self) -> None:
        guide = LineGuide(VOCAB, load_rhymes(packaged_model_dir()), None, None)
        assert "\n" not in allowed_chars(guide.allowed(0, "The night is dark and"))
        assert "\n" in allowed_chars(guide.allowed(0, "The winter night is cold and full of care"))
        assert not allowed_chars(guide.allowed(0, "The winter night is very cold and full of care and "))

    def test_no_newline_on_a_function_word(self) -> None:
        guide = LineGuide(VOCAB, load_rhymes(packaged_model_dir()), None, None)
        assert "\n" not in allowed_chars(guide.allowed(0, "The winter night is cold and full of the"))

    def test_each_row_spells_its_share_of_the_openings_then_goes_free(self) -> None:
        guide = LineGuide(VOCAB, load_rhymes(packaged_model_dir()), None, None, ("Ocean", "The shore"))
        assert allowed_chars(guide.allowed(0, "")) == {"O"} and allowed_chars(guide.allowed(1, "")) == {"T"}
        assert allowed_chars(guide.allowed(2, "Oce")) == {"a"}, "row 2 opens as row 0 does"
        assert allowed_chars(guide.allowed(3, "The")) == {" "} and allowed_chars(guide.allowed(3, "The ")) == {"s"}
        assert allowed_chars(guide.allowed(0, "Ocean")) == {" "}
        assert len(allowed_chars(guide.allowed(0, "Ocean "))) > 20
        unspellable = LineGuide(VOCAB, load_rhymes(packaged_model_dir()), None, None, ("Océan",))
        assert allowed_chars(unspellable.allowed(0, "")) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

    def test_the_second_line_of_a_pair_spells_a_rhyme(self) -> None:
        rhymes = load_rhymes(packaged_model_dir())
        guide = LineGuide(VOCAB, rhymes, rhyme_key("day"), "day")
        text = "And all the light of summer fades "  # 8 syllables: rhyme mode from here
        first = allowed_chars(guide.allowed(0, text))
        fitting = {w for w in rhymes[rhyme_key("day")] if 9 <= 8 + syllables(w) <= 11 and w != "day"}
        assert first == {w[0] for w in fitting}
        assert "a" in first
        spelled = text + "away"
        assert {"\n", ",", "."} <= allowed_chars(guide.allowed(0, spelled))
        assert allowed_chars(guide.allowed(0, spelled + ".")) == {"\n"}
        assert "d" not in allowed_chars(guide.allowed(1, text)) or "day" not in fitting


def test_scheme_of_needs_different_words_with_the_same_rhyme() -> None:
    ends = ["day", "night", "away", "light", "sea", "stone", "moon", "alone", "tree", "time", "free", "rhyme", "fire",
            "desire"]
    lines = [f"Some words that end on {end}" for end in ends]
    assert scheme_of(lines) == "ABAB-D-DEFEFGG", "sea and moon do not rhyme"
    lines[2] = "Some words that end on day"
    assert scheme_of(lines)[:4] == "-B-B", "identical words do not rhyme"


def test_punctuate_closes_quatrains_and_couplet() -> None:
    lines = punctuate([f"Line {i}" for i in range(13)] + ["Last line?"])
    assert [line[-1] for line in lines] == list(",,,.,,,.,,,.,?")


def test_clean_line() -> None:
    assert clean_line("  , and the  sea ; remembers [x] 42 ") == "And the sea; remembers x"


def test_a_line_is_valid_only_when_every_word_is_in_the_dictionary() -> None:
    """A coined word would make the syllable count a guess: the same line with one coined word is refused."""
    copy_filter = load_copy_filter(packaged_model_dir())
    real = read_line("When winter winds have blown across the sea", copy_filter)
    coined = read_line("When mempty winds have blown across the sea", copy_filter)
    assert real.valid and real.syllables == 10
    assert not is_known("mempty") and 9 <= coined.syllables <= 11 and coined.rhyme == real.rhyme
    assert not coined.valid


def test_a_slot_prefers_valid_lines_then_one_coined_word_then_anything() -> None:
    copy_filter = load_copy_filter(packaged_model_dir())
    partner = read_line("When winter winds have blown across the sea", copy_filter)
    valid = read_line("And all my hopes lie buried in the tree", copy_filter)
    one_coined = read_line("And all my mempty buried in the tree", copy_filter)
    unrhymed = read_line("And all my hopes lie buried in the night", copy_filter)
    assert valid.valid and one_coined.shaped and one_coined.coined == 1 and unrhymed.valid
    ranked = sorted([unrhymed, one_coined, valid], key=lambda line: rank_candidate(line, partner), reverse=True)
    assert ranked == [valid, one_coined, unrhymed]
    assert rank_candidate(unrhymed, None)[0] == 2, "a first line of a pair has no partner to rhyme with"


def test_a_line_carrying_the_lean_wins_a_tie_of_form() -> None:
    """Between two equally well-formed lines, the one with a word the prompt called up ranks higher."""
    heard = listen("the sea at night", snapshot_of(), MEMORY)
    assert "waves" in heard.lean
    copy_filter = load_copy_filter(packaged_model_dir())
    plain_line = read_line("The quiet evening settles on the hill", copy_filter)
    leaning = read_line("The quiet evening settles on the waves", copy_filter)
    assert rank_candidate(leaning, None, heard) > rank_candidate(plain_line, None, heard)
    assert rank_candidate(leaning, None)[1] - rank_candidate(plain_line, None)[1] < \
        rank_candidate(leaning, None, heard)[1] - rank_candidate(plain_line, None, heard)[1]


def test_a_phrase_used_lately_loses_a_tie_of_form() -> None:
    """Habituation: the same line ranks lower once its 4-grams are stale, counting one that starts in the words
    before it."""
    copy_filter = load_copy_filter(packaged_model_dir())
    line = read_line("And in the time of the winter of my years", copy_filter)
    stale = stale_grams(["Upon the hill at the time of the dawn"])
    assert ("time", "of", "the", "winter") not in stale and ("the", "time", "of", "the") in stale
    fresh_tier, fresh = rank_candidate(line, None)
    weary_tier, weary = rank_candidate(line, None, stale=stale)
    assert weary_tier == fresh_tier and weary < fresh
    across = stale_grams(["so long at last and in"])
    assert rank_candidate(line, None, stale=across, before=["so", "long", "at", "last"])[1] < fresh
    assert rank_candidate(line, None, stale=across)[1] == fresh, "no words before: nothing spans into the line"


def test_a_sonnet_weary_of_its_last_one_does_not_repeat_its_phrases() -> None:
    """Same model, priming and seed: without habituation the sonnet comes back word for word; weary of it, Sonnet
    chooses other candidates and shares few of its 4-grams."""
    engine = load_engine()

    def written(habit: list[str]) -> str:
        composition = compose(engine.model, engine.copy_filter, engine.rhymes, "The winter light upon the hill,\n",
                              0.8, np.random.default_rng(5), habit=habit)
        return "\n".join(composition.lines)

    first = written([])
    assert written([]) == first
    again = written([first])
    grams = set(ngrams(tokenize(first), 4))
    shared = grams & set(ngrams(tokenize(again), 4))
    assert len(shared) <= 0.2 * len(grams), sorted(shared)


def test_a_sonnet_opens_its_quatrains_on_what_the_prompt_called_up_each_word_once() -> None:
    """The lines ``planted`` names are quatrain (or couplet) openings, each beginning on a different lean word,
    alone or after a lead; no other line is named."""
    engine = load_engine()
    heard = listen("the sea at night", snapshot_of(), MEMORY)
    composition = compose(engine.model, engine.copy_filter, engine.rhymes, "The winter light upon the hill,\n", 0.6,
                          np.random.default_rng(3), heard)
    assert composition.planted and set(composition.planted) <= {0, 4, 8, 12}
    words = []
    for index in composition.planted:
        opening = tokenize(composition.lines[index])[:2]
        word = opening[0] if opening[0] in heard.lean else opening[1]
        assert word in heard.strongest(OPENING_CHOICES + len(words)) and (word == opening[0] or
                                                                          opening[0].capitalize() + " " in LEADS)
        words.append(word)
    assert len(set(words)) == len(words)


def test_a_line_no_hot_batch_could_shape_is_tried_again_cool() -> None:
    """Form comes first: when ``LINE_ATTEMPTS`` batches at the phase's temperature bring no shaped line, Sonnet
    samples up to ``RESCUE_ATTEMPTS`` more at the coolest phase's temperature, and the next line starts hot again.
    The model here is a stand-in that writes a good line only when cool: what is tested is how compose asks."""
    engine = load_engine()
    asked: list[float] = []

    class CoolOnly:
        config = engine.model.config

        def sample(self, contexts: list[str], *, temperature: float, **_: object) -> list[Sample]:
            asked.append(temperature)
            text = "When winter winds have blown across the sea" if temperature <= 0.5 else "and the"
            return [Sample(text=text, mean_log_probability=-1.0) for _ in contexts]

    composition = compose(CoolOnly(), engine.copy_filter, engine.rhymes, "", 0.8,  # type: ignore[arg-type]
                          np.random.default_rng(0))
    cool = PHASES[0][2]
    assert asked[:LINE_ATTEMPTS + 1] == [0.8] * LINE_ATTEMPTS + [cool]
    assert asked[LINE_ATTEMPTS + 1] == 0.8, "the next line starts at the phase's temperature again"
    assert composition.lines[0].startswith("When winter winds have blown across the sea")
    assert composition.batches == len(asked) <= len(SCHEME) * (LINE_ATTEMPTS + RESCUE_ATTEMPTS)


def test_a_quatrain_may_open_on_called_up_words_the_model_can_carry_never_on_the_prompts() -> None:
    """The openings are the lean's words, alone or after a lead such as "The", the ``OPENERS`` the model finds
    likeliest to begin a line, never a prompt word and never a word already opened on; an opening the model would
    not write there is not forced on it."""
    model = load_engine().model
    heard = listen("the sea at night", snapshot_of(), MEMORY)
    context = "When I do count the clock that tells the time,\n"
    options = openers(model, context, heard, [])
    choices = heard.strongest(OPENING_CHOICES)
    every = [lead + word if lead else word.capitalize() for word in choices for lead in LEADS]
    scores = dict(zip(every, model.score(context, [option + " " for option in every]), strict=True))
    assert 0 < len(options) <= OPENERS and all(option in every for option in options)
    assert [scores[option] for option in options] == sorted(scores.values(), reverse=True)[:len(options)]
    assert min(scores[option] for option in options) >= OPENING_FLOOR
    words = {option.split()[-1].lower() for option in options}
    assert words <= set(choices) and not words & {"sea", "night"}
    first = options[0].split()[-1].lower()
    assert all(option.split()[-1].lower() != first for option in openers(model, context, heard, [first])), \
        "a word opened on is not opened on again"
    strange = Listening(words=("quux",), dissonance=1.0, lean={"zzyzx": 1.0}, query={}, recalled={}, memory=MEMORY)
    assert max(model.score(context, [lead + ("zzyzx" if lead else "Zzyzx") + " " for lead in LEADS])) < OPENING_FLOOR
    assert openers(model, context, strange, []) == (), "an improbable word is not planted"


def test_a_line_tells_which_opening_it_took() -> None:
    assert opened_on("The shore is wide and all the waves are grey", ("Ocean", "The shore")) == "shore"
    assert opened_on("The shoreline bends", ("The shore",)) is None, "a longer word is not the opening"
    assert opened_on("And all the night", ("Ocean",)) is None


def test_priming_names_what_the_prompt_calls_up_and_the_lines_that_resonate() -> None:
    heard = listen("the sea at night", snapshot_of(), MEMORY)
    own = ["Upon the hill the evening bread is warm\nThe waves come in and leave the shore to salt",
           "A train goes by the station in the dawn"]
    prime = priming_text(own, heard)
    lines = prime.splitlines()
    assert lines[0] == "The waves come in and leave the shore to salt", "the most resonant own line first"
    assert lines[-1].startswith("Of ") and "waves" in lines[-1]
    assert not {"sea", "night"} & set(tokenize(lines[-1])), "the prompt's own words are never named"


def test_iambic_score() -> None:
    assert iambic_score(tokenize("Shall I compare thee to a summer's day")) == 1.0
    assert iambic_score(tokenize("Listen, mother, happy river")) == 0.0, "four trochees"


class TestPhaseMachine:
    def test_energy_and_bands(self) -> None:
        first = next_phase(None, 1.0)
        assert (first.name, first.energy, first.temperature) == ("plasma", 1.0, PHASES[-1][2])
        assert next_phase(None, 0.1).name == "crystalline"

    def test_hysteresis_keeps_a_phase_near_its_edge(self) -> None:
        liquid = Phase("liquid", 0.5, 0.6)
        assert next_phase(liquid, 0.8).name == "liquid", "energy 0.62: past 0.6 but not by 0.05"
        assert next_phase(liquid, 1.0).name == "vapour", "energy 0.7"
        assert next_phase(Phase("vapour", 0.62, 0.7), 0.5).name == "vapour", "energy 0.572: inside the margin"

    def test_temperature_is_monotone_in_the_phase(self) -> None:
        assert [t for _, _, t in PHASES] == sorted(t for _, _, t in PHASES)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.load(tmp_path / "home")


async def test_a_turn_writes_a_whole_sonnet_and_keeps_its_phase_in_the_field(config: Config) -> None:
    async with opened(config, Sonnet) as (sonnet, store):
        reply = await sonnet.answer("What does the sea remember at night?", context="salt and silence", seed=1)
        snapshot = await sonnet.field.snapshot(random.Random(0))
    assert len(reply.lines) == 14 and reply.text == "\n".join(reply.lines)
    assert len(reply.syllables) == 14 and len(reply.rhyme_scheme) == 14
    assert reply.rhyme_scheme == scheme_of(reply.lines)
    assert dict(snapshot.state["phase"])["name"] == reply.phase
    assert snapshot.last_spoken is not None and snapshot.last_spoken.body == reply.text
    assert [path.name for path in Path(config.home).rglob("*.json")] == ["colony.json"], \
        "the phase lives in the field, not in a file beside it"
    assert (await audit_in(config, "sonnet")).ok


async def test_same_seed_same_sonnet(tmp_path: Path) -> None:
    texts = []
    for name in ("a", "b"):
        async with opened(Config.load(tmp_path / name), Sonnet) as (sonnet, _):
            texts.append((await sonnet.answer("winter light", seed=9)).text)
    assert texts[0] == texts[1]


async def test_sonnet_does_not_block_a_concurrent_haiku_turn(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Generation runs off the event loop: HAiKU answers several times while one sonnet is inside its composition
    (held there until they have; composed on the event loop, the hold would stop HAiKU too)."""
    async with opened(config, Sonnet) as (sonnet, _), opened(config, Haiku) as (haiku, _):
        stall = Stall(monkeypatch, sonnet_module, "compose")
        writing = asyncio.create_task(sonnet.answer("the long night", seed=2))
        await stall.entered()
        for i in range(3):
            await haiku.answer(f"a quick question {i}", seed=i)
        assert not writing.done(), "three haiku while the sonnet is still being written"
        stall.release()
        await writing


async def test_cancelled_turn_leaves_the_field_unchanged(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    async with opened(config, Sonnet) as (sonnet, store):
        await sonnet.answer("a first turn", seed=0)
        before = await fingerprint(store, "sonnet")
        stall = Stall(monkeypatch, sonnet_module, "compose")
        await stall.cancel_inside(sonnet.answer("cancelled while composing", seed=1))
        stall.release()
        assert await fingerprint(store, "sonnet") == before


@pytest.mark.parametrize("bad", ["", " ", "x" * 1_000_000, "\x00\x01binary", b"bytes"])
async def test_bad_prompt_is_refused_and_the_field_unchanged(config: Config, bad: object) -> None:
    async with opened(config, Sonnet) as (sonnet, store):
        before = await fingerprint(store, "sonnet")
        with pytest.raises(InvalidText):
            await sonnet.answer(bad)  # type: ignore[arg-type]
        assert await fingerprint(store, "sonnet") == before


async def test_form_over_ten_sonnets(config: Config) -> None:
    """A quick form check in the suite; the 100-sonnet acceptance is `harmonix eval --organisms sonnet`."""
    prompts = standard_prompts()
    async with opened(config, Sonnet) as (sonnet, store):
        replies = [await sonnet.answer(prompts[i], seed=i) for i in range(10)]
    assert all(len(reply.lines) == 14 for reply in replies)
    assert sum(reply.rhyme_scheme == SCHEME for reply in replies) >= 8
    lines = [line for reply in replies for line in reply.lines]
    assert sum(9 <= sum(syllables(w) for w in tokenize(line)) <= 11 for line in lines) >= 0.9 * len(lines)
    assert sum(all(map(is_known, tokenize(line))) for line in lines) >= 0.95 * len(lines)


def test_the_model_scores_a_continuation_as_its_own_decoding_would() -> None:
    """``Charformer.score`` (one padded batch through the full forward pass) agrees with the incremental decoder
    the sampler uses, character by character, whatever else shares the batch."""
    model = load_engine().model
    context, continuation = "Shall I compare thee to a summer's day?\n", "Thou art "
    cache = model.new_cache(1)
    logits = model.extend(cache, np.array([model.encode(context)]))
    total = 0.0
    for char in model.encode(continuation):
        shifted = logits[0] - logits[0].max()
        total += float(shifted[char] - np.log(np.exp(shifted).sum()))
        logits = model.extend(cache, np.array([[char]]))
    expected = total
    alone = model.score(context, [continuation])[0]
    batched = model.score(context, ["Zzyzx qq ", continuation, ""])
    assert abs(alone - expected) < 1e-3 and abs(batched[1] - expected) < 1e-3
    assert batched[2] == 0.0 and batched[0] < alone, "gibberish is less likely than Shakespeare's own turn"
