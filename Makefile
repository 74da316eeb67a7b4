# Dumpin: `make run` starts the bot, `make test` runs the test suite (both set up .venv first).
# `make deploy-check` (as root) builds the images and runs the compose stack end to end.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint install install-dev deploy-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,train]"

run: install
	$(BIN)/dumpin db upgrade
	$(BIN)/dumpin db seed
	$(BIN)/dumpin bot

test: install-dev
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# the check needs the base install; an existing one (e.g. from `make test`) is kept
$(BIN)/dumpin: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .

deploy-check: $(BIN)/dumpin
	$(BIN)/python -m deploy.check
