"""The Lambda package's requirements and the project's runtime dependencies are one list."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def requirement_lines(path: Path) -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def test_lambda_requirements_are_the_project_runtime_dependencies() -> None:
    # Given the requirements sam build installs into every function and pyproject's [project] dependencies
    lambda_requirements = requirement_lines(ROOT / "functions" / "requirements.txt")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    # Then they are the same pinned ranges: what a recommender service installs is what Lambda runs
    assert lambda_requirements == set(project["dependencies"])


def test_the_runtime_dependencies_leave_the_cli_and_the_local_aws_out() -> None:
    # Given what `pip install failsafe` brings
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {dep.split("[")[0].split(">")[0].split("=")[0].strip() for dep in project["dependencies"]}

    # Then a recommender service does not pull the operator CLI, moto or the SAM translator
    assert names.isdisjoint({"typer", "rich", "moto", "aws-sam-translator", "pyyaml", "jsonschema"})
