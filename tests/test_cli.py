"""The command line as a user runs it: a real process, real stdout and stderr, state only where it is told."""

from __future__ import annotations

import asyncio
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
    assert (home / "colonies" / "default" / "demo.sqlite3").is_file()
    assert list(workdir.iterdir()) == [], "nothing may be written to the working directory"


def test_home_from_environment_and_default(tmp_path: Path, workdir: Path) -> None:
    env_home = tmp_path / "from-env"
    assert harmonix("field", "ingest", "demo", "words here", home=None, cwd=workdir, env_home=env_home).returncode == 0
    assert (env_home / "colonies" / "default" / "demo.sqlite3").is_file()
    assert harmonix("field", "ingest", "demo", "words here", home=None, cwd=workdir).returncode == 0
    assert (workdir / "xdg" / "harmonix" / "colonies" / "default" / "demo.sqlite3").is_file(), \
        "default: the user's data directory"


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
    before = (home / "colonies" / "default" / "demo.sqlite3").read_bytes()
    result = harmonix(*args, "--json", home=home, cwd=workdir, stdin=stdin)
    assert result.returncode == 2
    error = one_json_object(result)["error"]
    assert message in error["message"]
    plain = harmonix(*args, home=home, cwd=workdir, stdin=stdin)
    assert plain.returncode == 2 and plain.stdout == b"" and message in plain.stderr.decode()
    check = one_json_object(harmonix("field", "check", "demo", "--json", home=home, cwd=workdir))
    assert check["texts"] == 1 and check["disturbances"] == 0 and check["ok"]
    assert (home / "colonies" / "default" / "demo.sqlite3").read_bytes() == before


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
    from harmonix.lab.reports import reproducing_command

    arguments = ["--organisms", "sonnet", "--home", "/somewhere/else", "--json", "--home=/x", "--report", "r.md"]
    assert reproducing_command("harmonix eval", arguments) == "harmonix eval --organisms sonnet --report r.md"


LLM_COMMANDS = [["prose", "x"], ["artist", "x"], ["ask", "x"], ["chat"], ["eval", "--organisms", "prose", "--count",
                                                                         "1"],
                ["bench", "cascade", "--repeats", "1"], ["bench", "llm", "--repeats", "1"]]
UNANSWERED = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there


@pytest.mark.parametrize("command", LLM_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_model_file_that_does_not_exist_exits_2_naming_it(tmp_path: Path, workdir: Path,
                                                           command: list[str]) -> None:
    for flag in ("--model", "--artist-model"):
        result = harmonix(*command, flag, "/nonexistent.gguf", home=tmp_path / "h", cwd=workdir, stdin=b"")
        stderr = result.stderr.decode()
        assert result.returncode == 2 and f"{flag}: no model file at /nonexistent.gguf" in stderr, stderr
        assert "Traceback" not in stderr and result.stdout == b""


@pytest.mark.parametrize("command", LLM_COMMANDS[:-1], ids=lambda c: " ".join(c[:2]))
def test_a_server_that_does_not_answer_exits_2_naming_it(tmp_path: Path, workdir: Path,
                                                        command: list[str]) -> None:
    result = harmonix(*command, "--llm-url", UNANSWERED, home=tmp_path / "h", cwd=workdir, stdin=b"")
    stderr = result.stderr.decode()
    assert result.returncode == 2 and f"the LLM server {UNANSWERED} does not answer" in stderr, stderr
    assert "Traceback" not in stderr


def test_artist_alone_on_a_server_that_does_not_answer_exits_2(tmp_path: Path, workdir: Path) -> None:
    result = harmonix("ask", "x", "--artist-llm-url", UNANSWERED, home=tmp_path / "h", cwd=workdir)
    assert result.returncode == 2 and UNANSWERED in result.stderr.decode()


def test_bench_llm_says_why_it_cannot_measure_a_server(tmp_path: Path, workdir: Path) -> None:
    result = harmonix("bench", "llm", "--llm-url", "http://127.0.0.1:8080/v1", home=tmp_path / "h", cwd=workdir)
    assert result.returncode == 2 and "cannot measure the server" in result.stderr.decode()


async def test_artist_on_its_own_server_while_prose_runs_the_embedded_model(tmp_path: Path, workdir: Path) -> None:
    """The seeds' split: Artist on an OpenAI-compatible server (here our loopback stand-in), Prose in-process."""
    from harmonix.lab.bench.delay_server import delayed_server

    async with delayed_server(0.01) as url:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "harmonix", "ask", "What is resonance?", "--seed", "4", "--json",
            "--artist-llm-url", url, "--home", str(tmp_path / "h"), cwd=workdir,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 600)
    assert process.returncode == 0, err.decode()[-2000:]
    document = json.loads(out)
    assert document["prose"]["backend"] == "llamacpp" and document["artist"]["backend"] == "openai"
    assert document["artist"]["text"]
