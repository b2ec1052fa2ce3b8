"""Moving colonies: ``harmonix colony export`` / ``import`` between backends, ``harmonix migrate`` between homes and
databases (and a migration cut short, then run again), bad files refused with nothing changed, and a colony's
cascades as training pairs for Artist."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fieldtools import audit, fingerprints
from harmonix.field import Field, Store, open_store, sqlite_url
from harmonix.field.transfer import colony_lines, load_colony, read_colony
from harmonix.organisms.artist import PERSONA, quotes, weave
from harmonix.organisms.base import HUB, SYNTHESIS

FIELD_NAMES = ("haiku", "sonnet", "prose", "artist", "meta")


async def fill(store: Store, colony: str, turns: int = 6) -> None:
    """A colony with every field written the way organisms write: turns with state and metrics, texts of other
    sources, unicode and hostile strings."""
    await store.create_colony(colony, owner="owner-hash")
    for name in FIELD_NAMES:
        async with Field.open(store, name, colony=colony) as field:
            await field.ingest(f"bootstrap of {name}: the river's \u00e9clair \U0001f30a", source="bootstrap",
                               weight=0.5, tags=["x", "y"])
            for i in range(turns):
                async with field.turn() as turn:
                    await turn.wrinkle(f"'); DROP TABLE texts; -- prompt {i} for {name}")
                    await turn.ingest(f"{name} answers {i} with salt and \"quotes\" and 100% certainty",
                                      attempt=i, ratio=i / 7)
                    await turn.set_state("phase", {"i": i, "name": name})
                    await turn.record(dissonance=i / turns, temperature=1.0 - i / 10, candidates=[i, i + 1])


def harmonix(*args: str, home: Path, stdin: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARMONIX_HOME": str(home), **(env or {})}
    env.pop("HARMONIX_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "harmonix", *args], capture_output=True, text=True, env=env,
                          timeout=600, input=stdin)
    assert "Traceback" not in done.stderr, done.stderr
    return done


async def prints(url: str, colony: str) -> dict[str, str]:
    async with open_store(url) as store:
        return await fingerprints(store, tuple(await store.field_names(colony)), colony)


def test_export_then_import_on_the_other_backend_gives_the_same_rows(postgres_url: str, tmp_path: Path) -> None:
    """From PostgreSQL to SQLite and back: the imported colony holds the same rows, every field audits clean, and
    importing again changes nothing."""
    store_url, other = postgres_url, sqlite_url(tmp_path / "other")

    async def build() -> None:
        async with open_store(store_url) as store:
            await fill(store, "alice")

    asyncio.run(build())
    exported = harmonix("--database", store_url, "colony", "export", "alice", "-o", str(tmp_path / "alice.jsonl"),
                        "--json", home=tmp_path)
    assert exported.returncode == 0, exported.stderr
    report = json.loads(exported.stdout)
    assert set(report["fields"]) == set(FIELD_NAMES) and report["fields"]["haiku"]["rows"]["turns"] == 6
    for source, target in ((store_url, other), (other, store_url)):
        if source != store_url:
            assert harmonix("--database", source, "colony", "export", "alice", "-o", str(tmp_path / "back.jsonl"),
                            home=tmp_path).returncode == 0
        file = tmp_path / ("alice.jsonl" if source == store_url else "back.jsonl")
        name = "alice" if source == store_url else "alice-back"
        imported = harmonix("--database", target, "colony", "import", str(file), "--as", name, "--json",
                            home=tmp_path)
        assert imported.returncode == 0, imported.stderr
        assert json.loads(imported.stdout)["action"] == "loaded"
        assert asyncio.run(prints(target, name)) == asyncio.run(prints(store_url, "alice")), \
            f"{source} -> {target}: every row the same"
        again = harmonix("--database", target, "colony", "import", str(file), "--as", name, "--json", home=tmp_path)
        assert json.loads(again.stdout)["action"] == "unchanged"

    async def colony_record() -> tuple[Any, Any]:
        async with open_store(other) as there, open_store(store_url) as here:
            return await there.colony("alice"), await here.colony("alice")

    there, here = asyncio.run(colony_record())
    assert (there.created, there.owner) == (here.created, here.owner), "the colony's record travels with it"


def altered(lines: list[str], index: int, change: Any) -> str:
    document = json.loads(lines[index])
    change(document)
    return "".join(lines[:index] + [json.dumps(document) + "\n"] + lines[index + 1:])


def test_a_bad_file_is_refused_with_its_line_and_nothing_changes(postgres_url: str, tmp_path: Path) -> None:
    async def build() -> list[str]:
        async with open_store(sqlite_url(tmp_path / "home")) as store:
            await fill(store, "alice", turns=2)
            info, dumps = await read_colony(store, "alice")
        return list(colony_lines(info, dumps))

    lines = asyncio.run(build())
    row = next(i for i, line in enumerate(lines) if '"table": "texts"' in line)

    def retyped(document: dict[str, Any]) -> None:
        document["row"]["tokens"] = "many"

    def reworded(document: dict[str, Any]) -> None:
        document["row"]["body"] = "a body someone changed"

    def versioned(document: dict[str, Any]) -> None:
        document["version"] = 99

    bad = {
        "cut short": "".join(lines[:-1]),
        "not JSON": "".join(lines[:3]) + "{not json\n" + "".join(lines[3:]),
        "wrong type": altered(lines, row, retyped),
        "altered": altered(lines, row, reworded),
        "newer version": altered(lines, 0, versioned),
        "empty": "",
    }
    says = {"cut short": "cut short", "not JSON": "line 4: not JSON", "wrong type": "tokens must be int",
            "altered": "do not match their sha256", "newer version": "version 99", "empty": "empty"}
    for case, text in bad.items():
        done = harmonix("--database", postgres_url, "colony", "import", "-", "--json", home=tmp_path, stdin=text)
        assert done.returncode == 2, (case, done.stdout, done.stderr)
        error = json.loads(done.stdout)["error"]
        assert error["type"] == "InvalidArgument" and says[case] in error["message"], (case, error)
    listed = json.loads(harmonix("--database", postgres_url, "colony", "list", "--json", home=tmp_path).stdout)
    assert listed["colonies"] == [], "nothing was created"


async def test_loading_over_a_colony_holding_other_rows_stops_before_writing(store: Store, tmp_path: Path) -> None:
    async with open_store(sqlite_url(tmp_path / "source")) as source:
        await fill(source, "alice", turns=2)
        info, dumps = await read_colony(source, "alice")
    await store.create_colony("alice")
    async with Field.open(store, "sonnet", colony="alice") as field:
        await field.ingest("a sonnet field that has its own memory")
    before = await fingerprints(store, tuple(await store.field_names("alice")), "alice")
    with pytest.raises(Exception, match="already holds other rows"):
        await load_colony(store, info, dumps)
    assert await store.field_names("alice") == ["sonnet"], "no field was loaded"
    assert await fingerprints(store, ("sonnet",), "alice") == before


async def test_a_migration_cut_short_is_completed_by_running_it_again(postgres_url: str, tmp_path: Path) -> None:
    """The target already holds part of a colony, as a killed migration leaves it (one field loaded, one created
    but empty, the rest missing); `harmonix migrate` completes it, and then leaves everything as it is."""
    home = sqlite_url(tmp_path / "home")
    async with open_store(home) as source:
        for colony in ("alice", "bob"):
            await fill(source, colony, turns=3)
        info, dumps = await read_colony(source, "alice")
    async with open_store(postgres_url) as target:
        await load_colony(target, info, [dump for dump in dumps if dump.name == "haiku"])
        async with Field.open(target, "sonnet", colony="alice"):
            pass
    done = harmonix("migrate", "--from", home, "--to", postgres_url, "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    actions = {c["id"]: c["action"] for c in json.loads(done.stdout)["colonies"]}
    assert actions == {"alice": "completed", "bob": "loaded", "default": "unchanged"}
    for colony in ("alice", "bob"):
        assert await prints(postgres_url, colony) == await prints(home, colony)
    again = harmonix("migrate", "--from", home, "--to", postgres_url, "--json", home=tmp_path)
    assert {c["action"] for c in json.loads(again.stdout)["colonies"]} == {"unchanged"}
    back = tmp_path / "back"
    assert harmonix("migrate", "--from", postgres_url, "--to", f"sqlite:{back}", home=tmp_path).returncode == 0
    for colony in ("alice", "bob"):
        assert await prints(f"sqlite:{back}", colony) == await prints(home, colony), "and back again"


async def test_a_migration_killed_mid_way_then_run_again_ends_whole(postgres_url: str, tmp_path: Path) -> None:
    home = sqlite_url(tmp_path / "home")
    async with open_store(home) as source:
        for k in range(4):
            await fill(source, f"c{k}", turns=8)
    env = {**os.environ, "HARMONIX_HOME": str(tmp_path)}
    migration = subprocess.Popen([sys.executable, "-m", "harmonix", "-v", "migrate", "--from", home, "--to",
                                  postgres_url], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    assert migration.stderr is not None
    for line in migration.stderr:
        if "field" in line and "loaded" in line:  # it has begun writing: kill it there
            break
    migration.send_signal(signal.SIGKILL)
    migration.wait(timeout=60)
    done = harmonix("migrate", "--from", home, "--to", postgres_url, "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    for k in range(4):
        assert await prints(postgres_url, f"c{k}") == await prints(home, f"c{k}")
    async with open_store(postgres_url) as target:
        for k in range(4):
            for name in FIELD_NAMES:
                assert (await audit(target, name, f"c{k}")).ok


@pytest.mark.parametrize("mode", ["completion", "chat"])
async def test_cascades_become_training_pairs_for_artist(store_url: str, tmp_path: Path, mode: str) -> None:
    """Breaths recorded the way the hub records them; the export gives what Artist's model reads in its mode and
    its own lines."""
    voices = {"haiku": "the sea at night\nholds the old moon in its hands\nsalt on every stone",
              "sonnet": "A line before.\nAnd so the tide returns to what it knew,\nThe night is old, the morning "
                        "is still new.",
              "prose": "Short one. The harbour keeps a ledger of every boat that never came home again."}
    own = ["the water writes its names in patient light", "and every stone remembers being sand",
           "we listen where the harbour keeps its count"]
    piece = "\n".join(span.text for span in weave(quotes(voices), own))
    async with open_store(store_url) as store:
        async with Field.open(store, HUB) as hub:
            for i, artist_text in enumerate([piece, None, piece]):
                async with hub.turn() as turn:
                    await turn.wrinkle(f"prompt {i}")
                    ids = {name: (await turn.ingest(text, source=name)).text_id for name, text in voices.items()}
                    if artist_text is not None:
                        ids[SYNTHESIS] = (await turn.ingest(artist_text, source=SYNTHESIS)).text_id
                    await turn.record(texts=ids)
    done = harmonix("--database", store_url, "colony", "export", "default", "--format", "finetune",
                    home=tmp_path / "home", env={"HARMONIX_LLM_MODE": mode})
    assert done.returncode == 0, done.stderr
    pairs = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(pairs) == 2, "the breath without Artist's piece gives no pair"
    if mode == "chat":
        assert [[m["role"] for m in pair["messages"]] for pair in pairs] == [["system", "user", "assistant"]] * 2
        system, user, assistant = pairs[0]["messages"]
        read, written = system["content"] + user["content"], assistant["content"]
        assert system["content"] == PERSONA
    else:
        assert [sorted(pair) for pair in pairs] == [["completion", "prompt"]] * 2
        read, written = pairs[0]["prompt"], pairs[0]["completion"]
        assert "You are" not in read, "a completion reads no persona"
    assert voices["haiku"] in read and "prompt 0" not in read, "Artist never reads the prompt"
    assert written == "\n".join(own), "the model's own lines, without the quotes"
