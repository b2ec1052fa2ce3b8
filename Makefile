# The two commands a newcomer types: `make run` (set up, then the main job) and `make test` (set up, then the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# For now the main job is one HAiKU turn (a round trip through its field); the cascade replaces it.
run: $(STAMP)
	$(BIN)/harmonix haiku "What is resonance, and where does it live?"
	$(BIN)/harmonix field check haiku
	$(BIN)/harmonix field stats haiku

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/harmonix bench field

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
