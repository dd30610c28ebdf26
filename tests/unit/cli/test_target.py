"""Target resolution: a deployed stack's outputs via CloudFormation, the local server's state file, and one
clear line for every way a target cannot be reached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support import STACK_TEMPLATE
from typer.testing import CliRunner

from failsafe_tools.cli.app import build_app
from failsafe_tools.target import TargetError, resolve


def test_no_region_names_the_fix(fake_credentials: None) -> None:
    # Given no region anywhere / When resolved / Then --region is suggested
    with pytest.raises(TargetError, match="no AWS region configured; pass --region"):
        resolve(stack="failsafe-prod")


def test_no_credentials_names_the_fix(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no credentials / When resolved / Then aws configure or sso login is suggested
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(TargetError, match="no AWS credentials found; run `aws configure`"):
        resolve(stack="failsafe-prod", region="us-east-1")


def test_a_dead_local_server_is_reported_with_the_fix(tmp_path: Path) -> None:
    # Given a state file left by a local server that is gone
    state = tmp_path / "local.json"
    state.write_text(
        json.dumps(
            {
                "pid": 2**22 + 12345,
                "endpoint": "http://127.0.0.1:1",
                "agent_url": None,
                "region": "us-east-1",
                "stack_name": "failsafe",
                "template": "template.yaml",
                "speed": 60.0,
                "started_at": 0.0,
            }
        )
    )

    # When --target local is resolved / Then it says how to restart it
    with pytest.raises(TargetError, match="failsafe local down` then `failsafe local up --detach"):
        resolve(state_file=state)


def test_unknown_target_kind(tmp_path: Path) -> None:
    # Given --target staging / When resolved / Then local or --stack is suggested
    with pytest.raises(TargetError, match="use --target local or --stack NAME"):
        resolve(target="staging", state_file=tmp_path / "none.json")


def test_no_local_stack_is_refused_instead_of_a_throwaway_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no running local stack, in a directory with a template (where a stack used to be started for
    # the one command and vanish with it)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "template.yaml").write_text(json.dumps(STACK_TEMPLATE), encoding="utf-8")

    # When --target local is resolved / Then it refuses with the fix: start one, or name a deployed stack
    with pytest.raises(TargetError, match=r"no local stack is running; start one with `failsafe local up"):
        resolve(state_file=tmp_path / "none.json")


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["rollback", "--level", "1", "--reason", "x", "--yes"],
        ["kill-switch", "on", "--reason", "x", "--yes"],
        ["kill-switch", "off", "--reason", "x", "--yes"],
        ["recover", "--reason", "x", "--yes"],
        ["abort", "man-x", "--reason", "x", "--yes"],
        ["approve", "man-x"],
        ["validate"],
        ["audit", "log"],
        ["toggles", "show"],
        ["plan", "--level", "2"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_commands_refuse_without_a_stack_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    # Given no local stack and no --stack
    monkeypatch.chdir(tmp_path)

    # When a command that reads or changes state runs
    result = CliRunner().invoke(build_app(), [*args, "--state-file", str(tmp_path / "none.json")])

    # Then it exits 2 with one line naming the fix, and nothing ran against a throwaway stack
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(
        "error: no local stack is running; start one with `failsafe local up --detach`"
    )
