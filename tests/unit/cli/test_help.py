"""Every command's --help renders: an on-call engineer's first step must never be a traceback."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from failsafe_tools.cli.app import build_app


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(build_app())
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():  # typer vendors its own click
            walk(sub, [*path, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "failsafe")
def test_help_renders_for_every_command(path: list[str]) -> None:
    # Given the failsafe app
    app = build_app()

    # When
    result = CliRunner().invoke(app, [*path, "--help"])

    # Then
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_the_app_has_every_operator_command() -> None:
    # Given / When
    top_level = {tuple(p) for p in _command_paths() if len(p) == 1}

    # Then
    expected = {"plan", "drill", "status", "rollback", "kill-switch", "approve", "reject", "recover"}
    assert {(name,) for name in expected} <= top_level
