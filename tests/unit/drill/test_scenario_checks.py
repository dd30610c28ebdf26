"""The scenario-specific checks a drill adds to its scorecard (level reached, alarm, no ping-pong)."""

from __future__ import annotations

from datetime import UTC, datetime

from failsafe.reporting.timeline import Timeline, TimelineEvent
from failsafe_tools.drill.measurement import scenario_checks as _scenario_checks
from failsafe_tools.drill.scenarios import get_scenario
from failsafe_tools.drill.scorecard import Milestones, Ratio

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PREFIX = "failsafe-recommender-prod-"


def alarm(name: str) -> Timeline:
    return Timeline(
        events=[
            TimelineEvent(
                at=T0, source="alarm", kind="alarm:ALARM", title=name, data={"alarm": PREFIX + name}
            )
        ]
    )


def by_name(checks: list[Ratio]) -> dict[str, Ratio]:
    return {c.name: c for c in checks}


def test_latency_drill_that_ended_at_stage_2_with_its_alarm_passes() -> None:
    # Given a latency drill that ended at stage_2 after latency-p1 fired
    m = Milestones(stage="stage_2", final_stage="stage_2", alarm_name=PREFIX + "latency-p1")

    # When its checks are computed
    checks = by_name(_scenario_checks(get_scenario("latency"), m, True, alarm("latency-p1")))

    # Then all pass
    assert all(c.met for c in checks.values())


def test_an_escalation_beyond_the_expected_level_fails_and_says_where_it_ended() -> None:
    # Given a latency drill that escalated to stage_3 and never returned
    m = Milestones(stage="stage_2", final_stage="stage_3", alarm_name=PREFIX + "latency-p1")

    # When its checks are computed
    checks = by_name(_scenario_checks(get_scenario("latency"), m, False, alarm("latency-p1")))

    # Then the level and NORMAL checks fail with the reason
    assert not checks["level applied"].met
    assert checks["level applied"].note == "ended at stage_3"
    assert not checks["back to NORMAL"].met


def test_the_wrong_alarm_fails_the_expected_alarm_check() -> None:
    # Given a latency drill where only the cache alarm fired
    m = Milestones(stage="stage_2", final_stage="stage_2", alarm_name=PREFIX + "cache-hit-rate-p2")

    # When checked / Then the alarm check fails
    checks = by_name(_scenario_checks(get_scenario("latency"), m, True, alarm("cache-hit-rate-p2")))
    assert not checks["expected alarm fired"].met


def test_flapping_needs_a_refire_and_at_most_one_restore() -> None:
    # Given a flapping drill with one re-fire and two restores (ping-pong)
    m = Milestones(stage="stage_2", final_stage="stage_2", refires=1, restores=2)

    # When checked
    checks = by_name(_scenario_checks(get_scenario("flapping"), m, True, alarm("latency-p1")))

    # Then the re-fire is there but the ping-pong fails
    assert checks["re-fire during verification"].met
    assert not checks["no ping-pong (restores)"].met
