"""Deciding an approval, on the in-memory fakes of the state store, audit log and executions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.fakes import FakePorts

from failsafe.controller.approval import ApprovalError, ApprovalExpiredError, ApprovalRequest, decide
from failsafe.controller.settings import Settings
from failsafe.domain.records import PendingApproval, ScopeRecord
from failsafe.domain.scope import Scope
from failsafe_tools.local.clock import ManualClock

SCOPE = Scope.parse("recommender/prod")


@pytest.fixture
def ports() -> FakePorts:
    settings = Settings.from_env({"FAILSAFE_SERVICE": "recommender", "FAILSAFE_ENVIRONMENT": "prod"})
    return FakePorts(settings, ManualClock())


def _waiting(ports: FakePorts, requested_by: str = "alice") -> PendingApproval:
    """An open incident of SCOPE whose stage_3 waits for approval, requested by `requested_by`."""
    now = ports.now()
    pending = PendingApproval(
        task_token="token-1",
        stage="stage_3",
        requested_by=requested_by,
        requested_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    fresh = ScopeRecord.fresh(SCOPE, ports.plan)
    life = fresh.lifecycle.model_copy(update={"incident_id": "inc-1"})
    ports.state.put(
        fresh.model_copy(
            update={"lifecycle": life, "pending_approval": pending, "requested_by": requested_by}
        ),
        expected_version=None,
    )
    ports.state.register_incident("inc-1", SCOPE.key, now)
    return pending


def test_another_person_approves_and_the_waiting_execution_goes_on(ports: FakePorts) -> None:
    # Given stage_3 waiting for approval, requested by alice
    _waiting(ports)
    # When bob approves it
    result = decide(
        ports, ApprovalRequest(incident_id="inc-1", decision="approve", approver="bob", reason="ok")
    )
    # Then the execution's task token gets bob's approval, and the decision is audited
    assert (result.decision, result.decided_by, result.stage) == ("approve", "bob", "stage_3")
    [(outcome, token, output)] = ports.executions.answers
    assert (outcome, token, output["decided_by"]) == ("success", "token-1", "bob")
    assert [e.action for e in ports.audit.entries(incident_id="inc-1")] == ["approval:approve"]


def test_the_requester_cannot_approve_their_own_stage(ports: FakePorts) -> None:
    # Given stage_3 requested by alice / When alice approves it / Then refused, and nothing is sent
    _waiting(ports)
    request = ApprovalRequest(incident_id="inc-1", decision="approve", approver="alice", reason="mine")
    with pytest.raises(ApprovalError, match="alice requested this stage and cannot approve it"):
        decide(ports, request)
    assert ports.executions.answers == []


def test_an_expired_approval_changes_nothing(ports: FakePorts) -> None:
    # Given stage_3 waiting, and the clock past its expiry
    pending = _waiting(ports)
    ports.clock.advance((pending.expires_at - ports.now()).total_seconds())  # type: ignore[attr-defined]
    # When bob approves it / Then it is refused as expired, and nothing is sent or audited
    request = ApprovalRequest(incident_id="inc-1", decision="approve", approver="bob", reason="late")
    with pytest.raises(ApprovalExpiredError, match="expired"):
        decide(ports, request)
    assert ports.executions.answers == []
    assert ports.audit.entries() == []
