"""The drill scorecard: milestones picked from a merged timeline and scored against the seeds' targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from failsafe.domain.catalog import DEFAULT_CATALOG
from failsafe.reporting.timeline import Timeline, TimelineEvent
from failsafe_tools.drill.scorecard import (
    DrillTargets,
    in_force_target,
    milestones,
    requests_per_minute,
    score,
    trigger_target,
    volume_variation,
)

PREFIX = "failsafe-recommender-prod-"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def transition(seconds: float, before: str, after: str, stage: str | None = None) -> TimelineEvent:
    return TimelineEvent(
        at=at(seconds),
        source="audit",
        kind="lifecycle:transition",
        title=f"{before} -> {after}",
        data={"state": after, "previous": before, "stage": stage},
    )


def incident_timeline(
    *, alarm_at: float = 590, converge_at: float = 700, recovered_at: float = 900
) -> Timeline:
    return Timeline(
        events=[
            TimelineEvent(at=at(0), source="drill", kind="drill:fault", title="fault injected"),
            TimelineEvent(
                at=at(alarm_at),
                source="alarm",
                kind="alarm:ALARM",
                title="latency-p1 OK -> ALARM",
                data={"alarm": f"{PREFIX}latency-p1"},
            ),
            TimelineEvent(
                at=at(alarm_at + 20),
                source="execution",
                kind="execution:started",
                title="workflow started",
                data={"incident_id": "inc-1"},
            ),
            transition(alarm_at + 10, "NORMAL", "ROLLBACK_PENDING", "stage_2"),
            TimelineEvent(
                at=at(alarm_at + 40),
                source="appconfig",
                kind="deployment:complete",
                title="deployment #2",
                why="failsafe inc-1: recommender/prod -> stage_2",
                data={"config_version": 3, "document_version": 2},
            ),
            transition(alarm_at + 45, "ROLLBACK_PENDING", "ROLLED_BACK", "stage_2"),
            TimelineEvent(
                at=at(converge_at),
                source="client",
                kind="client:version",
                title="v2",
                data={"version": 2},
            ),
            transition(recovered_at, "ROLLED_BACK", "RECOVERY_VERIFY", "stage_2"),
            TimelineEvent(
                at=at(recovered_at + 900),
                source="appconfig",
                kind="deployment:started",
                title="restore",
                why="failsafe inc-1: restore recommender/prod",
                data={"config_version": 3},
            ),
            transition(recovered_at + 1800, "RECOVERY_VERIFY", "NORMAL"),
        ]
    )


def test_milestones_are_the_first_matching_events_of_the_timeline() -> None:
    # Given a timeline of a latency incident
    timeline = incident_timeline()

    # When the milestones are picked
    m = milestones(timeline, PREFIX)

    # Then each one is the instant its source recorded
    assert (m.fault, m.alarm, m.incident) == (at(0), at(590), at(610))
    assert (m.deployed, m.converged, m.recovered, m.normal) == (at(630), at(700), at(900), at(2700))
    assert m.stage == "stage_2"
    assert m.deployed_version == 3
    assert m.deployed_document_version == 2
    assert m.alarm_name == f"{PREFIX}latency-p1"
    assert m.restores == 1
    assert m.refires == 0


def test_mitigation_is_scored_on_the_last_stage_before_the_restore() -> None:
    # Given a P2's stage 1 at 630 s, then a P1's stage 2 deployed at 660 s and reached by clients at 720 s
    timeline = incident_timeline()
    timeline.add(
        TimelineEvent(
            at=at(660),
            source="appconfig",
            kind="deployment:complete",
            title="deployment #3",
            why="failsafe inc-1: recommender/prod -> stage_2",
            data={"config_version": 4, "document_version": 3},
        )
    )
    timeline.add(
        TimelineEvent(at=at(720), source="client", kind="client:version", title="v3", data={"version": 3})
    )

    # When milestones are picked
    m = milestones(timeline, PREFIX)

    # Then "converged" is still the first rollback's (the timing target), while the mitigation the fill
    # rate is measured over runs from the clients reaching the last stage until the restore started
    assert (m.converged, m.mitigated, m.restore_started) == (at(700), at(720), at(1800))


def test_a_client_older_than_the_deployed_version_is_not_converged() -> None:
    # Given the only client observation is of the old version
    timeline = incident_timeline()
    timeline.events = [e for e in timeline.events if e.kind != "client:version"]
    timeline.add(
        TimelineEvent(at=at(650), source="client", kind="client:version", title="v1", data={"version": 1})
    )

    # When milestones are picked
    m = milestones(timeline, PREFIX)

    # Then convergence never happened: in force, mitigation and recovery fail their targets (the 590 s
    # trigger also misses latency-p1's 240 s)
    assert m.converged is None
    card = score(
        m,
        alarm_prefix=PREFIX,
        fill_rate_after_mitigation=100.0,
        fill_rate_during_incident=99.0,
        requests_per_minute=[120, 120, 121],
    )
    failed = {x.name for x in card.measures if x.met is False}
    assert failed == {"trigger", "fault to in force", "mitigation (stage_2)", "recovery"}
    assert not card.passed


def test_an_incident_within_every_target_passes() -> None:
    # Given a timeline where every milestone meets its target (latency-p1 alarms 3 min after the fault,
    # clients serve the rollback 290 s after it: within P1's 5 minutes)
    m = milestones(incident_timeline(alarm_at=180, converge_at=290), PREFIX)

    # When it is scored
    card = score(
        m,
        alarm_prefix=PREFIX,
        fill_rate_after_mitigation=100.0,
        fill_rate_during_incident=97.5,
        requests_per_minute=[120, 119, 121, 120],
    )

    # Then it passes, and the level target is the plan's stage_2 target (5 minutes)
    assert card.passed, card.failures()
    mitigation = next(x for x in card.measures if x.name.startswith("mitigation"))
    assert mitigation.target_seconds == 300
    assert mitigation.seconds == 90


def test_a_slow_trigger_fails_and_says_by_how_much() -> None:
    # Given the alarm fired 13 minutes after the fault (latency-p1, 2 of 3 minutes, fires within 4 minutes)
    m = milestones(incident_timeline(alarm_at=780, converge_at=900, recovered_at=1000), PREFIX)

    # When it is scored
    card = score(
        m,
        alarm_prefix=PREFIX,
        fill_rate_after_mitigation=100.0,
        fill_rate_during_incident=100.0,
        requests_per_minute=[60, 60, 60],
    )

    # Then the trigger misses its 240 s target, and the toggles were not in force within P1's 5 minutes
    trigger = card.measures[0]
    assert trigger.met is False
    assert trigger.note == "780 s > 240 s"
    in_force = next(x for x in card.measures if x.name == "fault to in force")
    assert (in_force.seconds, in_force.target_seconds, in_force.met) == (900, 300, False)


def test_fill_rate_below_100_after_mitigation_fails() -> None:
    # Given a mitigated incident whose clients did not all fill K
    m = milestones(incident_timeline(), PREFIX)

    # When it is scored with 99.5 % fill after mitigation
    card = score(
        m,
        alarm_prefix=PREFIX,
        fill_rate_after_mitigation=99.5,
        fill_rate_during_incident=90.0,
        requests_per_minute=[60, 60, 60],
    )

    # Then the fill-rate target fails
    assert "fill rate after mitigation: below target" in card.failures()


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([100, 100, 100], 0.0),
        ([100, 80, 100], 0.2),
        ([100, 130, 100, 100], 0.3),
        ([100], None),
        ([0, 0], None),
    ],
)
def test_volume_variation_is_the_largest_deviation_from_the_median_minute(
    counts: list[int], expected: float | None
) -> None:
    # Given per-minute request counts / When the variation is computed / Then it is relative to the median
    assert volume_variation(counts) == expected


def test_request_volume_over_20_percent_fails_continuity() -> None:
    # Given a minute that lost a quarter of the traffic
    m = milestones(incident_timeline(), PREFIX)

    # When it is scored
    card = score(
        m,
        alarm_prefix=PREFIX,
        fill_rate_after_mitigation=100.0,
        fill_rate_during_incident=100.0,
        requests_per_minute=[120, 90, 120, 120],
    )

    # Then continuity fails at 25 %
    ratio = next(r for r in card.ratios if r.name == "request-volume variation")
    assert (ratio.value, ratio.met) == (25.0, False)


def test_partial_first_and_last_minutes_are_left_out() -> None:
    # Given counts per minute including the partial edges / When trimmed / Then only complete minutes remain
    assert requests_per_minute({10: 5, 11: 120, 12: 118, 13: 30}, 10, 13) == [120, 118]


def test_trigger_target_comes_from_the_catalogs_m_of_n() -> None:
    # Given the catalog's cost-spike rule (15 of 15 minutes), latency-p1 (2 of 3) and gdpr (1 of 1)
    targets = DrillTargets()

    # When the trigger targets are derived / Then each is (M + 2) periods: partial, M breaching, evaluation
    assert trigger_target(targets, DEFAULT_CATALOG, f"{PREFIX}cost-spike", PREFIX) == 1020
    assert trigger_target(targets, DEFAULT_CATALOG, f"{PREFIX}latency-p1", PREFIX) == 240
    assert trigger_target(targets, DEFAULT_CATALOG, f"{PREFIX}coverage-p2", PREFIX) == 360
    assert trigger_target(targets, DEFAULT_CATALOG, f"{PREFIX}gdpr-compliance", PREFIX) == 180
    assert trigger_target(targets, DEFAULT_CATALOG, None, PREFIX) == 600


def test_in_force_target_is_the_severity_budget_and_own_durations_for_security_and_cost() -> None:
    # Given the default catalog / When the fault -> in force targets are derived
    targets = DrillTargets()

    # Then P1 5 min and P2 10 min (seed 000); cost and security keep their own durations (+ allowance)
    assert in_force_target(targets, DEFAULT_CATALOG, f"{PREFIX}coverage-p1", PREFIX) == 300
    assert in_force_target(targets, DEFAULT_CATALOG, f"{PREFIX}coverage-p2", PREFIX) == 600
    assert in_force_target(targets, DEFAULT_CATALOG, f"{PREFIX}cost-spike", PREFIX) == 1080
    assert in_force_target(targets, DEFAULT_CATALOG, f"{PREFIX}gdpr-compliance", PREFIX) == 600
    assert in_force_target(targets, DEFAULT_CATALOG, None, PREFIX) == 600


def test_a_manual_incident_is_scored_from_the_operator_action() -> None:
    # Given an operator ran level 3 (no alarm, no fault)
    timeline = incident_timeline()
    timeline.events = [e for e in timeline.events if e.source not in ("drill", "alarm")]
    timeline.add(TimelineEvent(at=at(580), source="drill", kind="drill:manual", title="level 3"))

    # When scored without expecting an alarm
    m = milestones(timeline, PREFIX)
    card = score(
        m,
        alarm_prefix=PREFIX,
        fill_rate_after_mitigation=100.0,
        fill_rate_during_incident=100.0,
        requests_per_minute=[60, 60, 60],
        expect_alarm=False,
    )

    # Then the first measure is operator action -> incident and there is no trigger measure
    assert card.measures[0].name == "incident opened"
    assert card.measures[0].seconds == 30
    assert all(x.name != "trigger" for x in card.measures)


def test_an_operator_level_is_found_at_millisecond_precision_with_its_deployment_first() -> None:
    # Given an operator's action at 12:00:00.000866, whose invocation deployed the level (mitigation first)
    # and started the execution in the same instant, recorded by Step Functions in milliseconds
    operator = at(0) + timedelta(microseconds=866)
    timeline = Timeline(
        events=[
            TimelineEvent(at=operator, source="drill", kind="drill:manual", title="level 3"),
            TimelineEvent(
                at=at(0),
                source="execution",
                kind="execution:started",
                title="workflow started",
                data={"incident_id": "man-1"},
            ),
            TimelineEvent(
                at=operator,
                source="appconfig",
                kind="deployment:complete",
                title="deployment #2",
                why="failsafe man-1: recommender/prod -> stage_3",
                data={"config_version": 2, "document_version": 2},
            ),
            TimelineEvent(at=at(15), source="client", kind="client:version", title="v2", data={"version": 2}),
        ]
    )

    # When the milestones are picked
    m = milestones(timeline, PREFIX)

    # Then the execution is the incident and its deployment the rollback the clients converged on
    assert (m.incident, m.deployed, m.converged) == (at(0), operator, at(15))
