# From a fresh clone, `make demo` and `make test` install and build what they need on first use.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed

# The SAM CLI has its own venv: its pins must not decide the project's.
SAM_VENV ?= .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam

# What the Lambda python3.11 runtime has: the standard library and boto3. The local stack's sandboxes and
# the package check run the built functions on it, so a dependency missing from the package fails here.
LAMBDA_VENV ?= .venv-lambda
LAMBDA_STAMP := $(LAMBDA_VENV)/.installed

BUILD_DIR := .aws-sam/build
# Deploys default to arm64 (template parameter); the local stack runs the package on this machine.
ARCH := $(shell uname -m | sed -e 's/aarch64/arm64/')

# checkov gets a venv of its own (its exact pins would downgrade the dev tools); its version range is the
# `checkov` extra of pyproject.toml, as the SAM CLI's is the `sam` extra.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
extra = $(shell $(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["$(1)"][0])')

.PHONY: install demo test lint format schema generate check-generated bench build lambda-python

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(SAM_STAMP): pyproject.toml
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet "$(call extra,sam)"
	touch $(SAM_STAMP)

$(CHECKOV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "$(call extra,checkov)"
	touch $(CHECKOV_STAMP)

$(LAMBDA_STAMP):
	$(PYTHON) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/python -m pip install --quiet "boto3>=1.35,<2"
	touch $(LAMBDA_STAMP)

lambda-python: $(LAMBDA_STAMP)

# `sam build` for this machine's architecture, then bytecode compiled into each package and its contents
# checked (production code only). What the drill, the e2e tests and `sam deploy` use.
build: $(STAMP) $(SAM_STAMP) $(LAMBDA_STAMP)
	$(SAM) build --cached --parameter-overrides Architecture=$(ARCH)
	$(BIN)/python -m failsafe_tools.package $(BUILD_DIR) --python $(LAMBDA_VENV)/bin/python --source functions

# The main job: a full rollback drill on the embedded local AWS, running the built package.
demo: build
	$(BIN)/failsafe drill --package $(BUILD_DIR) --lambda-python $(LAMBDA_VENV)/bin/python

# pytest exits 5 when it collects nothing; make fails on any non-zero exit, so an empty run fails CI.
test: build
	$(BIN)/python -m pytest -q tests

lint: $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml --quiet --compact --skip-download

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The code is the source of the catalog, the plan, the baselines and the toggle schema; the files under infra/
# and the generated sections of template.yaml are rendered from it. `generate` rewrites them (the schema
# first: the template embeds it); `check-generated` fails when any is stale (unit tests run the same checks).
generate: $(STAMP)
	$(BIN)/python -m failsafe.domain.schema --write
	$(BIN)/python infra/sync_template.py

check-generated: $(STAMP)
	$(BIN)/python -m failsafe.domain.schema --check
	$(BIN)/python infra/sync_template.py --check

schema: generate

bench: build
	$(BIN)/python benchmarks/bench_decide.py
	$(BIN)/python benchmarks/bench_local_stack.py
	$(BIN)/python benchmarks/bench_cold_start.py --python $(LAMBDA_VENV)/bin/python --repeats 3
