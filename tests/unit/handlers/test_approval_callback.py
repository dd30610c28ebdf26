"""ApprovalCallback with events/approval*.json: approve, reject, requester, expiry, unknown incident."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.unit.handlers.conftest import World, load_event
from tests.unit.handlers.helpers import (
    RecordingExecutions,
    audit_actions,
    execution_input,
    plan,
    principal_arn,
    signed,
    state_record,
    task,
)

from failsafe.controller.approval import ApprovalError, ApprovalExpiredError
from failsafe.domain.authorization import AuthorizationError
from failsafe.handlers import approval_callback, manual_rollback, notify
from failsafe.handlers._common import runtime
from failsafe.handlers.approval_callback import ApprovalCallbackEnv


def _waiting_for_approval(world: World) -> tuple[dict[str, Any], RecordingExecutions]:
    started = manual_rollback.dispatch(signed(load_event("manual-level-3.json")))
    state = execution_input(world, started["incident_id"])
    state["plan"] = {**plan(state, "begin"), "next_step": "request_approval", "stage": "revert"}
    task(notify, "request_approval", state, task_token="token-123")
    recorder = RecordingExecutions()
    runtime(ApprovalCallbackEnv).executions = recorder  # type: ignore[assignment]
    return state, recorder


def _event(name: str, incident_id: str) -> dict[str, Any]:
    return {**load_event(name), "incident_id": incident_id}


def test_approval_by_someone_else_sends_the_token_back(world: World) -> None:
    # Given a level 3 incident waiting for approval of the revert
    state, recorder = _waiting_for_approval(world)
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["pending_approval"]["task_token"] == "token-123"
    # When bob approves
    result = approval_callback.dispatch(signed(_event("approval.json", state["incident_id"]), default="bob"))
    # Then the waiting task gets the decision and the approval is audited
    assert result["decision"] == "approve"
    assert recorder.calls == [
        (
            "success",
            "token-123",
            {
                "decided_by": principal_arn("bob"),
                "reason": load_event("approval.json")["reason"],
                "decision": "approve",
            },
        )
    ]
    assert audit_actions(world)[-1] == "approval:approve"
    # And the state machine's next step records the approval on the lifecycle
    state["approval"] = recorder.calls[0][2]
    assert plan(state, "approved")["needs_approval"] is False
    assert state_record(world, state["scope"])["lifecycle"]["approved_by"] == principal_arn("bob")  # type: ignore[index]


def test_rejection_fails_the_task_with_the_reason(world: World) -> None:
    # Given a pending approval
    state, recorder = _waiting_for_approval(world)
    # When bob rejects it
    approval_callback.dispatch(signed(_event("approval-reject.json", state["incident_id"]), default="bob"))
    # Then the task fails with ApprovalRejected
    [(kind, token, (error, cause))] = recorder.calls
    assert (kind, token, error) == ("failure", "token-123", "ApprovalRejected")
    assert cause["decided_by"] == principal_arn("bob")
    # And, as nothing was in force yet, the state machine closes the incident with nothing changed
    state["approval_error"] = {"Error": error, "Cause": json.dumps(cause)}
    closed = plan(state, "approval_rejected")
    assert (closed["state"], closed["next_step"]) == ("NORMAL", "close")
    assert "transition:APPROVAL_DENIED" in audit_actions(world)


def test_the_requester_cannot_approve(world: World) -> None:
    # Given alice's level 3 waiting for approval
    state, recorder = _waiting_for_approval(world)
    before = audit_actions(world)
    # When alice approves her own request
    with pytest.raises(AuthorizationError, match="cannot approve it"):
        approval_callback.dispatch(
            signed(_event("approval-by-requester.json", state["incident_id"]), "alice")
        )
    # Then nothing was sent; the refusal is audited
    assert recorder.calls == []
    assert audit_actions(world) == [*before, "approval:refused"]


def test_an_expired_approval_is_a_clear_error(world: World) -> None:
    # Given a pending approval whose timeout has passed
    state, recorder = _waiting_for_approval(world)
    world.clock.advance(601)
    # When bob approves too late
    with pytest.raises(ApprovalExpiredError, match="expired at"):
        approval_callback.dispatch(signed(_event("approval.json", state["incident_id"]), default="bob"))
    # Then nothing was sent
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (load_event("approval.json"), "no such incident"),
        ({"incident_id": "x", "decision": "maybe", "approver": "bob", "reason": "r"}, "decision"),
        ({"incident_id": "x", "decision": "approve", "approver": "bob"}, "reason"),
    ],
)
def test_bad_approvals_are_clear_errors(world: World, event: dict[str, Any], message: str) -> None:
    # Given no pending approval
    # When a bad approval arrives
    with pytest.raises(ApprovalError, match=message):
        approval_callback.dispatch(signed(event, default="bob"))
    # Then nothing was recorded
    assert audit_actions(world) == []
