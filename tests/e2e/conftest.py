"""End-to-end tests on the embedded local AWS (template.yaml provisioned in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


BUILD = REPO / ".aws-sam" / "build"
LAMBDA_PYTHON = REPO / ".venv-lambda" / "bin" / "python"


@pytest.fixture(scope="session")
def built_package() -> tuple[Path, Path]:
    """The `sam build` output's template and the Python that plays the Lambda runtime (`make build`)."""
    template = BUILD / "template.yaml"
    if not template.is_file() or not LAMBDA_PYTHON.is_file():
        pytest.fail(f"{template} or {LAMBDA_PYTHON} is missing: run `make build` (make test does) first")
    return template, LAMBDA_PYTHON
