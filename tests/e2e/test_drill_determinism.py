"""The same drill gives the same scorecard at any clock speed: the drill clock is a discrete-event simulation.

Time stands still while anything computes and every actor (ticker, traffic, operator, Lambda invocations,
Step Functions threads) wakes at its exact instant, so the clock speed only changes how long the drill
takes. Nothing here is timed: two runs are compared measure by measure, in simulated seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from failsafe_tools.drill.runner import DrillOptions, DrillResult, run_drill
from failsafe_tools.drill.scenarios import get_scenario

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
QUICK = {
    "LogLevel": "WARNING",
    "VerifyWindowSeconds": "300",
    "RestoreDurationMinutes": "2",
    "RestoreBakeMinutes": "1",
}
TOLERANCE_S = 1.0


def _drill(speed: float, report_dir: Path) -> DrillResult:
    return run_drill(
        DrillOptions(
            scenario=get_scenario("latency"),
            speed=speed,
            parameters=dict(QUICK),
            template=REPO / "template.yaml",
            report_dir=report_dir,
            max_simulated_seconds=40 * 60,
        )
    )


def test_the_same_drill_gives_the_same_scorecard_at_two_clock_speeds(tmp_path: Path) -> None:
    # Given the latency drill (source tree, in-process handlers) at 120x and at 1000x
    slow = _drill(120.0, tmp_path / "slow")
    fast = _drill(1000.0, tmp_path / "fast")

    # When their scorecards are compared measure by measure
    measures = {m.name: m.seconds for m in slow.scorecard.measures}
    other = {m.name: m.seconds for m in fast.scorecard.measures}

    # Then both passed with the same stages, and every duration agrees within a simulated second
    assert slow.scorecard.passed, slow.scorecard.failures()
    assert fast.scorecard.passed, fast.scorecard.failures()
    assert (slow.scorecard.milestones.stage, slow.scorecard.milestones.final_stage) == (
        fast.scorecard.milestones.stage,
        fast.scorecard.milestones.final_stage,
    )
    assert measures.keys() == other.keys()
    for name, seconds in measures.items():
        assert seconds is not None, name
        assert other[name] is not None, name
        assert abs(seconds - other[name]) <= TOLERANCE_S, (name, seconds, other[name])
    assert abs(slow.requests - fast.requests) <= 2
