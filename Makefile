# Everyday commands. `make serve` and `make test` set themselves up on a fresh machine.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
CHROMIUM := /usr/bin/chromium
STRACE := /usr/bin/strace
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Bytecode made at install time: without it every start compiles the dependencies (and this
# package) from source, where PYTHONDONTWRITEBYTECODE keeps Python from caching it; a restart
# after a crash took 4.1 s to answer /readyz instead of 1.5 s (docs/operations.md).
export UV_COMPILE_BYTECODE := 1

.PHONY: serve test test-fast lint format install install-dev demo bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --no-dev
	$(VENV)/bin/python -m compileall -q src

install-dev: $(UV) tests/appwrite/node/node_modules $(CHROMIUM) $(STRACE)
	$(UV) sync --frozen --extra dev
	$(VENV)/bin/python -m compileall -q src

# Browser tests drive Debian's Chromium (Playwright never downloads a browser).
$(CHROMIUM):
	apt-get install -y --no-install-recommends chromium || \
	  (apt-get update && apt-get install -y --no-install-recommends chromium)

# The reliability suite fails chosen writes and fsyncs of the server with strace.
$(STRACE):
	apt-get install -y --no-install-recommends strace || \
	  (apt-get update && apt-get install -y --no-install-recommends strace)

# The Appwrite face is also tested with the official Node SDK (from the npm registry).
tests/appwrite/node/node_modules: tests/appwrite/node/package-lock.json
	npm ci --prefix tests/appwrite/node --no-audit --no-fund
	touch $@

serve: install  ## start clientbook on the embedded SQLite database (./data/)
	$(VENV)/bin/clientbook serve

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: install-dev lint  ## the whole suite: SQLite, and PostgreSQL where CLIENTBOOK_TEST_POSTGRES_URL is set
	$(VENV)/bin/pytest -n 2 --dist loadgroup

test-fast: install-dev
	$(VENV)/bin/pytest -x -q

format: install-dev
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
