"""One drill per scenario on the embedded local AWS: the real template, controller, client and recommender.

Each test runs a drill (`failsafe drill --scenario NAME`) and asserts the final state, the scorecard
(every target met) and that the written report holds the full timeline: fault (or operator action),
alarm, workflow, deployment, client convergence, recovery and NORMAL, in that order. The default scenario
runs through the CLI as `make demo` does (the built package); the others through `run_drill`, also on the
built package.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from failsafe_tools.cli.app import build_app
from failsafe_tools.drill.runner import DEFAULT_SPEED, DrillOptions, run_drill
from failsafe_tools.drill.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario, get_scenario

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SPEED = DEFAULT_SPEED  # the scorecard does not depend on it (tests/e2e/test_drill_determinism.py)
# Shorter verify window and restore than production (template parameters, i.e. data): none of them is a
# scored target, and they keep the whole e2e suite within a few minutes of wall time.
QUICK_RECOVERY = {
    "LogLevel": "WARNING",
    "VerifyWindowSeconds": "300",
    "RestoreDurationMinutes": "2",
    "RestoreBakeMinutes": "1",
}
MILESTONES = ("fault", "incident", "deployed", "converged", "recovered", "normal")


def assert_complete_report(report_json: Path, scenario: Scenario) -> None:
    """Every milestone happened, in order, and the timeline holds each source's events."""
    report: dict[str, Any] = json.loads(report_json.read_text())
    assert report["final_state"] == "NORMAL"
    milestones = report["scorecard"]["milestones"]
    assert None not in [milestones[name] for name in MILESTONES], milestones
    instants = [datetime.fromisoformat(milestones[name]) for name in MILESTONES]
    assert instants == sorted(instants)
    if scenario.expected_alarms:
        assert instants[0] < datetime.fromisoformat(milestones["alarm"]) < instants[1]
    kinds = {event["kind"] for event in report["timeline"]["events"]}
    expected = {"execution:started", "deployment:complete", "client:version", "lifecycle:transition"}
    expected |= (
        {"drill:fault", "alarm:ALARM"} if scenario.expected_alarms else {"drill:manual", "drill:approve"}
    )
    assert expected <= kinds
    assert "pagerduty:trigger" in kinds


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - {DEFAULT_SCENARIO}))
def test_drill_scenario_meets_every_target(
    name: str, tmp_path: Path, built_package: tuple[Path, Path]
) -> None:
    # Given a scenario on a fresh local stack
    scenario = get_scenario(name)
    parameters = dict(QUICK_RECOVERY)
    if scenario.flapping is not None:  # the re-fire needs 10 minutes of breach inside the verify window
        del parameters["VerifyWindowSeconds"]
    options = DrillOptions(
        scenario=scenario,
        speed=SPEED,
        parameters=parameters,
        template=built_package[0],
        lambda_python=built_package[1],
        report_dir=tmp_path,
        max_simulated_seconds=(100 if scenario.flapping else 60) * 60,
    )

    # When the drill runs end to end
    result = run_drill(options)

    # Then the scope is NORMAL again, every target was met, and the report has the whole timeline
    assert result.final_state == "NORMAL", result.scorecard.failures()
    assert result.scorecard.passed, result.scorecard.failures()
    assert_complete_report(result.report_paths["json"], scenario)
    assert "## Scorecard" in result.report_paths["md"].read_text()
    assert "<svg" in result.report_paths["html"].read_text()


def test_failsafe_drill_default_passes_and_writes_the_complete_report(
    tmp_path: Path, in_repo: Path, built_package: tuple[Path, Path]
) -> None:
    # Given the README's first command, with its defaults (latency scenario, production windows)
    runner = CliRunner()

    # When `failsafe drill` runs (its wall time is measured by benchmarks/bench_local_stack.py, not here)
    template, python = built_package
    result = runner.invoke(
        build_app(),
        [
            "drill",
            "--package",
            str(template.parent),
            "--lambda-python",
            str(python),
            "--report-dir",
            str(tmp_path),
            "--max-minutes",
            "60",
        ],
    )

    # Then it exits 0 (every target met) and wrote the complete incident report
    assert result.exit_code == 0, result.output
    assert "PASS: every target met" in result.output
    reports = list(tmp_path.glob("*/report.json"))
    assert len(reports) == 1
    assert_complete_report(reports[0], get_scenario(DEFAULT_SCENARIO))
