# The two commands: `make run` and `make test` (see README.md). Each sets up what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint setup bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

setup: $(VENV)/.run-deps
	$(BIN)/python manage.py migrate --no-input

run: setup
	SITE_ROOT=$${SITE_ROOT:-http://$(HOST):$(PORT)} $(BIN)/uvicorn kore_chat.asgi:application --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: $(VENV)/.dev-deps lint
	scripts/ensure-chromium
	$(BIN)/pytest

bench: $(VENV)/.dev-deps
	$(BIN)/python bench/longpoll_bench.py
	$(BIN)/python bench/render_bench.py
