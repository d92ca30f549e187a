# Everything bootstraps from a bare python3: `make demo` and `make test` are the whole set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | $(PYTHON) -c "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])")
# two workers: the suite is mostly CLI processes and embedded databases, and both cores help
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint types unit bench clean venv mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/copilot demo

lint: $(STAMP)
	$(BIN)/ruff check copilot tools tests evals
	$(BIN)/ruff format --check copilot tools tests evals
	$(BIN)/lint-imports --no-logo

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint types unit

bench: $(STAMP)
	$(BIN)/copilot bench core

# Mutation testing of the door against its safety tests ([tool.mutmut] in pyproject.toml).
# Not part of `make test`: it takes about an hour on two cores. SQLite only. The survivors:
# `$(BIN)/mutmut results`, and `$(BIN)/mutmut show NAME` for one of them.
mutation: $(STAMP)
	rm -rf mutants
	COPILOT_TEST_POSTGRES_URL= $(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .copilot .pytest_cache .mypy_cache .ruff_cache mutants
