"""Hostile input, by machine and by hand.

- **The gate** (:func:`harmonix.text.validate_text`), for any value hypothesis can make (any Unicode, lone
  surrogates included, sizes around the limit, bytes, None): it returns the very object it was given or raises
  :class:`InvalidText`, never anything else; what it accepts is storable UTF-8 within the limit and has a word.
- **The field**, on every backend: any sequence of ingests, wrinkles, turns and cancelled turns, with such texts,
  leaves the audit clean and the field holding exactly what was accepted and committed (a model kept beside it), the
  newest rows when retention forgets the older ones.
- **A corpus** of hostile strings (SQL, HTML and script, ANSI escape sequences, bidi overrides, zalgo, 10 000 emoji,
  32 KiB of one word) through the command line and the API: stored verbatim, or refused by the gate with the field
  unchanged (the ANSI sequences: ESC is a control character), and nothing the command line prints carries a
  terminal escape. The page's half (a hostile prompt shown as text, no script run) is tests/test_page.py's.
- **Text from outside a field**: an LLM server whose error message is made of terminal escape sequences; the command
  line shows them as escapes (``\\x1b``), in its one-line error and in a cascade's panels.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldtools import audit
from harmonix.config import Retention
from harmonix.errors import InvalidText
from harmonix.field import Field, open_store, sqlite_url
from harmonix.text import MAX_TEXT_CHARS, tokenize, validate_text
from llm_standin import HOSTILE_MESSAGE
from serving import llm_standin, llm_standin_process, serve_args, served

ZALGO = "".join(letter + "".join(chr(0x300 + (i * 7 + k) % 0x70) for k in range(12))
                for i, letter in enumerate("he comes zalgo"))
CORPUS = {
    "sql": "'); DROP TABLE texts; -- SELECT * FROM words WHERE 1=1; \"quoted\" and Robert",
    "html": '<img src=x onerror="alert(1)"><script>alert("owned")</script> <b>bold</b> &amp; words',
    "ansi": "\x1b[2J\x1b[31mred text\x1b[0m \x1b]0;a new title\x07 and \x9b31m a CSI",
    "bidi": "the file txt.\u202eexe\u202c and \u2066isolated\u2069 \u200fright to left mark",
    "zalgo": ZALGO,
    "emoji": "sea " + "\U0001f30a" * 10_000,
    "one word": "resonance" * (MAX_TEXT_CHARS // 9) + "x" * (MAX_TEXT_CHARS % 9),
}
REFUSED = {"ansi"}
TERMINAL_ESCAPES = ("\x1b", "\x9b", "\x07")

TEXTS = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),  # any code point, lone surrogates included
    st.text(st.characters(categories=("L", "M", "Zs")), min_size=1, max_size=40),  # mostly words
    st.sampled_from(sorted(CORPUS.values())),
    st.integers(MAX_TEXT_CHARS - 2, MAX_TEXT_CHARS + 2).map(lambda n: ("tide " * n)[:n]),
)


@given(value=st.one_of(TEXTS, st.binary(max_size=20), st.none(), st.integers()))
@settings(max_examples=400, deadline=None, database=None)
def test_the_gate_returns_its_input_or_refuses_it_with_a_reason(value: object) -> None:
    try:
        accepted = validate_text(value)
    except InvalidText as error:
        assert str(error)
        return
    assert accepted is value and isinstance(accepted, str)
    assert len(accepted) <= MAX_TEXT_CHARS and accepted.encode("utf-8")
    assert not any(char in accepted for char in TERMINAL_ESCAPES)
    assert tokenize(accepted), "accepted text has a word"


def gate(*texts: str) -> bool:
    """Whether the gate lets every one of ``texts`` through."""
    try:
        for text in texts:
            validate_text(text)
    except InvalidText:
        return False
    return True


OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("ingest"), TEXTS),
    st.tuples(st.just("wrinkle"), TEXTS),
    st.tuples(st.just("turn"), TEXTS, TEXTS),
    st.tuples(st.just("cancelled"), TEXTS, TEXTS),
), max_size=10)
KEEP = Retention(texts=4, disturbances=3, turns=2)


class Model:
    """What the field must hold: every accepted, committed text and disturbance, and the count of turns."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.disturbances: list[str] = []
        self.turns = 0


async def cancelled_turn(field: Field, prompt: str, reply: str) -> None:
    """A turn cancelled after its writes, before its commit: it must leave nothing."""
    inside = asyncio.Event()

    async def turn() -> None:
        async with field.turn() as held:
            await held.wrinkle(prompt)
            await held.ingest(reply)
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(turn())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def apply(field: Field, model: Model, operation: tuple[Any, ...]) -> None:
    kind, *texts = operation
    if not gate(*texts):
        with pytest.raises(InvalidText):
            match kind:
                case "ingest":
                    await field.ingest(texts[0])
                case "wrinkle":
                    await field.wrinkle(texts[0])
                case _:
                    async with field.turn() as turn:
                        await turn.wrinkle(texts[0])
                        await turn.ingest(texts[1])
        return
    match kind:
        case "ingest":
            await field.ingest(texts[0])
            model.texts.append(texts[0])
        case "wrinkle":
            await field.wrinkle(texts[0])
            model.disturbances.append(texts[0])
        case "turn":
            async with field.turn() as turn:
                await turn.wrinkle(texts[0])
                await turn.ingest(texts[1])
                await turn.record(dissonance=0.5)
            model.disturbances.append(texts[0])
            model.texts.append(texts[1])
            model.turns += 1
        case "cancelled":
            await cancelled_turn(field, texts[0], texts[1])


async def scenario(url: str, colony: str, operations: list[tuple[Any, ...]]) -> None:
    model = Model()
    async with open_store(url) as store:
        await store.create_colony(colony)
        async with Field.open(store, "haiku", colony=colony, retention=KEEP) as field:
            for operation in operations:
                await apply(field, model, operation)
            dump = await field.dump()
        result = await audit(store, "haiku", colony)
    assert result.ok, result.violations
    assert [row[2] for row in dump.texts] == model.texts[-KEEP.texts:]
    assert [row[2] for row in dump.disturbances] == model.disturbances[-KEEP.disturbances:]
    assert len(dump.turns) == min(model.turns, KEEP.turns)


def test_any_sequence_of_writes_leaves_the_field_whole_and_holding_what_was_accepted(store_url: str) -> None:
    """Each example in a colony of its own in the backend's store (one store per test, as the fixture gives)."""
    colonies = itertools.count()

    @given(operations=OPERATIONS)
    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    def check(operations: list[tuple[Any, ...]]) -> None:
        asyncio.run(scenario(store_url, f"hostile-{next(colonies)}", operations))

    check()


def harmonix(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harmonix", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HARMONIX_HOME": str(home)})


async def stored(home: Path, colony: str, name: str) -> tuple[list[str], list[str]]:
    """The bodies of field ``name``'s texts and disturbances, oldest first."""
    async with open_store(sqlite_url(home)) as store, \
            Field.open(store, name, colony=colony, create=False, retention=None) as field:
        dump = await field.dump()
    return [row[2] for row in dump.texts], [row[2] for row in dump.disturbances]


async def test_the_corpus_through_the_command_line_is_stored_verbatim_or_refused(tmp_path: Path) -> None:
    """Each string as an argument of ``field ingest`` and ``field wrinkle``; then ``field seed`` prints what the
    field holds. Refused strings exit 2 with a message that names the character instead of printing it."""
    home = tmp_path / "home"
    for name, text in CORPUS.items():
        for command in ("ingest", "wrinkle"):
            done = harmonix("field", command, "haiku", text, home=home)
            output = done.stdout + done.stderr
            assert not any(char in output for char in TERMINAL_ESCAPES), (name, command)
            if name in REFUSED:
                assert done.returncode == 2 and "control character U+001B" in done.stderr, (name, done.stderr)
            else:
                assert done.returncode == 0, (name, done.stderr)
    accepted = [text for name, text in CORPUS.items() if name not in REFUSED]
    assert await stored(home, "default", "haiku") == (accepted, accepted)
    seed = harmonix("field", "seed", "haiku", home=home)
    assert seed.returncode == 0 and not any(char in seed.stdout + seed.stderr for char in TERMINAL_ESCAPES)


async def test_the_corpus_through_the_api_is_stored_verbatim_or_refused_and_shown_as_stored(tmp_path: Path) -> None:
    """create colony → a HAiKU turn per string → one whole cascade whose prompt is the short strings together →
    the history shows that prompt as it was sent; HAiKU's field holds every accepted prompt verbatim."""
    home = tmp_path / "home"
    with llm_standin(0.05) as llm, served(home, *serve_args(llm)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(300, connect=10)) as client:
            assert (await client.post("/v1/colonies", json={"name": "hostile"})).status_code == 201
            for name, text in CORPUS.items():
                answer = await client.post("/v1/colonies/hostile/organisms/haiku/turns", json={"prompt": text})
                if name in REFUSED:
                    assert answer.status_code == 422 and answer.json()["error"]["type"] == "InvalidText", name
                    assert not any(char in answer.text for char in TERMINAL_ESCAPES), "the refusal names, not echoes"
                else:
                    assert answer.status_code == 200, (name, answer.text)
            prompt = " ".join(CORPUS[name] for name in ("sql", "html", "bidi", "zalgo"))
            cascade = await client.post("/v1/colonies/hostile/cascades", json={"prompt": prompt})
            assert cascade.status_code == 200
            history = (await client.get("/v1/colonies/hostile/history")).json()
            assert history["cascades"][0]["prompt"] == prompt
    accepted = [text for name, text in CORPUS.items() if name not in REFUSED]
    assert (await stored(home, "hostile", "haiku"))[1] == [*accepted, prompt], "each prompt is HAiKU's disturbance"


def test_an_llm_servers_escape_sequences_reach_the_terminal_as_text(tmp_path: Path) -> None:
    """Prose alone fails with the server's message in its one error line; a cascade draws it in Prose's and Artist's
    failed panels; neither prints a control character, both show the escapes written out."""
    with llm_standin_process(0, mode="--hostile") as (url, _):
        prose = harmonix("prose", "What does the lamp remember?", "--llm-url", url, home=tmp_path / "home")
        ask = harmonix("ask", "What does the lamp remember?", "--llm-url", url, home=tmp_path / "home")
    assert prose.returncode == 1 and prose.stderr.startswith("error: HTTP 400"), prose.stderr
    assert ask.returncode == 0, ask.stderr
    for done in (prose, ask):
        output = done.stdout + done.stderr
        assert not any(char in output for char in TERMINAL_ESCAPES)
        assert "\\x1b[2J" in output and "refuses" in output
    assert ask.stdout.count("LLMRequestError: HTTP 400: \\x1b[2J") == 2, "Prose's and Artist's panels"
    assert "\x1b" in HOSTILE_MESSAGE
