"""`--auto-restore` on `failsafe rollback` and `failsafe kill-switch on` reaches the manual request."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from failsafe.controller.manual import parse_request
from failsafe_tools.cli import kill_switch, rollback
from failsafe_tools.cli.app import build_app


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The requests the commands would send to ManualRollbackFunction (instead of a stack)."""
    requests: list[dict[str, Any]] = []

    def run_level(request: dict[str, Any], **_: Any) -> None:
        requests.append(request)

    monkeypatch.setattr(rollback, "run_level", run_level)
    monkeypatch.setattr(kill_switch, "run_level", run_level)
    return requests


@pytest.mark.parametrize(
    ("args", "auto_restore"),
    [
        (["rollback", "--level", "2", "--reason", "r", "--yes"], False),
        (["rollback", "--level", "2", "--reason", "r", "--yes", "--auto-restore"], True),
        (["kill-switch", "on", "--reason", "r", "--yes"], False),
        (["kill-switch", "on", "--reason", "r", "--yes", "--auto-restore"], True),
    ],
)
def test_a_manual_level_holds_unless_auto_restore_is_asked_for(
    sent: list[dict[str, Any]], args: list[str], auto_restore: bool
) -> None:
    # Given the operator CLI / When a level or the kill switch is requested
    result = CliRunner().invoke(build_app(), args)
    # Then the request says whether the controller may restore by itself, and the Lambda accepts it
    assert result.exit_code == 0, result.output
    [request] = sent
    assert request["auto_restore"] is auto_restore
    # with no identity in it: who acts is the principal that signs the call (the function adds it)
    assert "requested_by" not in request
    verified = {**request, "requested_by": "arn:aws:iam::123456789012:user/alice"}
    assert parse_request(verified).auto_restore is auto_restore


def test_auto_restore_on_kill_switch_off_is_refused(sent: list[dict[str, Any]]) -> None:
    # Given / When `kill-switch off --auto-restore` / Then it fails naming the flag, and nothing is sent
    result = CliRunner().invoke(build_app(), ["kill-switch", "off", "--reason", "r", "--auto-restore"])
    assert result.exit_code != 0
    assert "--auto-restore" in result.output
    assert sent == []
