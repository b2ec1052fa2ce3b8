"""The command line as a user runs it: a real process, real stdout and stderr, state only where it is told."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def harmonix(*args: str, home: Path | None, cwd: Path, stdin: bytes | None = None,
             env_home: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "HARMONIX_HOME"}
    env["XDG_DATA_HOME"] = str(cwd / "xdg")  # where the platform default would point, so we can see it unused
    if env_home is not None:
        env["HARMONIX_HOME"] = str(env_home)
    command = [sys.executable, "-m", "harmonix", *args]
    if home is not None:
        command += ["--home", str(home)]
    return subprocess.run(command, input=stdin, capture_output=True, cwd=cwd, env=env, timeout=120)


def one_json_object(result: subprocess.CompletedProcess[bytes]) -> dict:
    document = json.loads(result.stdout)  # raises unless stdout is exactly one JSON document
    assert isinstance(document, dict)
    return document


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    directory = tmp_path / "cwd"
    directory.mkdir()
    return directory


def test_round_trip_with_json(tmp_path: Path, workdir: Path) -> None:
    home = tmp_path / "home"
    ingested = one_json_object(harmonix("field", "ingest", "demo", "The river carries light.", "--json",
                                        home=home, cwd=workdir))
    assert ingested == {"field": "demo", "text_id": 1, "tokens": 4, "trigrams": 2}
    wrinkled = one_json_object(harmonix("field", "wrinkle", "demo", "what is resonance", "--json", home=home,
                                        cwd=workdir))
    assert wrinkled["disturbance_id"] == 1
    seeds = [one_json_object(harmonix("field", "seed", "demo", "--seed", "3", "--json", home=home, cwd=workdir))
             for _ in range(2)]
    assert seeds[0] == seeds[1] and "river" in seeds[0]["text"] and "resonance" not in seeds[0]["text"]
    stats = one_json_object(harmonix("field", "stats", "--json", home=home, cwd=workdir))
    assert stats["fields"]["demo"]["counts"]["texts"] == 1
    check = one_json_object(harmonix("field", "check", "demo", "--json", home=home, cwd=workdir))
    assert check["ok"] is True
    assert (home / "fields" / "demo.sqlite3").is_file()
    assert list(workdir.iterdir()) == [], "nothing may be written to the working directory"


def test_home_from_environment_and_default(tmp_path: Path, workdir: Path) -> None:
    env_home = tmp_path / "from-env"
    assert harmonix("field", "ingest", "demo", "words here", home=None, cwd=workdir, env_home=env_home).returncode == 0
    assert (env_home / "fields" / "demo.sqlite3").is_file()
    assert harmonix("field", "ingest", "demo", "words here", home=None, cwd=workdir).returncode == 0
    assert (workdir / "xdg" / "harmonix" / "fields" / "demo.sqlite3").is_file(), "default: the user's data directory"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["field", "ingest", "demo", ""], None, "empty"),
        (["field", "ingest", "demo", "   "], None, "empty"),
        (["field", "wrinkle", "demo", "-"], b"\x89PNG\r\n\x1a\n\xff\xfe", "not valid Unicode"),
        (["field", "ingest", "demo", "-"], b"x" * 1_000_000, "too long"),
        (["field", "ingest", "demo", "ok text", "--source", "Bad Source"], None, "source"),
    ],
)
def test_bad_input_exits_2_with_one_json_error_and_no_change(tmp_path: Path, workdir: Path, args: list[str],
                                                             stdin: bytes | None, message: str) -> None:
    home = tmp_path / "home"
    harmonix("field", "ingest", "demo", "the field before", home=home, cwd=workdir)
    before = (home / "fields" / "demo.sqlite3").read_bytes()
    result = harmonix(*args, "--json", home=home, cwd=workdir, stdin=stdin)
    assert result.returncode == 2
    error = one_json_object(result)["error"]
    assert message in error["message"]
    plain = harmonix(*args, home=home, cwd=workdir, stdin=stdin)
    assert plain.returncode == 2 and plain.stdout == b"" and message in plain.stderr.decode()
    check = one_json_object(harmonix("field", "check", "demo", "--json", home=home, cwd=workdir))
    assert check["texts"] == 1 and check["disturbances"] == 0 and check["ok"]
    assert (home / "fields" / "demo.sqlite3").read_bytes() == before


def test_bench_field_json_reports_the_ratios(tmp_path: Path, workdir: Path) -> None:
    """Runs the benchmark at its smallest size: a check that it works and reports, not a timing test."""
    result = harmonix("bench", "field", "--repeats", "1", "--ingests", "2", "--json", home=tmp_path / "h", cwd=workdir)
    assert result.returncode == 0, result.stderr.decode()
    report = one_json_object(result)
    for key in ("ingest_ratio_vs_sqlite3", "lock_overhead_ratio", "concurrent_turns_per_s"):
        assert isinstance(report[key], float) and report[key] == report[key]
    assert report["sqlite3_ms"] > 0 and report["field_ms"] > 0
    assert list(workdir.iterdir()) == []


def test_bench_llm_json_reports_paired_ratios_with_their_range(tmp_path: Path, workdir: Path) -> None:
    """The LLM benchmark at its smallest size (one thread, two slots, two repeats): it works and reports each ratio
    as the median of per-repeat ratios inside their range; not a timing test."""
    result = harmonix("bench", "llm", "--repeats", "2", "--threads", "1", "--parallel", "2", "--json",
                      home=tmp_path / "h", cwd=workdir)
    assert result.returncode == 0, result.stderr.decode()
    report = one_json_object(result)
    assert report["repeats"] == 2 and report["parallel"] == 2 and report["tokens_per_s_single"] > 0
    for ratio in ("batched_speedup", "engine_overhead_ratio"):
        low, high = report[f"{ratio}_range"]
        assert 0 < low <= report[ratio] <= high
    assert list(workdir.iterdir()) == []


def test_bench_cascade_io_json_reports_paired_efficiency(tmp_path: Path, workdir: Path) -> None:
    """The cascade benchmark at its smallest size, Prose and Artist on the loopback delay server: both arms run the
    same prompt with no failed stage, and the efficiency is the median of per-repeat ideal / parallel ratios."""
    result = harmonix("bench", "cascade", "--io", "--io-delay", "0.05", "--repeats", "2", "--json",
                      home=tmp_path / "h", cwd=workdir)
    assert result.returncode == 0, result.stderr.decode()
    report = one_json_object(result)
    assert report["io"] and report["repeats"] == 2 and report["errors"] == 0
    assert set(report["stage_s"]) == {"haiku", "sonnet", "prose", "artist"}
    low, high = report["efficiency_range"]
    assert 0 < low <= report["efficiency"] <= high
    assert report["ideal_s"] <= report["sequential_s"]
    assert list(workdir.iterdir()) == []


def test_haiku_json_has_the_documented_keys_and_a_seed_reproduces_it(tmp_path: Path, workdir: Path) -> None:
    replies = [one_json_object(harmonix("haiku", "What is resonance?", "--seed", "11", "--json",
                                        home=tmp_path / name, cwd=workdir)) for name in ("a", "b")]
    reply = replies[0]
    assert {"text", "lines", "syllables", "dissonance", "temperature", "pulse"} <= reply.keys()
    assert reply["syllables"] == [5, 7, 5] and reply["text"] == "\n".join(reply["lines"])
    assert set(reply["pulse"]) == {"novelty", "arousal", "entropy"}
    assert replies[0]["text"] == replies[1]["text"], "same seed, same (fresh) field: same haiku"
    bad = harmonix("haiku", "   ", "--json", home=tmp_path / "a", cwd=workdir)
    assert bad.returncode == 2 and "empty" in one_json_object(bad)["error"]["message"]


def test_a_report_names_its_command_without_home_or_json() -> None:
    from harmonix.cli import reproducing_command

    arguments = ["--organisms", "sonnet", "--home", "/somewhere/else", "--json", "--home=/x", "--report", "r.md"]
    assert reproducing_command("harmonix eval", arguments) == "harmonix eval --organisms sonnet --report r.md"
