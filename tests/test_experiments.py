"""The pure parts of the experiments: recurring n-grams and the liveliness of a window (long conversation), the
sources of what a prompt calls up (associations), the themes and the history effect (memory)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from harmonix.config import Config
from harmonix.engines.lexicon import Lexicon
from harmonix.engines.memory import Memory
from harmonix.errors import InvalidArgument
from harmonix.lab.experiments.associations import sources
from harmonix.lab.experiments.long_conversation import ALIVE_RATIO, MAX_RECURRING, life, most_recurring
from harmonix.lab.experiments.memory import Probed, Theme, history_effects, run_memory, themes_of
from harmonix.lab.judge import Judge
from harmonix.lab.prompts import parse_prompts, read_prompts


def test_the_most_recurring_ngram_counts_each_text_once() -> None:
    texts = ["the sea is grey and the sea is cold", "the sea again", "a train at dawn"]
    gram, share = most_recurring(texts, n=2)
    assert gram == "the sea" and share == pytest.approx(2 / 3)
    assert most_recurring(["too short"], n=4) == (None, 0.0)


def test_a_voice_that_narrows_is_not_alive() -> None:
    words = ["amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "iris", "juniper", "kestrel",
             "lichen", "maple", "nettle", "orchid", "pebble", "quartz", "raven", "sorrel", "thistle", "umber",
             "violet", "willow", "yarrow", "zinnia"]
    rng = random.Random(0)
    varied = [" ".join(rng.sample(words, 6)) for _ in range(40)]
    narrowing = varied[:20] + ["the same old song again"] * 20
    alive, stale = life("x", varied, ["p"] * 40), life("x", narrowing, ["p"] * 40)
    assert alive.ratio is not None and alive.ratio > 0.9 and alive.alive
    assert stale.ratio is not None and stale.ratio < ALIVE_RATIO and not stale.alive
    assert stale.recurring_share == pytest.approx(0.5) and stale.recurring_share > MAX_RECURRING


def test_each_association_source_calls_up_its_own_words() -> None:
    lexicon = Lexicon.of({"sea": [("ocean", 1.0), ("salt", 0.4)]})
    memory = Memory.build(["The sea rolls waves onto the shore.", "Waves break on the shore while the sea sleeps.",
                           "The kitchen smells of bread.", "Bread cools on the kitchen table."], lexicon)
    found = {name: source(["sea"]) for name, source in sources(memory).items()}
    assert found["lexicon"] == ["ocean", "salt"]
    assert set(found["co-occurrence"]) == {"waves", "shore"}
    assert found["both"][0] == "ocean" and set(found["both"]) == {"ocean", "salt", "waves", "shore"}


class WordJudge:
    """A stand-in for the embedding model: a text's vector counts the words it shares with each of a few topics."""

    TOPICS = (("sea", "boat", "gull"), ("sand", "dune", "camel"), ("owl", "moss", "pine"))

    def encode(self, texts: Sequence[str], normalize_embeddings: bool, batch_size: int) -> np.ndarray:
        rows = np.array([[sum(word in text.lower().split() for word in topic) + 0.01 for topic in self.TOPICS]
                         for text in texts], dtype=float)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_reply_that_leans_to_what_its_colony_heard_has_a_positive_effect() -> None:
    judge = Judge(WordJudge())
    pairs = [(Theme("sea", ("sea boat", "gull", "sea")), Theme("desert", ("sand dune", "camel", "sand")))]
    remembering = [Probed(0, "Continue.", 0, "haiku", "the gull and the boat", "a camel on the dune")]
    forgetting = [Probed(0, "Continue.", 0, "haiku", "an owl in the moss", "an owl in the moss")]
    backwards = [Probed(0, "Continue.", 0, "haiku", "a camel on the dune", "the gull and the boat")]
    assert history_effects(judge, pairs, remembering)[0].effect.mean > 0.5
    assert history_effects(judge, pairs, forgetting)[0].effect.mean == pytest.approx(0.0)
    assert history_effects(judge, pairs, backwards)[0].effect.mean < -0.5


def test_the_shipped_themes_pair_and_a_bad_theme_file_is_refused() -> None:
    pairs, between = themes_of(read_prompts(shipped="memory"))
    assert len(pairs) >= 5 and len(between) >= 6
    assert all(len(theme.prompts) == 3 for pair in pairs for theme in pair)
    with pytest.raises(InvalidArgument, match="even"):
        themes_of(parse_prompts("# a\n1\n2\n3\n# b\n1\n2\n3\n# c\n1\n2\n3\n"))
    with pytest.raises(InvalidArgument, match="too few"):
        themes_of(parse_prompts("# a\n1\n2\n3\n# b\n1\n2\n"))


@pytest.mark.slow  # opens a whole colony (the embedded LLM loads), though only HAiKU breathes
async def test_an_organism_alone_breathes_on_its_own_turns(tmp_path: Path) -> None:
    """``--organisms haiku``: HAiKU alone hears the three prompts of each theme of one pair and the two probes on
    their forks, ten turns of its own and nothing else; the report holds HAiKU's effect alone and says so. An organism
    that does not exist is refused before anything breathes."""
    result = await run_memory(Config.load(tmp_path / "home"), Judge(WordJudge()), pairs=1, gaps=(0,),
                              organisms=["haiku"])
    assert result.alone and result.organisms == ("haiku",) and result.cascades == 2 * (3 + 2)
    assert [(effect.organism, effect.gap, effect.effect.n) for effect in result.effects] == [("haiku", 0, 2)]
    assert all(example.after_a and example.after_b for example in result.examples)
    with pytest.raises(InvalidArgument, match="organisms are among"):
        await run_memory(Config.load(tmp_path / "home"), Judge(WordJudge()), pairs=1, gaps=(0,),
                         organisms=["haiku", "nobody"])
