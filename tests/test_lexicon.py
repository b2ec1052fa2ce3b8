"""The lexicon: what a word calls up, derived from WordNet's database files, and looked up through inflections."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmonix.engines.lexicon import Lexicon
from harmonix.engines.memory import Memory
from harmonix.lab.training.lexicon import ASSOCIATES, build, main, save

# A miniature WordNet in the database's own format: "offset lex_filenum ss_type w_cnt word lex_id … p_cnt
# [pointer offset pos source/target] … | definition", and index lines "lemma pos synset_cnt p_cnt [ptr] sense_cnt
# tagsense_cnt offset …" with the most frequent sense first.
DATA_NOUN = """\
  1 This line stands for the licence at the top of each file.
00000100 05 n 01 heron 0 002 @ 00000200 n 0000 #m 00000300 n 0000 | grey or white wading bird with long neck and long legs
00000200 05 n 01 wading_bird 0 001 ~ 00000100 n 0000 | long-legged bird that wades in water
00000300 05 n 01 marsh 0 000 | low land that is seasonally flooded; "herons nest in the marsh"
00000400 18 n 01 Heron 0 000 | Greek mathematician and inventor
00000500 05 n 01 mouse 0 000 | small rodent with pointed snout and long tail
00000600 05 n 01 wade 0 000 | a stretch of knee-deep pond
00000700 20 n 01 rose 0 000 | prickly shrub bearing fragrant flowers
"""
INDEX_NOUN = """\
  1 licence
heron n 2 2 @ #m 2 0 00000100 00000400
wading_bird n 1 1 ~ 1 0 00000200
marsh n 1 0 1 0 00000300
mouse n 1 0 1 0 00000500
wade n 1 0 1 0 00000600
rose n 1 0 1 1 00000700
"""
DATA_VERB = """\
  1 licence
00000800 38 v 01 wade 0 000 01 + 01 00 | walk through shallow water
00000900 38 v 01 rise 0 000 01 + 01 00 | move upward, from lower to higher
"""
INDEX_VERB = """\
  1 licence
wade v 1 0 1 1 00000800
rise v 1 0 1 1 00000900
"""
NOUN_EXC = "mice mouse\nherons heron\n"
VERB_EXC = "rose rise\nrise rose\n"  # the second line is no English: it tests that a rarer lemma never wins
# "lemma%pos:… sense_number tag_count": wade and rise were tagged as verbs, the rose once as a flower.
CNTLIST = "wade%2:38:00:: 1 9\nrise%2:38:00:: 1 20\nrose%1:20:00:: 1 1\n"


def wordnet(directory: Path) -> Path:
    files = {"noun": (DATA_NOUN, INDEX_NOUN, NOUN_EXC), "verb": (DATA_VERB, INDEX_VERB, VERB_EXC)}
    for part in ("noun", "verb", "adj", "adv"):
        data, index, exc = files.get(part, ("  1 licence\n", "  1 licence\n", ""))
        (directory / f"data.{part}").write_text(data)
        (directory / f"index.{part}").write_text(index)
        (directory / f"{part}.exc").write_text(exc)
    (directory / "cntlist.rev").write_text(CNTLIST)
    return directory


def test_an_entry_calls_up_its_definition_synonyms_and_neighbours_never_itself(tmp_path: Path) -> None:
    document = build(wordnet(tmp_path))
    heron = dict(document["entries"]["heron"])
    assert {"wading", "bird", "neck", "legs", "marsh"} <= set(heron)
    assert "heron" not in heron and "herons" not in heron
    assert max(heron.values()) == 1.0 and all(0 < weight <= 1 for weight in heron.values())
    assert heron["bird"] > heron["marsh"], "the definition and the hypernym outweigh a whole it belongs to"
    assert len(heron) <= ASSOCIATES


def test_a_proper_name_sense_calls_up_nothing(tmp_path: Path) -> None:
    heron = dict(build(wordnet(tmp_path))["entries"]["heron"])
    assert not {"greek", "mathematician", "inventor"} & set(heron), "Heron of Alexandria is not a heron"


def test_irregular_forms_lead_to_their_entry(tmp_path: Path) -> None:
    document = build(wordnet(tmp_path))
    assert document["forms"]["mice"] == "mouse"
    assert "herons" not in document["forms"] or document["forms"]["herons"] == "heron"


def test_a_word_means_mostly_what_it_was_tagged_as(tmp_path: Path) -> None:
    """"wade" was tagged 9 times as a verb and never as a noun: the walk outweighs the pond, as "came back" must
    call up arriving and not the noun "come"."""
    wade = dict(build(wordnet(tmp_path))["entries"]["wade"])
    assert wade["walk"] == 1.0 and wade["shallow"] == 1.0
    assert 0 < wade["pond"] <= 0.2, wade


def test_a_form_that_is_an_entry_leads_to_its_lemma_only_when_the_lemma_is_more_frequent(tmp_path: Path) -> None:
    document = build(wordnet(tmp_path))
    assert document["forms"]["rose"] == "rise", "'rose' was tagged once, 'rise' 20 times"
    assert "rise" not in document["forms"], "the rarer lemma never takes an entry's place"
    lexicon = Lexicon.of(document["entries"], document["forms"])
    assert lexicon.lemma("rose") == "rise" and lexicon.lemma("rise") == "rise"
    assert "upward" in dict(lexicon.associates("rose"))


def test_the_saved_lexicon_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    directory = wordnet(tmp_path)
    save(build(directory), tmp_path / "a.json.gz")
    save(build(directory), tmp_path / "b.json.gz")
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_lookups_go_through_forms_and_endings() -> None:
    lexicon = Lexicon.of({"heron": [("bird", 1.0)], "city": [("town", 1.0)], "crowd": [("people", 1.0)],
                          "mouse": [("rodent", 1.0)]}, {"mice": "mouse"})
    assert lexicon.lemma("Herons") == "heron"
    assert lexicon.lemma("cities") == "city"
    assert lexicon.lemma("crowded") == "crowd"
    assert lexicon.lemma("mice") == "mouse"
    assert lexicon.lemma("quasar") is None and lexicon.associates("quasar") == ()


def test_words_call_up_together_and_never_each_other() -> None:
    lexicon = Lexicon.of({"sea": [("ocean", 1.0), ("salt", 0.5), ("night", 0.2)],
                          "night": [("dark", 1.0), ("sea", 0.1), ("ocean", 0.5)]})
    found = lexicon.called_up(["sea", "night"])
    assert found == {"ocean": 1.5, "salt": 0.5, "dark": 1.0}
    remembering = Lexicon.of({"remember": [("recall", 1.0)], "recall": [("remembered", 1.0), ("memory", 0.5)]})
    assert remembering.called_up(["recall", "remember"]) == {"memory": 0.5}, "no form of a word itself"


def test_the_packaged_lexicon_knows_what_everyday_words_mean() -> None:
    lexicon = Lexicon.load()
    assert len(lexicon) > 20000
    assert {"bird", "wading"} <= {word for word, _ in lexicon.associates("herons")}
    assert {"baked", "bread"} & {word for word, _ in lexicon.associates("bakery")}
    came = {word for word, _ in lexicon.associates("came")}
    assert "arrive" in came and not {"ejaculate", "semen", "cum"} & came, "'come' is a verb, not the noun"
    assert "adage" not in {word for word, _ in lexicon.associates("saw")}, "'saw' is read as 'see'"


def test_the_memory_calls_up_by_meaning_and_by_co_occurrence() -> None:
    """Both sources count: the lexicon's meaning, and the memory's own paragraphs at a half."""
    lexicon = Lexicon.of({"sea": [("ocean", 1.0)]})
    texts = ["The sea rolls waves onto the shore.", "Waves break on the shore while the sea keeps its salt.",
             "The kitchen smells of bread.", "Bread cools on the kitchen table."]
    memory = Memory.build(texts, lexicon)
    called = dict(memory.called_up(["sea"]))
    assert called["ocean"] == 1.0
    assert 0 < called["waves"] <= 0.5 and 0 < called["shore"] <= 0.5
    assert "sea" not in called
    assert dict(Memory.build(texts).called_up(["sea"])).keys() == {"waves", "shore"}, "no lexicon: co-occurrence"


def test_a_directory_without_wordnet_is_refused_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--wordnet", str(tmp_path), "--out", str(tmp_path / "lexicon.json.gz")])
    assert exit_info.value.code == 2
    assert "not WordNet 3.0's database" in capsys.readouterr().err
    assert not (tmp_path / "lexicon.json.gz").exists()
