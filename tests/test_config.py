"""Configuration is validated once, with errors that name the flag or variable; one error tree maps to exit and HTTP
statuses in one table; the command line never ends in a traceback for bad configuration, missing files or bad
input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harmonix import errors
from harmonix.config import Config
from harmonix.documents import STATUSES, error_document, exit_status, http_status
from harmonix.errors import HarmonixError, InvalidConfiguration, ModelMissing
from harmonix.meta import StageError
from harmonix.organisms.sonnet import load_model


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("HARMONIX_LLM_THREADS", "abc", "whole number in [1, 256]"),
        ("HARMONIX_LLM_THREADS", "0", "whole number in [1, 256]"),
        ("HARMONIX_LLM_THREADS", "1000", "whole number in [1, 256]"),
        ("HARMONIX_LLM_PARALLEL", "0", "whole number in [1, 64]"),
        ("HARMONIX_LLM_PARALLEL", "2.5", "whole number in [1, 64]"),
        ("HARMONIX_LLM_TIMEOUT", "-1", "seconds in (0.0, 3600.0]"),
        ("HARMONIX_LLM_TIMEOUT", "0", "seconds in (0.0, 3600.0]"),
        ("HARMONIX_LLM_TIMEOUT", "nan", "seconds in (0.0, 3600.0]"),
        ("HARMONIX_LLM_TIMEOUT", "inf", "seconds in (0.0, 3600.0]"),
        ("HARMONIX_LOCK_TIMEOUT", "soon", "seconds in (0.0, 3600.0]"),
        ("HARMONIX_KEEP_TURNS", "0", "whole number in [1, 1000000000]"),
        ("HARMONIX_COLONY", "../etc", "[a-z0-9][a-z0-9-]{0,63}"),
        ("HARMONIX_COLONY", "Upper", "[a-z0-9][a-z0-9-]{0,63}"),
        ("HARMONIX_COLONY", "x" * 65, "[a-z0-9][a-z0-9-]{0,63}"),
        ("HARMONIX_LLM_URL", "ftp://example.org/v1", "http:// or https:// URL"),
        ("HARMONIX_LLM_URL", "http://", "http:// or https:// URL"),
        ("HARMONIX_LLM_URL", "http://host:99999/v1", "invalid port"),
        ("HARMONIX_ARTIST_LLM_URL", "localhost:8080", "http:// or https:// URL"),
        ("HARMONIX_DATABASE_URL", "mysql://db/harmonix", "sqlite:PATH or a postgresql:// URL"),
        ("HARMONIX_DATABASE_URL", "postgresql://a b=c", "not a PostgreSQL URL libpq accepts"),
        ("HARMONIX_DATABASE_URL", "postgresql://host/db?nonsense=1", "not a PostgreSQL URL libpq accepts"),
        ("HARMONIX_DB_POOL", "0", "whole number in [1, 1000]"),
        ("HARMONIX_DB_IDLE_TIMEOUT", "0", "seconds in (0.0, 86400.0]"),
    ],
)
def test_every_bad_value_names_its_variable_and_range(tmp_path: Path, variable: str, value: str, says: str) -> None:
    with pytest.raises(InvalidConfiguration) as raised:
        Config.load(tmp_path, environ={variable: value})
    assert variable in str(raised.value) and says in str(raised.value)


def test_a_flag_is_named_when_the_flag_is_at_fault(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfiguration, match="--colony"):
        Config.load(tmp_path, colony="Not/A/Name", environ={})
    with pytest.raises(ModelMissing, match="--model: no model file at"):
        Config.load(tmp_path, prose_model=tmp_path / "missing.gguf", environ={})
    with pytest.raises(ModelMissing, match="HARMONIX_ARTIST_MODEL"):
        Config.load(tmp_path, environ={"HARMONIX_ARTIST_MODEL": str(tmp_path / "missing.gguf")})


def test_the_database_chooses_the_store_and_the_home_is_the_default(tmp_path: Path) -> None:
    assert Config.load(tmp_path, environ={}).store_url == f"sqlite:{tmp_path}"
    url = "postgresql://harmonix@db.internal:5432/harmonix?sslmode=require"
    assert Config.load(tmp_path, environ={"HARMONIX_DATABASE_URL": url}).store_url == url
    assert Config.load(tmp_path, database=f"sqlite:{tmp_path / 'other'}",
                       environ={"HARMONIX_DATABASE_URL": url}).store_url == f"sqlite:{tmp_path / 'other'}"
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidConfiguration, match="--database must name a directory"):
        Config.load(tmp_path, database=f"sqlite:{tmp_path / 'file'}", environ={})


def test_a_model_and_a_server_for_one_organism_is_an_error(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    with pytest.raises(InvalidConfiguration, match="--model or --llm-url, not both"):
        Config.load(tmp_path, prose_model=model, llm_url="http://127.0.0.1:8080/v1", environ={})


def test_flags_beat_the_environment(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    config = Config.load(tmp_path, prose_model=model, environ={"HARMONIX_PROSE_MODEL": "/elsewhere.gguf",
                                                                "HARMONIX_COLONY": "from-env"})
    assert config.prose_llm.model == model and config.colony == "from-env"
    assert Config.load(tmp_path, colony="flag", environ={"HARMONIX_COLONY": "env"}).colony == "flag"


def test_artist_shares_the_prose_llm_unless_given_its_own(tmp_path: Path) -> None:
    shared = Config.load(tmp_path, llm_url="http://127.0.0.1:8080/v1", environ={})
    assert shared.llm("artist") == shared.llm("prose")
    own = Config.load(tmp_path, artist_llm_url="http://127.0.0.1:9000/v1", environ={"HARMONIX_ARTIST_LLM_MODEL": "l3"})
    assert own.llm("prose").url is None and own.llm("artist").url == "http://127.0.0.1:9000/v1"
    assert own.llm("artist").server_model == "l3"


def test_a_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "a-file"
    home.write_text("not a directory")
    with pytest.raises(InvalidConfiguration, match="--home must be a directory"):
        Config.load(home, environ={})


def test_every_user_caused_error_is_a_harmonix_error_and_maps_to_a_status() -> None:
    classes = [value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == errors.__name__]
    assert len(classes) >= 20
    for cls in classes:
        assert issubclass(cls, HarmonixError), cls
        assert any(issubclass(cls, row[0]) for row in STATUSES), cls
    assert exit_status(InvalidConfiguration("x")) == 2 and exit_status(ModelMissing("x")) == 2
    assert exit_status(errors.LLMUnreachable("x")) == 2 and exit_status(errors.LLMTimeout("x")) == 1
    assert http_status(errors.InvalidText("x")) == 422 and http_status(errors.ColonyNotFound("x")) == 404
    assert http_status(StageError("LLMTimeout", "slow")) == 504 and http_status(StageError("LLMBusy", "full")) == 503
    assert http_status(StageError("TimeoutError", "stalled")) == 500
    assert error_document(errors.ColonyExists("taken")) == {"error": {"type": "ColonyExists", "message": "taken"}}


def test_missing_sonnet_weights_are_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="no Sonnet weights"):
        load_model(tmp_path)


def run_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HARMONIX_HOME": str(tmp_path / "home"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "harmonix", *args], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=300)


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["stats"], {"HARMONIX_LLM_THREADS": "abc"}, "HARMONIX_LLM_THREADS"),
        (["stats"], {"HARMONIX_COLONY": "../../etc"}, "HARMONIX_COLONY"),
        (["haiku", "x"], {"HARMONIX_LLM_TIMEOUT": "never"}, "HARMONIX_LLM_TIMEOUT"),
        (["--colony", "Bad Name", "stats"], {}, "--colony"),
        (["field", "check", "nothere"], {}, "no field 'nothere'"),
        (["--colony", "nowhere", "stats"], {}, "no colony 'nowhere'"),
        (["colony", "fork", "nowhere", "copy"], {}, "no colony 'nowhere'"),
        (["colony", "create", "../up"], {}, "NAME must match"),
        (["reset", "--organism", "haiku", "--yes", "--colony", "absent"], {}, "no colony 'absent'"),
        (["haiku", "\x01\x02"], {}, "control character U+0001"),
        (["eval", "--organisms", "nobody"], {}, "unknown organisms"),
    ],
)
def test_no_traceback_for_bad_configuration_missing_things_or_bad_input(tmp_path: Path, args: list[str],
                                                                       env: dict[str, str], says: str) -> None:
    plain = run_cli(tmp_path, *args, env=env)
    assert plain.returncode == 2, plain.stderr
    assert says in plain.stderr and "Traceback" not in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1, "one line on stderr"
    assert plain.stdout == ""
    as_json = run_cli(tmp_path, *args, "--json", env=env)
    assert as_json.returncode == 2 and "Traceback" not in as_json.stderr
    document = json.loads(as_json.stdout)
    assert set(document) == {"error"} and says in document["error"]["message"]
