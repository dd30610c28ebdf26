"""An operator whose manual Level 3 joined an open (alarm) incident requested the revert: the approval
names them and they can never approve it, in ApprovalCallback nor in the state machine's `approved` step."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.handlers.helpers import (
    RecordingExecutions,
    execution_input,
    ingest,
    plan,
    state_record,
    task,
)
from tests.integration.handlers.world import FakeContext, World, load_event

from failsafe.controller.approval import ApprovalError
from failsafe.handlers import approval_callback, manual_rollback, notify
from failsafe.handlers._common import runtime
from failsafe.handlers.approval_callback import ApprovalCallbackEnv


def _alice_joins_an_alarm_incident_at_level_3(world: World) -> tuple[dict[str, Any], RecordingExecutions]:
    started = ingest(load_event("alarm-coverage-p1.json"))
    state = execution_input(world, started["incident_id"])
    assert state["requested_by"] == "failsafe:alarm-ingest"
    joined = manual_rollback.handler(load_event("manual-level-3.json"), FakeContext())  # alice
    assert (joined["joined"], joined["stage"]) == (True, "revert")
    state["plan"] = {**plan(state, "begin"), "next_step": "request_approval", "stage": "revert"}
    task(notify, "request_approval", state, task_token="tok")
    recorder = RecordingExecutions()
    runtime(ApprovalCallbackEnv).executions = recorder  # type: ignore[assignment]
    return state, recorder


def _answer(incident_id: str, approver: str) -> dict[str, Any]:
    event = {**load_event("approval.json"), "incident_id": incident_id, "approver": approver}
    result: dict[str, Any] = approval_callback.handler(event, FakeContext())
    return result


def test_operator_who_joined_at_level_3_is_named_and_cannot_approve(world: World) -> None:
    # Given alice's Level 3 joined an alarm incident and the revert waits for approval
    state, recorder = _alice_joins_an_alarm_incident_at_level_3(world)
    # Then the record and the approval request name alice, not the alarm ingest
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["level_requested_by"] == "alice@example.com"
    assert record["pending_approval"]["requested_by"] == "alice@example.com"
    # When alice approves her own Level 3
    with pytest.raises(ApprovalError, match=r"alice@example.com requested this stage and cannot approve"):
        _answer(state["incident_id"], "alice@example.com")
    # Then nothing reached the waiting task and the approval still waits
    assert recorder.calls == []
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["pending_approval"] is not None
    # When bob approves
    _answer(state["incident_id"], "bob@example.com")
    # Then the decision is handed to the waiting task and the lifecycle records bob
    [(kind, token, output)] = recorder.calls
    assert (kind, token, output["decided_by"]) == ("success", "tok", "bob@example.com")
    state["approval"] = output
    plan(state, "approved")
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["lifecycle"]["approved_by"] == "bob@example.com"


def test_the_approved_step_refuses_the_joiner_too(world: World) -> None:
    # Given alice's Level 3 joined an alarm incident and the revert waits for approval
    state, _ = _alice_joins_an_alarm_incident_at_level_3(world)
    # When an approval by alice reaches the state machine some other way (a forged or replayed token)
    state["approval"] = {"decided_by": "alice@example.com", "reason": "lgtm", "decision": "approve"}
    # Then the approved step refuses it and the lifecycle has no approver
    with pytest.raises(ValueError, match=r"alice@example.com: they requested this stage"):
        plan(state, "approved")
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["lifecycle"]["approved_by"] is None


def test_a_second_operator_joining_the_pending_level_cannot_approve_either(world: World) -> None:
    # Given alice's Level 3 joined an alarm incident and the revert waits for approval
    state, recorder = _alice_joins_an_alarm_incident_at_level_3(world)
    # When bob asks for Level 3 too (same stage: the approval keeps waiting)
    manual_rollback.handler(
        {**load_event("manual-level-3.json"), "requested_by": "bob@example.com"}, FakeContext()
    )
    # Then neither alice nor bob can approve it; carol can
    for requester in ("alice@example.com", "bob@example.com"):
        with pytest.raises(ApprovalError, match="cannot approve"):
            _answer(state["incident_id"], requester)
    assert recorder.calls == []
    _answer(state["incident_id"], "carol@example.com")
    assert [c[2]["decided_by"] for c in recorder.calls] == ["carol@example.com"]


def test_a_more_severe_alarm_takes_the_level_over_from_the_joiner(world: World) -> None:
    # Given alice's Level 3 joined an alarm incident
    state, _ = _alice_joins_an_alarm_incident_at_level_3(world)
    # When a more severe alarm escalates the stage
    ingest(load_event("alarm-security-critical.json"))
    # Then the stage is the alarm's: alice is no longer recorded as its requester
    record = state_record(world, state["scope"])
    assert record is not None
    assert (record["lifecycle"]["stage"], record["level_requested_by"]) == ("emergency", None)
