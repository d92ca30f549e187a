# Everything bootstraps from a bare python3: `make demo` and `make test` are the whole set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | $(PYTHON) -c "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])")
# three workers on two cores: much of the suite waits on CLI processes, servers and a
# browser, so a third worker keeps both cores busy; worksteal evens out the long tail
# (measured: 9 min 48 s with -n 2, 8 min 0 s with -n 3 --dist worksteal)
PYTEST_ARGS ?= -n 3 --dist worksteal

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
