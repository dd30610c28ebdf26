"""ApprovalCallback: a human approves or rejects the stage an incident waits on (waitForTaskToken).

The callback only validates and hands the decision to the waiting task; the state machine applies the
lifecycle event (APPROVAL_GRANTED or APPROVAL_DENIED) itself, so an expired token changes nothing.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from failsafe.aws.audit_log import AuditEvent
from failsafe.aws.executions import ApprovalTokenError
from failsafe.controller.runtime import Runtime


class ApprovalError(ValueError):
    pass


class ApprovalExpiredError(ApprovalError):
    pass


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str = Field(..., min_length=1, max_length=80)
    decision: Literal["approve", "reject"]
    approver: str = Field(..., min_length=1, max_length=128)
    reason: str = Field(..., min_length=1, max_length=1024)


class ApprovalResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str
    decision: str
    decided_by: str
    stage: str


def decide(rt: Runtime, request: ApprovalRequest) -> ApprovalResult:
    pointer = rt.state.find_incident(request.incident_id)
    if pointer is None:
        raise ApprovalError(f"incident {request.incident_id}: no such incident")
    record = rt.state.get(pointer.scope_key)
    pending = record.pending_approval if record is not None else None
    if record is None or record.incident_id != request.incident_id or pending is None:
        raise ApprovalError(f"incident {request.incident_id}: nothing is waiting for approval")
    if request.decision == "approve" and request.approver == pending.requested_by:
        raise ApprovalError(
            f"incident {request.incident_id}: {request.approver} requested this stage and cannot approve it; "
            "ask another approver"
        )
    now = rt.now()
    if now >= pending.expires_at:
        raise ApprovalExpiredError(
            f"incident {request.incident_id}: the approval for {pending.stage} expired at "
            f"{pending.expires_at.isoformat()}; the controller stayed safe. Run the level again to ask anew."
        )
    output = {"decided_by": request.approver, "reason": request.reason, "decision": request.decision}
    try:
        if request.decision == "approve":
            rt.executions.send_success(pending.task_token, output)
        else:
            rt.executions.send_failure(pending.task_token, "ApprovalRejected", json.dumps(output))
    except ApprovalTokenError as exc:
        raise ApprovalExpiredError(
            f"incident {request.incident_id}: the approval for {pending.stage} is no longer open ({exc}); "
            "nothing was changed"
        ) from exc
    rt.record(
        AuditEvent(
            action=f"approval:{request.decision}",
            actor=request.approver,
            reason=request.reason,
            scope_key=record.scope_key,
            incident_id=request.incident_id,
            details={"stage": pending.stage, "requested_by": pending.requested_by},
        )
    )
    return ApprovalResult(
        incident_id=request.incident_id,
        decision=request.decision,
        decided_by=request.approver,
        stage=pending.stage,
    )
