# The two commands: `make run` and `make test` (see README.md). Each sets up what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SDK := tests/sdk
A11Y := tests/a11y

.PHONY: run test lint setup bench

# The suite on two processes, whole files to each (a module's servers and fixtures start
# once); each process has its own test database. PYTEST_PARALLEL= runs it in one process.
PYTEST_PARALLEL ?= -n 2 --dist loadfile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

# Node packages of the browser tests, (re)installed when their lock file is newer: Kore's own
# Web SDK (tests/sdk, for tests/emulator/test_kore_web_sdk.py) and axe-core (tests/a11y, for
# tests/e2e/test_widget_a11y.py). Without npm those tests skip, except under CI=true where
# this step fails.
tests/%/node_modules/.package-lock.json: tests/%/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/$* --no-audit --no-fund && touch $@; \
	elif [ "$$CI" = "true" ]; then \
		echo "npm is missing: under CI=true the tests/$* browser tests must run" >&2; exit 1; \
	else \
		echo "npm is missing: the tests/$* browser tests will skip" >&2; \
	fi

setup: $(VENV)/.run-deps
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo

# The address `make run` serves, written to var/site-root first: the settings read it when
# SITE_ROOT is not set, so management commands (create_bot, check_upstream) agree with the
# server on its port without anyone exporting SITE_ROOT.
SITE_ROOT_RUN = $${SITE_ROOT:-http://$(HOST):$(PORT)}

run: setup
	mkdir -p var && echo "$(SITE_ROOT_RUN)" > var/site-root
	SITE_ROOT=$(SITE_ROOT_RUN) $(BIN)/python -m kore_chat.serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: $(VENV)/.dev-deps lint
	scripts/ensure-chromium
	$(MAKE) --no-print-directory $(SDK)/node_modules/.package-lock.json $(A11Y)/node_modules/.package-lock.json
	$(BIN)/pytest $(PYTEST_PARALLEL)
	scripts/test-on-postgres $(BIN)/pytest $(PYTEST_PARALLEL) -q tests/api tests/kore

# The performance goals, each against a baseline of the same run (docs/performance.md); minutes
# long. Results in bench/results/, plots in docs/.
bench: $(VENV)/.dev-deps
	scripts/ensure-chromium
	$(MAKE) --no-print-directory $(SDK)/node_modules/.package-lock.json
	$(BIN)/python bench/longpoll_bench.py
	$(BIN)/python bench/memory_bench.py
	$(BIN)/python bench/throughput_bench.py
	$(BIN)/python bench/widget_bench.py
	$(BIN)/python bench/render_bench.py
	$(BIN)/python bench/scale_bench.py
	$(BIN)/python bench/plots.py
