from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from failsafe.domain.catalog import Severity
from failsafe.domain.lifecycle import (
    AUTOMATIC_EVENTS,
    TRANSITIONS,
    Event,
    EventKind,
    IllegalTransitionError,
    LifecycleRecord,
    LifecycleState,
    fired_event_kind,
    transition,
)
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plans import VerifyPolicy
from failsafe.domain.scope import Scope

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCOPE = Scope.parse("recommender/prod/region=eu-west-1")
K = EventKind
St = LifecycleState


def _event(kind: EventKind, seconds: float = 0, **fields: object) -> Event:
    actor = "alice" if kind.is_manual else "controller"
    reason = "operator judgement" if kind.is_manual else ""
    data: dict[str, object] = {
        "kind": kind,
        "at": T0 + timedelta(seconds=seconds),
        "actor": actor,
        "reason": reason,
    }
    return Event.model_validate(data | fields)


def _run(*events: Event, record: LifecycleRecord | None = None) -> LifecycleRecord:
    current = record or LifecycleRecord.new(SCOPE, DEFAULT_PLAN)
    for event in events:
        current = transition(current, event, DEFAULT_PLAN).record
    return current


def _rolled_back_at_stage_2() -> LifecycleRecord:
    return _run(
        _event(K.P1_FIRED, incident_id="inc-1"),
        _event(K.STAGE_APPLIED, 60, stage="stage_1"),
        _event(K.STAGE_APPLIED, 120, stage="stage_2"),
    )


def _verifying() -> LifecycleRecord:
    return _run(_event(K.ALL_GREEN, 200), record=_rolled_back_at_stage_2())


def test_a_p2_opens_an_incident_at_stage_1_in_degraded() -> None:
    # Given
    record = LifecycleRecord.new(SCOPE, DEFAULT_PLAN)

    # When
    result = transition(
        record, _event(K.P2_FIRED, incident_id="inc-1", actor="alarm:coverage-p2"), DEFAULT_PLAN
    )

    # Then
    assert result.record.state is St.DEGRADED
    assert result.record.stage == "stage_1"
    assert result.record.incident_id == "inc-1"
    assert result.record.version == 1
    assert result.record.deadline_at == T0 + timedelta(seconds=120)
    assert result.audit.before_state is St.NORMAL
    assert result.audit.after_state is St.DEGRADED
    assert result.audit.actor == "alarm:coverage-p2"
    assert result.audit.manual is False
    assert result.audit.version == 1


@pytest.mark.parametrize(
    ("kind", "state", "stage"),
    [
        (K.P1_FIRED, St.ROLLBACK_PENDING, "stage_2"),
        (K.CRITICAL_FIRED, St.ROLLBACK_PENDING, "emergency"),
    ],
)
def test_severity_decides_the_opening_state_and_stage(
    kind: EventKind, state: LifecycleState, stage: str
) -> None:
    # Given / When
    record = _run(_event(kind, incident_id="inc-1"))

    # Then
    assert (record.state, record.stage) == (state, stage)


def test_the_entry_stage_carried_by_the_event_wins_over_severity() -> None:
    # Given: a security trigger is P-anything but enters at emergency
    event = _event(K.P2_FIRED, incident_id="inc-1", stage="emergency")

    # When
    record = _run(event)

    # Then
    assert (record.state, record.stage) == (St.ROLLBACK_PENDING, "emergency")


def test_full_cycle_returns_to_normal_only_after_verify_and_restore() -> None:
    # Given
    record = _verifying()

    # When
    passed = _run(_event(K.VERIFY_WINDOW_PASSED, 200 + 900), record=record)
    normal = _run(_event(K.RESTORED, 1200), record=passed)

    # Then
    assert record.state is St.RECOVERY_VERIFY
    assert record.verify_until == T0 + timedelta(seconds=1100)
    assert passed.restoring is True
    assert normal.state is St.NORMAL
    assert normal.stage is None
    assert normal.incident_id is None
    assert normal.version == record.version + 2


def test_stage_in_force_on_the_way_keeps_the_scope_pending() -> None:
    # Given
    pending = _run(_event(K.P1_FIRED, incident_id="inc-1"))

    # When
    partial = _run(_event(K.STAGE_APPLIED, 30, stage="stage_1"), record=pending)

    # Then
    assert partial.state is St.ROLLBACK_PENDING
    assert partial.applied_stage == "stage_1"


def test_illegal_transition_names_the_state_and_the_event() -> None:
    # Given
    record = LifecycleRecord.new(SCOPE, DEFAULT_PLAN)

    # When / Then
    with pytest.raises(IllegalTransitionError) as error:
        transition(record, _event(K.RESTORED), DEFAULT_PLAN)
    assert str(error.value) == (
        "event RESTORED is not allowed in state NORMAL: the transition table has no such transition"
    )
    assert error.value.state is St.NORMAL
    assert error.value.event is K.RESTORED


@pytest.mark.parametrize(
    ("record_of", "event", "message"),
    [
        (
            _rolled_back_at_stage_2,
            _event(K.DEADLINE_PASSED, 130),
            "event DEADLINE_PASSED is not allowed in state ROLLED_BACK: "
            "the deadline is 2026-01-01T00:07:00+00:00",
        ),
        (
            lambda: _run(_event(K.P1_FIRED, incident_id="inc-1")),
            _event(K.ALL_GREEN, 10),
            "event ALL_GREEN is not allowed in state ROLLBACK_PENDING: "
            "the transition table has no such transition",
        ),
        (
            lambda: _run(_event(K.P2_FIRED, incident_id="inc-1")),
            _event(K.ALL_GREEN, 10),
            "event ALL_GREEN is not allowed in state DEGRADED: stage stage_1 is not in force yet",
        ),
        (
            _verifying,
            _event(K.VERIFY_WINDOW_PASSED, 300),
            "event VERIFY_WINDOW_PASSED is not allowed in state RECOVERY_VERIFY: "
            "the verify window runs until 2026-01-01T00:18:20+00:00",
        ),
        (
            _verifying,
            _event(K.RESTORED, 300),
            "event RESTORED is not allowed in state RECOVERY_VERIFY: the verify window has not passed",
        ),
        (
            lambda: _run(_event(K.P1_FIRED, incident_id="inc-1")),
            _event(K.STAGE_APPLIED, 10, stage="stage_3"),
            "event STAGE_APPLIED is not allowed in state ROLLBACK_PENDING: "
            "stage 'stage_3' is not on the way to stage_2",
        ),
        (
            lambda: LifecycleRecord.new(SCOPE, DEFAULT_PLAN),
            _event(K.P1_FIRED),
            "event P1_FIRED is not allowed in state NORMAL: "
            "a trigger that opens an incident needs an incident_id",
        ),
    ],
)
def test_guards_refuse_with_the_reason(record_of: object, event: Event, message: str) -> None:
    # Given
    record = record_of()  # type: ignore[operator]

    # When / Then
    with pytest.raises(IllegalTransitionError) as error:
        transition(record, event, DEFAULT_PLAN)
    assert str(error.value) == message


def test_deadline_passed_escalates_to_the_next_stage() -> None:
    # Given
    record = _rolled_back_at_stage_2()

    # When
    escalated = _run(_event(K.DEADLINE_PASSED, 420), record=record)

    # Then
    assert (escalated.state, escalated.stage) == (St.ROLLBACK_PENDING, "stage_3")
    assert escalated.deadline_at == T0 + timedelta(seconds=420 + 600)


def test_deployment_failure_escalates() -> None:
    # Given
    pending = _run(_event(K.P2_FIRED, incident_id="inc-1"))

    # When
    result = transition(pending, _event(K.DEPLOYMENT_FAILED, 30), DEFAULT_PLAN)

    # Then
    assert (result.record.state, result.record.stage) == (St.ROLLBACK_PENDING, "stage_2")
    assert result.audit.note == "deployment failed; escalated stage_1 -> stage_2"


def test_a_milder_trigger_joins_and_a_more_severe_one_escalates() -> None:
    # Given
    record = _rolled_back_at_stage_2()

    # When
    joined = transition(record, _event(K.P2_FIRED, 150), DEFAULT_PLAN)
    escalated = transition(record, _event(K.CRITICAL_FIRED, 150), DEFAULT_PLAN)

    # Then
    assert joined.record.state is St.ROLLED_BACK
    assert joined.record.stage == "stage_2"
    assert joined.audit.note == "joined: stage_1 is not above stage_2"
    assert (escalated.record.state, escalated.record.stage) == (St.ROLLBACK_PENDING, "emergency")


def test_refire_during_verification_returns_to_rolled_back_and_doubles_the_window() -> None:
    # Given
    record = _verifying()

    # When
    result = transition(record, _event(K.P1_FIRED, 300), DEFAULT_PLAN)

    # Then
    assert result.record.state is St.ROLLED_BACK
    assert result.record.stage == "stage_2"
    assert result.record.verify_window_seconds == 1800
    assert result.record.refires == 1
    assert result.audit.note == "re-fired during verification; verify window 900s -> 1800s"


def test_refire_of_a_more_severe_trigger_during_verification_moves_to_a_later_stage() -> None:
    # Given
    record = _verifying()

    # When
    result = _run(_event(K.CRITICAL_FIRED, 300), record=record)

    # Then
    assert (result.state, result.stage) == (St.ROLLBACK_PENDING, "emergency")
    assert result.verify_window_seconds == 1800


def test_refire_while_restoring_redeploys_the_stage() -> None:
    # Given
    restoring = _run(_event(K.VERIFY_WINDOW_PASSED, 1100), record=_verifying())

    # When
    result = _run(_event(K.P2_FIRED, 1150), record=restoring)

    # Then
    assert (result.state, result.stage, result.applied_stage) == (St.ROLLBACK_PENDING, "stage_2", None)
    assert result.restoring is False


def test_verify_window_growth_is_capped() -> None:
    # Given
    policy = VerifyPolicy(window_seconds=900, refire_factor=2.0, max_window_seconds=3600)

    # When
    windows = [900]
    for _ in range(4):
        windows.append(policy.widened(windows[-1]))

    # Then
    assert windows == [900, 1800, 3600, 3600, 3600]


def test_restore_failure_keeps_the_stage_in_force() -> None:
    # Given
    restoring = _run(_event(K.VERIFY_WINDOW_PASSED, 1100), record=_verifying())

    # When
    result = _run(_event(K.DEPLOYMENT_FAILED, 1150), record=restoring)

    # Then
    assert (result.state, result.stage, result.restoring) == (St.ROLLED_BACK, "stage_2", False)


def test_manual_override_forces_normal_with_an_audited_reason() -> None:
    # Given
    record = _rolled_back_at_stage_2()

    # When
    result = transition(record, _event(K.MANUAL_OVERRIDE, 200, reason="false alarm: load test"), DEFAULT_PLAN)

    # Then
    assert result.record.state is St.NORMAL
    assert result.audit.manual is True
    assert result.audit.actor == "alice"
    assert result.audit.reason == "false alarm: load test"
    assert result.audit.incident_id == "inc-1"
    assert result.audit.note == "alice forced NORMAL"


def test_manual_events_need_a_reason() -> None:
    # Given
    record = _rolled_back_at_stage_2()

    # When / Then
    with pytest.raises(IllegalTransitionError) as error:
        transition(record, _event(K.MANUAL_OVERRIDE, 200, reason=" "), DEFAULT_PLAN)
    assert str(error.value) == (
        "event MANUAL_OVERRIDE is not allowed in state ROLLED_BACK: a manual action needs a recorded reason"
    )


def test_manual_override_from_normal_is_illegal() -> None:
    # Given
    record = LifecycleRecord.new(SCOPE, DEFAULT_PLAN)

    # When / Then
    with pytest.raises(IllegalTransitionError, match="MANUAL_OVERRIDE is not allowed in state NORMAL"):
        transition(record, _event(K.MANUAL_OVERRIDE), DEFAULT_PLAN)


def test_manual_level_opens_an_incident_at_the_chosen_stage() -> None:
    # Given
    record = LifecycleRecord.new(SCOPE, DEFAULT_PLAN)

    # When
    result = _run(_event(K.MANUAL_LEVEL, stage="stage_1", incident_id="inc-op"), record=record)

    # Then
    assert (result.state, result.stage, result.incident_id) == (St.DEGRADED, "stage_1", "inc-op")


def test_revert_needs_approval_before_it_is_applied() -> None:
    # Given
    pending = _run(
        _event(K.MANUAL_LEVEL, stage="revert", incident_id="inc-op"),
        _event(K.STAGE_APPLIED, 60, stage="stage_3"),
    )

    # When
    with pytest.raises(IllegalTransitionError) as refused:
        transition(pending, _event(K.STAGE_APPLIED, 90, stage="revert"), DEFAULT_PLAN)
    approved = _run(_event(K.APPROVAL_GRANTED, 100, actor="cto-carol"), record=pending)
    applied = _run(_event(K.STAGE_APPLIED, 300, stage="revert"), record=approved)

    # Then
    assert str(refused.value).endswith("stage revert needs approval before it is applied")
    assert approved.approved_by == "cto-carol"
    assert (applied.state, applied.stage) == (St.ROLLED_BACK, "revert")


def test_denied_approval_holds_the_last_stage_in_force() -> None:
    # Given
    pending = _run(
        _event(K.MANUAL_LEVEL, stage="revert", incident_id="inc-op"),
        _event(K.STAGE_APPLIED, 60, stage="stage_3"),
    )

    # When
    result = _run(_event(K.APPROVAL_DENIED, 100, actor="cto-carol"), record=pending)

    # Then
    assert (result.state, result.stage) == (St.ROLLED_BACK, "stage_3")


def test_deadline_while_awaiting_approval_escalates_to_the_kill_switch() -> None:
    # Given
    pending = _run(_event(K.MANUAL_LEVEL, stage="revert", incident_id="inc-op"))

    # When
    result = _run(_event(K.DEADLINE_PASSED, 600), record=pending)

    # Then
    assert (result.state, result.stage) == (St.ROLLBACK_PENDING, "emergency")


def test_exhausted_plan_holds_emergency_and_renews_the_deadline() -> None:
    # Given
    held = _run(
        _event(K.CRITICAL_FIRED, incident_id="inc-1"),
        _event(K.STAGE_APPLIED, 60, stage="stage_1"),
        _event(K.STAGE_APPLIED, 60, stage="stage_2"),
        _event(K.STAGE_APPLIED, 60, stage="stage_3"),
        _event(K.STAGE_APPLIED, 60, stage="emergency"),
    )

    # When
    result = transition(held, _event(K.DEADLINE_PASSED, 360), DEFAULT_PLAN)

    # Then
    assert (result.record.state, result.record.stage) == (St.ROLLED_BACK, "emergency")
    assert result.record.deadline_at == T0 + timedelta(seconds=660)
    assert result.audit.note == "deadline passed; the plan is exhausted at emergency: humans are paged"


def test_fired_event_kind_maps_each_severity() -> None:
    # Given / When / Then
    assert [fired_event_kind(s) for s in Severity] == [K.P2_FIRED, K.P1_FIRED, K.CRITICAL_FIRED]


# --- property: automatic events never leave the table ---------------------------------------------------

_STAGES = list(DEFAULT_PLAN.stage_names)


@st.composite
def _automatic_events(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(1, 30))
    events = []
    seconds = 0
    for _ in range(count):
        seconds += draw(st.sampled_from([0, 30, 300, 700, 2000, 4000]))
        kind = draw(st.sampled_from(sorted(AUTOMATIC_EVENTS)))
        stage = draw(st.sampled_from([None, *_STAGES]))
        events.append(
            Event(
                kind=kind,
                at=T0 + timedelta(seconds=seconds),
                actor="controller",
                incident_id="inc-1",
                stage=stage,
            )
        )
    return events


@settings(max_examples=200, deadline=None)
@given(events=_automatic_events())
def test_no_sequence_of_automatic_events_leaves_the_table_or_skips_verification(events: list[Event]) -> None:
    # Given
    record = LifecycleRecord.new(SCOPE, DEFAULT_PLAN)

    # When: every event is either a listed transition or refused
    for event in events:
        before = record
        try:
            record, audit = transition(record, event, DEFAULT_PLAN)
        except IllegalTransitionError:
            continue

        # Then
        assert record.state in TRANSITIONS[(before.state, event.kind)]
        assert record.version == before.version + 1
        assert audit.version == record.version
        if record.state is St.NORMAL:
            assert before.state is St.RECOVERY_VERIFY
            assert before.restoring
            assert event.kind is K.RESTORED
        if before.state is St.RECOVERY_VERIFY and record.state is not St.RECOVERY_VERIFY:
            assert record.state is St.NORMAL or record.verify_window_seconds >= before.verify_window_seconds
        if record.state is not St.NORMAL:
            assert record.stage is not None
            assert record.verify_window_seconds <= DEFAULT_PLAN.verify.max_window_seconds


def test_every_state_has_a_way_out_and_normal_is_reached_only_by_restore_or_manual_events() -> None:
    # Given / When
    into_normal = {event for (state, event), targets in TRANSITIONS.items() if St.NORMAL in targets}
    sources = {state for state, _ in TRANSITIONS}

    # Then
    assert into_normal == {K.RESTORED, K.MANUAL_OVERRIDE, K.APPROVAL_DENIED}
    assert sources == set(LifecycleState)


@st.composite
def _guided_automatic_run(draw: st.DrawFn) -> list[tuple[LifecycleRecord, Event, LifecycleRecord]]:
    """Automatic events shaped to be accepted often (the stage in flight, times at or past the deadline or
    the verify window), so runs actually reach verification and restore, not only refusals."""
    record = LifecycleRecord.new(SCOPE, DEFAULT_PLAN)
    now = T0
    steps: list[tuple[LifecycleRecord, Event, LifecycleRecord]] = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(sorted(AUTOMATIC_EVENTS)))
        path = [s.name for s in DEFAULT_PLAN.path_to(record.stage)] if record.stage else []
        stage = draw(st.sampled_from([None, *path, *_STAGES]))
        due = [t for t in (record.deadline_at, record.verify_until) if t is not None and t > now]
        if due and draw(st.booleans()):
            now = max(now, min(due)) + timedelta(seconds=draw(st.sampled_from([0, 1])))
        else:
            now += timedelta(seconds=draw(st.sampled_from([0, 30, 300])))
        event = Event(kind=kind, at=now, actor="controller", incident_id="inc-1", stage=stage)
        try:
            updated, _ = transition(record, event, DEFAULT_PLAN)
        except IllegalTransitionError:
            continue
        steps.append((record, event, updated))
        record = updated
    return steps


@settings(max_examples=300, deadline=None)
@given(steps=_guided_automatic_run())
def test_guided_automatic_runs_reach_normal_only_through_a_passed_verify_window(
    steps: list[tuple[LifecycleRecord, Event, LifecycleRecord]],
) -> None:
    # Given / When: accepted automatic transitions only
    for before, event, after in steps:
        # Then NORMAL is only reached by RESTORED, from a restore begun after a full green verify window
        if after.state is St.NORMAL:
            assert event.kind is K.RESTORED
            assert before.state is St.RECOVERY_VERIFY
            assert before.restoring
        if after.restoring and not before.restoring:
            assert event.kind is K.VERIFY_WINDOW_PASSED
            assert before.verify_until is not None
            assert event.at >= before.verify_until


def test_guided_runs_do_reach_a_restore() -> None:
    # Given the guided generator / When searched for a run that restores / Then one exists, so the property
    # above is not vacuous (hypothesis.find raises NoSuchExample otherwise)
    steps = find(
        _guided_automatic_run(),
        lambda run: any(after.state is St.NORMAL for _, _, after in run),
        settings=settings(max_examples=2_000, deadline=None, derandomize=True, database=None),
    )
    assert any(before.restoring and after.state is St.NORMAL for before, _, after in steps)
