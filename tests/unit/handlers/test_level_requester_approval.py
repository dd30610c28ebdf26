"""An operator whose manual Level 3 joined an open (alarm) incident requested the revert: the approval
names them and they can never approve it, in ApprovalCallback nor in the state machine's `approved` step."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.handlers.conftest import World, load_event
from tests.unit.handlers.helpers import (
    RecordingExecutions,
    execution_input,
    ingest,
    plan,
    principal_arn,
    signed,
    state_record,
    task,
)

from failsafe.domain.authorization import AuthorizationError
from failsafe.handlers import approval_callback, manual_rollback, notify
from failsafe.handlers._common import runtime
from failsafe.handlers.approval_callback import ApprovalCallbackEnv


def _alice_joins_an_alarm_incident_at_level_3(world: World) -> tuple[dict[str, Any], RecordingExecutions]:
    started = ingest(load_event("alarm-coverage-p1.json"))
    state = execution_input(world, started["incident_id"])
    assert state["requested_by"] == "failsafe:alarm-ingest"
    joined = manual_rollback.dispatch(signed(load_event("manual-level-3.json")))  # alice
    assert (joined["joined"], joined["stage"]) == (True, "revert")
    state["plan"] = {**plan(state, "begin"), "next_step": "request_approval", "stage": "revert"}
    task(notify, "request_approval", state, task_token="tok")
    recorder = RecordingExecutions()
    runtime(ApprovalCallbackEnv).executions = recorder  # type: ignore[assignment]
    return state, recorder


def _answer(incident_id: str, approver: str) -> dict[str, Any]:
    event = {**load_event("approval.json"), "incident_id": incident_id, "approver": approver}
    result: dict[str, Any] = approval_callback.dispatch(signed(event, default="bob"))
    return result


def test_operator_who_joined_at_level_3_is_named_and_cannot_approve(world: World) -> None:
    # Given alice's Level 3 joined an alarm incident and the revert waits for approval
    state, recorder = _alice_joins_an_alarm_incident_at_level_3(world)
    # Then the record and the approval request name alice, not the alarm ingest
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["level_requested_by"] == principal_arn("alice")
    assert record["pending_approval"]["requested_by"] == principal_arn("alice")
    # When alice approves her own Level 3
    with pytest.raises(AuthorizationError, match=r"user/alice requested revert and cannot approve"):
        _answer(state["incident_id"], principal_arn("alice"))
    # Then nothing reached the waiting task and the approval still waits
    assert recorder.calls == []
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["pending_approval"] is not None
    # When bob approves
    _answer(state["incident_id"], principal_arn("bob"))
    # Then the decision is handed to the waiting task and the lifecycle records bob
    [(kind, token, output)] = recorder.calls
    assert (kind, token, output["decided_by"]) == ("success", "tok", principal_arn("bob"))
    state["approval"] = output
    plan(state, "approved")
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["lifecycle"]["approved_by"] == principal_arn("bob")


def test_the_approved_step_refuses_the_joiner_too(world: World) -> None:
    # Given alice's Level 3 joined an alarm incident and the revert waits for approval
    state, _ = _alice_joins_an_alarm_incident_at_level_3(world)
    # When an approval by alice reaches the state machine some other way (a forged or replayed token)
    state["approval"] = {
        "decided_by": principal_arn("alice"),
        "reason": "lgtm",
        "decision": "approve",
    }
    # Then the approved step refuses it and the lifecycle has no approver
    with pytest.raises(ValueError, match=r"user/alice: they requested this stage"):
        plan(state, "approved")
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["lifecycle"]["approved_by"] is None


def test_a_second_operator_joining_the_pending_level_cannot_approve_either(world: World) -> None:
    # Given alice's Level 3 joined an alarm incident and the revert waits for approval
    state, recorder = _alice_joins_an_alarm_incident_at_level_3(world)
    # When bob asks for Level 3 too (same stage: the approval keeps waiting)
    manual_rollback.dispatch(
        signed({**load_event("manual-level-3.json"), "requested_by": principal_arn("bob")})
    )
    # Then neither alice nor bob can approve it; carol can
    for requester in (principal_arn("alice"), principal_arn("bob")):
        with pytest.raises(AuthorizationError, match="cannot approve"):
            _answer(state["incident_id"], requester)
    assert recorder.calls == []
    _answer(state["incident_id"], principal_arn("carol"))
    assert [c[2]["decided_by"] for c in recorder.calls] == [principal_arn("carol")]


def test_a_more_severe_alarm_takes_the_level_over_from_the_joiner(world: World) -> None:
    # Given alice's Level 3 joined an alarm incident
    state, _ = _alice_joins_an_alarm_incident_at_level_3(world)
    # When a more severe alarm escalates the stage
    ingest(load_event("alarm-security-critical.json"))
    # Then the stage is the alarm's: alice is no longer recorded as its requester
    record = state_record(world, state["scope"])
    assert record is not None
    assert (record["lifecycle"]["stage"], record["level_requested_by"]) == ("emergency", None)
