# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run   - the server on the embedded SQLite database, with a demo
#   make test  - lint, types and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LINT_PATHS := registry composer policies migrations tests $(wildcard bench)

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/atrium: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: $(BIN)/atrium
	$(BIN)/atrium serve --demo

test: lint typecheck pytest

lint: $(BIN)/atrium
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(BIN)/atrium
	$(BIN)/mypy

pytest: $(BIN)/atrium
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage report --skip-covered --sort=cover | tail -n 25

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage
