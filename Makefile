# From a fresh clone, `make demo` and `make test` install what they need on first use.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed

# checkov gets a venv of its own (its exact pins would downgrade the dev tools); its version range is the
# `checkov` extra of pyproject.toml.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_SPEC = $(shell $(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["checkov"][0])')

.PHONY: install demo test lint format schema bench

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(CHECKOV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "$(CHECKOV_SPEC)"
	touch $(CHECKOV_STAMP)

# The main job.
demo: $(STAMP)
	$(BIN)/failsafe drill

# pytest exits 5 when it collects nothing; make fails on any non-zero exit, so an empty run fails CI.
test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# checkov runs offline: --skip-download (no policy or guideline download), BC_SKIP_MAPPING (no mapping fetch).
# It exits non-zero on any failed check; skips live in template.yaml, each with its reason.
lint: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml --quiet --compact --skip-download

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	$(BIN)/python -m failsafe.domain.schema --write

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_decide.py
	$(BIN)/python benchmarks/bench_local_stack.py
