# From a fresh clone, `make demo` and `make test` install what they need on first use.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format schema bench

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The main job.
demo: $(STAMP)
	$(BIN)/failsafe drill

# pytest exits 5 when it collects nothing; make fails on any non-zero exit, so an empty run fails CI.
test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	$(BIN)/python -m failsafe.domain.schema --write

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_decide.py
	$(BIN)/python benchmarks/bench_local_stack.py
