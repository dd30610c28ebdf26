"""Operator output that needs no stack: the recorded outcome of a level and its target time,
`status --watch`'s verdict and its in-place redraw, plurals, markup, --version. (The PagerDuty secret check on
AWS runs against moto in tests/integration/cli/test_validate_on_aws.py.)"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from rich.console import Console
from typer.testing import CliRunner

from failsafe.domain.audit import AuditEntry
from failsafe_tools.cli import status as status_module
from failsafe_tools.cli.app import build_app
from failsafe_tools.cli.output import plural
from failsafe_tools.cli.rollback import describe_step, in_force_outcome, level_outcome
from failsafe_tools.target import Target

T0 = datetime(2026, 1, 1, 3, 2, tzinfo=UTC)
INCIDENT = "man-20260101T030200000000Z-abcd1234-00000000"


def entry(seq: int, action: str, seconds: float, actor: str = "alice", **after: Any) -> AuditEntry:
    return AuditEntry.model_validate(
        {
            "chain": "failsafe",
            "seq": seq,
            "at": (T0 + timedelta(seconds=seconds)).isoformat(),
            "action": action,
            "actor": actor,
            "reason": "r",
            "scope_key": "recommender/prod",
            "incident_id": INCIDENT,
            "before": {},
            "after": after,
            "details": {},
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
        }
    )


def test_level_1_while_stage_2_is_in_force_is_in_force_only_once_stage_1_is_recorded() -> None:
    # Given stage 2 in force, then alice asks for level 1 (the controller has not deployed it yet)
    entries = [
        entry(1, "transition:MANUAL_LEVEL", 0, stage="stage_2", applied_stage=None),
        entry(2, "transition:STAGE_APPLIED", 40, stage="stage_2", applied_stage="stage_2"),
        entry(3, "transition:MANUAL_LEVEL", 100, stage="stage_1", applied_stage="stage_2"),
    ]

    # When / Then: level 1 is not "in force" yet (stage 2 being further along does not count)
    assert level_outcome(entries, "stage_1", "alice") is None

    # When stage 1 is recorded in force / Then the outcome is that entry, timed from alice's request
    entries.append(entry(4, "transition:STAGE_APPLIED", 130, stage="stage_1", applied_stage="stage_1"))
    recorded = level_outcome(entries, "stage_1", "alice")
    assert recorded is not None
    outcome, line = in_force_outcome(
        recorded, entries, "stage_1", state="DEGRADED", held=True, clock_note=" (simulated clock, 60x)"
    )
    assert outcome["seconds"] == 30
    assert outcome["target_met"] is True
    assert outcome["exit_code"] == 0
    assert "stage_1 is in force" in line
    assert "held until recovered" in line


def test_a_level_that_misses_its_target_exits_non_zero() -> None:
    # Given stage 1 (target 120 s) recorded in force 200 s after the request, on the stack's clock
    entries = [
        entry(1, "transition:MANUAL_LEVEL", 0, stage="stage_1"),
        entry(2, "transition:STAGE_APPLIED", 200, stage="stage_1", applied_stage="stage_1"),
    ]
    recorded = level_outcome(entries, "stage_1", "alice")
    assert recorded is not None

    # When / Then
    outcome, line = in_force_outcome(
        recorded, entries, "stage_1", state="DEGRADED", held=False, clock_note=""
    )
    assert outcome["target_met"] is False
    assert outcome["exit_code"] == 1
    assert "missed its target" in line


def test_a_skipped_revert_is_not_reported_as_in_force() -> None:
    # Given level 3 whose revert stage was "applied" while the audit says the revert was skipped
    entries = [
        entry(1, "transition:MANUAL_LEVEL", 0, stage="revert"),
        entry(2, "release:revert_skipped", 50, actor="bob"),
        entry(3, "transition:STAGE_APPLIED", 51, stage="revert", applied_stage="revert"),
    ]
    recorded = level_outcome(entries, "revert", "alice")
    assert recorded is not None

    # When / Then: the line says what happened, and the exit code is not success
    outcome, line = in_force_outcome(
        recorded, entries, "revert", state="ROLLED_BACK", held=True, clock_note=""
    )
    assert outcome["status"] == "revert_skipped"
    assert outcome["exit_code"] == 1
    assert "the revert did not happen" in line
    assert "is in force" not in line


def test_deployment_steps_are_words_not_json() -> None:
    # Given the dry run's deployment plan steps / When described / Then no raw JSON
    text = describe_step(
        {
            "step": "deploy_toggles",
            "stages": ["stage_1", "stage_2"],
            "strategy": "immediate",
            "from_config_version": 3,
        }
    )
    assert (
        text
        == "deploy the toggles of stage_1, stage_2 with the immediate strategy (replacing config version 3)"
    )
    assert "{" not in describe_step(
        {"step": "revert_to_last_known_good", "stage": "revert", "requires_approval": True}
    )


def test_plurals() -> None:
    assert plural(1, "warning") == "1 warning"
    assert plural(2, "warning") == "2 warnings"
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(0, "entry", "entries") == "0 entries"


def _target(outputs: dict[str, str]) -> Target:
    return Target(
        kind="stack",
        description="stack failsafe (us-east-1)",
        region="us-east-1",
        outputs=outputs,
        factory=lambda service: boto3.client(service, region_name="us-east-1"),
    )


def test_version_and_completion_are_offered() -> None:
    # Given the app / When --version and --help run
    version = CliRunner().invoke(build_app(), ["--version"])
    helped = CliRunner().invoke(build_app(), ["--help"])

    # Then
    assert version.exit_code == 0
    assert re.fullmatch(r"failsafe \S+\n", version.output)
    assert "--install-completion" in helped.output


def test_help_shows_the_level_choices() -> None:
    for command in (["rollback"], ["plan"]):
        result = CliRunner(env={"COLUMNS": "200"}).invoke(build_app(), [*command, "--help"])
        assert "[1|2|3|emergency]" in result.output, result.output


def _scope(**over: Any) -> dict[str, Any]:
    return {
        "scope": "recommender/prod",
        "state": "ROLLED_BACK",
        "incident_id": INCIDENT,
        "stage": "emergency",
        "applied_stage": "emergency",
        "execution": "RUNNING",
        "pending_approval": None,
        "held_until_recovered": False,
        "waiting_for": None,
        **over,
    }


def _data(scopes: list[dict[str, Any]], in_flight: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "target": "the in-process local stack",
        "at": T0.isoformat(),
        "clock": "simulated clock, 60x",
        "scopes": scopes,
        "alarms_firing": [],
        "deployed": {"config_version": 3, "document_version": 3, "deployment_number": 3, "state": "COMPLETE"},
        "deployments_in_flight": in_flight or [],
        "clients": None,
    }


GRADUAL = {
    "deployment_number": 4,
    "config_version": 4,
    "state": "DEPLOYING",
    "strategy": "gradual",
    "percentage_complete": 40.0,
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_data([_scope(state="NORMAL", incident_id=None, stage=None, applied_stage=None)]), 0),
        (_data([_scope(state="NORMAL", incident_id=None)], [GRADUAL]), None),
        (_data([_scope(pending_approval="revert")]), 3),
        (_data([_scope(execution="ABORTED")]), 3),
        (_data([_scope(held_until_recovered=True)]), 3),
        (_data([_scope(held_until_recovered=True, stage="stage_2", applied_stage="stage_1")]), None),
        (_data([_scope(state="RECOVERY_VERIFY")]), None),
    ],
    ids=["normal", "restore-deploying", "approval", "aborted", "held", "held-moving", "verifying"],
)
def test_watch_ends_on_normal_or_when_a_person_is_needed(data: dict[str, Any], expected: int | None) -> None:
    # Given a status / When judged / Then NORMAL with nothing deploying is 0, a person needed is 3
    ended = status_module.verdict(data)
    assert (None if ended is None else ended[1]) == expected


def test_watch_redraws_in_place_on_a_terminal_and_prints_lines_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a scope restoring gradually (40 %, 80 %), then NORMAL with nothing deploying
    frames = [
        _data([_scope(state="NORMAL", incident_id=None, stage=None, applied_stage=None)], [GRADUAL]),
        _data(
            [_scope(state="NORMAL", incident_id=None, stage=None, applied_stage=None)],
            [{**GRADUAL, "percentage_complete": 80.0}],
        ),
        _data([_scope(state="NORMAL", incident_id=None, stage=None, applied_stage=None)]),
    ]

    def run(terminal: bool) -> tuple[int, str]:
        feed = iter([frames[0], *frames])  # the first frame also draws the live view's first picture
        buffer = io.StringIO()
        out = Console(file=buffer, force_terminal=terminal, width=160, emoji=False, highlight=False)
        monkeypatch.setattr(status_module, "status_data", lambda target, scope: next(feed))
        monkeypatch.setattr(status_module, "console", lambda: out)
        monkeypatch.setattr(status_module, "_pause", lambda seconds: None)
        code = status_module.watch(_target({}), None)
        return code, buffer.getvalue()

    # When watched on a terminal
    code, drawn = run(terminal=True)

    # Then it redrew in place (cursor up + erase line between frames) and ended on NORMAL with 0
    assert code == 0
    assert "\x1b[1A" in drawn or "\x1b[2K" in drawn
    assert "40%" in drawn
    assert "80%" in drawn
    assert "NORMAL, nothing deploying" in drawn.splitlines()[-1]

    # When watched without a terminal (a log, CI)
    code, lines = run(terminal=False)

    # Then one plain line per change, no control sequences, the same end
    assert code == 0
    assert "\x1b[" not in lines
    printed = lines.strip().splitlines()
    assert len(printed) == 4
    assert "gradual, 40%" in printed[0]
    assert "gradual, 80%" in printed[1]
    assert "(simulated clock, 60x)" in printed[0]
    assert "NORMAL, nothing deploying" in printed[-1]


def test_abort_names_the_incident_it_stops() -> None:
    # Given an abort request without the incident / When parsed / Then refused with the fix
    from failsafe.controller import manual

    with pytest.raises(manual.ManualRequestError, match="incident_id is required to abort"):
        manual.parse_request(
            {"action": "abort", "scope": "recommender/prod", "reason": "r", "requested_by": "a"}
        )
