VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint format schema bench

install:
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"

# The main job.
demo:
	$(BIN)/failsafe plan --level 2 --dry-run

# pytest exits 5 when it collects nothing; that is a failure here, as any non-zero exit is.
test:
	$(BIN)/python -m pytest -q tests

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	if [ -f template.yaml ]; then $(BIN)/cfn-lint template.yaml; fi

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema:
	$(BIN)/python -m failsafe.domain.schema --write

bench:
	$(BIN)/python benchmarks/bench_decide.py
