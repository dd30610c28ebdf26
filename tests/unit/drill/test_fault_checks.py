"""A fault drill's guarantees, judged on recorded facts: in force within the stage's target from the trigger,
someone paged (PagerDuty or the second channel), the fault exercised, nothing stuck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from failsafe.domain.audit import AuditEntry
from failsafe.reporting.timeline import Timeline, TimelineEvent
from failsafe_tools.drill.measurement import FaultFacts, Mitigation, fault_checks, mitigations
from failsafe_tools.drill.scenarios import get_scenario
from failsafe_tools.drill.scorecard import Ratio

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PREFIX = "failsafe-recommender-prod-"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entry(seq: int, seconds: float, incident: str, after: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        action="transition",
        actor="failsafe",
        scope_key="recommender/prod",
        incident_id=incident,
        after=after,
        chain="c",
        seq=seq,
        at=at(seconds),
        prev_hash="0",
        hash=str(seq),
    )


def deployment(seconds: float, incident: str, why: str = "rollback") -> TimelineEvent:
    return TimelineEvent(
        at=at(seconds),
        source="appconfig",
        kind="deployment:complete",
        title="complete",
        why=f"{why} for {incident}",
        data={"description": f"{why} for {incident}"},
    )


def alarm(seconds: float, name: str) -> TimelineEvent:
    return TimelineEvent(
        at=at(seconds), source="alarm", kind="alarm:ALARM", title=name, data={"alarm": PREFIX + name}
    )


def by_name(checks: list[Ratio]) -> dict[str, Ratio]:
    return {c.name: c for c in checks}


def test_an_alarm_incident_is_measured_from_its_alarm_not_from_its_delayed_execution() -> None:
    # Given latency-p1 at t=0, the incident claimed at t=1 (its execution started late, StartExecution was
    # throttled), stage_2 rolled back at t=200 and its deployment complete at t=200
    timeline = Timeline(events=[alarm(0, "latency-p1"), deployment(200, "inc-a")])
    audit = [
        entry(1, 1, "inc-a", {"state": "ROLLBACK_PENDING", "stage": "stage_2"}),
        entry(2, 200, "inc-a", {"state": "ROLLED_BACK", "stage": "stage_2"}),
    ]

    # When the mitigations are read
    (found,) = mitigations(timeline, audit, PREFIX)

    # Then stage_2 was in force 200 s after the alarm, against its 300 s target
    assert found.trigger == at(0)
    assert found.in_force == at(200)
    assert found.stage == "stage_2"
    assert found.target_seconds == 300


def test_a_stage_escalated_by_a_later_alarm_is_measured_from_that_alarm() -> None:
    # Given latency-p2 at t=0 asking for stage_1, latency-p1 at t=180 escalating to stage_2, which was
    # rolled back with its deployment complete at t=300
    timeline = Timeline(events=[alarm(0, "latency-p2"), alarm(180, "latency-p1"), deployment(300, "inc-a")])
    audit = [
        entry(1, 1, "inc-a", {"state": "ROLLBACK_PENDING", "stage": "stage_1"}),
        entry(2, 181, "inc-a", {"state": "ROLLBACK_PENDING", "stage": "stage_2"}),
        entry(3, 300, "inc-a", {"state": "ROLLED_BACK", "stage": "stage_2"}),
    ]

    # When measured
    (found,) = mitigations(timeline, audit, PREFIX)

    # Then stage_2 counts from latency-p1, which asked for it: 120 s, not 300 s
    assert found.label == "alarm latency-p1"
    assert (found.in_force - found.trigger).total_seconds() == 120


def test_an_operator_kill_switch_that_joined_a_restoring_incident_is_measured_from_the_request() -> None:
    # Given an alarm incident restoring (its restore deployment at t=900) and the kill switch asked at
    # t=1000 that joined it; the emergency deployment completed at t=1180
    timeline = Timeline(
        events=[
            alarm(0, "latency-p1"),
            deployment(100, "inc-a"),
            deployment(900, "inc-a", why="restore"),
            TimelineEvent(
                at=at(1000),
                source="drill",
                kind="drill:second-request",
                title="kill switch",
                data={"incident_id": "inc-a", "level": "emergency", "scope": "recommender/prod"},
            ),
            deployment(1180, "inc-a"),
        ]
    )
    audit = [
        entry(1, 1, "inc-a", {"state": "ROLLBACK_PENDING", "stage": "stage_2"}),
        entry(2, 100, "inc-a", {"state": "ROLLED_BACK", "stage": "stage_2"}),
    ]

    # When measured
    by_label = {m.label.split(" ")[0]: m for m in mitigations(timeline, audit, PREFIX)}

    # Then the alarm's stage_2 counts from the alarm, the kill switch from its request (the restore is not
    # a mitigation): 180 s against the emergency's 120 s, a miss
    assert by_label["alarm"].in_force == at(100)
    assert by_label["operator"].stage == "emergency"
    checks = by_name(
        fault_checks(
            get_scenario("kill-switch-during-restore"),
            FaultFacts(mitigations=tuple(by_label.values()), paged=("inc-a",), second_request_sent=True),
        )
    )
    kill = checks["emergency in force (operator level emergency on recommender/prod, inc-a)"]
    assert not kill.met
    assert kill.value == 180


def mitigation(incident: str = "inc-a", in_force: float | None = 90) -> Mitigation:
    return Mitigation(
        label="alarm latency-p1",
        incident_id=incident,
        scope="recommender/prod",
        trigger=at(0),
        stage="stage_2",
        in_force=None if in_force is None else at(in_force),
        target_seconds=300,
    )


def test_pagerduty_down_passes_only_through_the_second_channel() -> None:
    # Given PagerDuty answering 503: no page accepted, 4 failed
    scenario = get_scenario("pagerduty-5xx")
    down = FaultFacts(mitigations=(mitigation(),), pagerduty_failed=4)

    # When nobody else was paged / Then "someone paged" fails; with an escalation page it passes
    assert not by_name(fault_checks(scenario, down))["someone paged"].met
    escalated = by_name(fault_checks(scenario, down.model_copy(update={"escalations": 1})))
    assert escalated["someone paged"].met
    assert "second channel" in escalated["someone paged"].note
    assert escalated["PagerDuty down (5xx)"].met


def test_a_fault_that_never_hit_and_a_running_execution_fail_the_drill() -> None:
    # Given a StartExecution fault no call hit, and an execution still RUNNING at the end
    facts = FaultFacts(
        mitigations=(mitigation(),),
        paged=("inc-a",),
        fault_hits={"stepfunctions StartExecution ThrottlingException": 0},
        running_executions=("inc-a",),
        stuck_scopes=("recommender/prod: ROLLBACK_PENDING",),
    )

    # When checked
    checks = by_name(fault_checks(get_scenario("throttle-start-execution"), facts))

    # Then the drill proved nothing about the fault, and something is stuck
    assert not checks["AWS fault exercised (stepfunctions StartExecution ThrottlingException)"].met
    assert not checks["nothing stuck"].met
    assert "execution inc-a RUNNING" in checks["nothing stuck"].note
    assert checks["stage_2 in force (alarm latency-p1, inc-a)"].met


def test_a_scope_held_on_purpose_is_not_stuck_and_a_mitigation_never_in_force_fails() -> None:
    # Given a held scope (a manual level without auto_restore) and a mitigation that never deployed
    facts = FaultFacts(
        mitigations=(mitigation(in_force=None),), paged=("inc-a",), held_scopes=("recommender/prod",)
    )

    # When checked
    checks = by_name(fault_checks(get_scenario("sns-failing"), facts))

    # Then nothing is stuck, but the mitigation fails as never in force
    assert checks["nothing stuck"].met
    assert checks["stage_2 in force (alarm latency-p1, inc-a)"].note == "never in force"
