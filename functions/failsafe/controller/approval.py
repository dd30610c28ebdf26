"""ApprovalCallback: a human approves or rejects the stage an incident waits on (waitForTaskToken).

The callback only validates and hands the decision to the waiting task; the state machine applies the
lifecycle event (APPROVAL_GRANTED or APPROVAL_DENIED) itself, so an expired token changes nothing.

Nobody who asked for the stage may approve it (`barred_approvers`): the execution's requester, the one the
approval request names, and the operator whose manual level joined the incident (`level_requested_by`).

When a join or an escalation moves the scope to another stage while the execution waits on an approval
(`pending_approval`), the waiting task is answered with the `Superseded` error (`answer_superseded`): the
state machine catches it and plans the new stage at once instead of waiting for the approval to time out.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from failsafe.aws.audit_log import AuditEvent
from failsafe.aws.executions import ApprovalTokenError
from failsafe.aws.state_store import PendingApproval, ScopeRecord
from failsafe.controller.runtime import Runtime
from failsafe.domain.authorization import AuthorizationError, Caller, check_approval

SUPERSEDED_ERROR = "Superseded"


class ApprovalError(ValueError):
    pass


class ApprovalExpiredError(ApprovalError):
    pass


class Superseded(Exception):
    """The stage to approve is no longer the stage the scope wants. The class name is the Step Functions
    error the ASL catches (`RequestApproval` -> `ApprovalSuperseded`)."""


class SupersedeError(RuntimeError):
    """The execution waiting on a superseded approval could not be told; it waits until the approval is
    answered or times out."""


def barred_approvers(record: ScopeRecord | None, *requesters: str | None) -> frozenset[str]:
    """Everyone who asked for the stage awaiting approval: none of them may approve it."""
    names = set(requesters)
    if record is not None:
        names.add(record.level_requested_by)
        if record.pending_approval is not None:
            names.add(record.pending_approval.requested_by)
    return frozenset(n for n in names if n)


def superseded_approval(before: ScopeRecord, new_stage: str | None) -> PendingApproval | None:
    """The approval the execution waits on, if a move to `new_stage` makes it moot."""
    pending = before.pending_approval
    if pending is None or new_stage is None or new_stage == pending.stage:
        return None
    return pending


def answer_superseded(
    rt: Runtime, record: ScopeRecord, pending: PendingApproval, *, actor: str, reason: str
) -> dict[str, object]:
    """Fail the task waiting on `pending` with `Superseded` so the execution re-plans `record`'s stage now.

    The caller has already cleared `pending_approval` in the same conditional write that moved the stage, so
    exactly one writer answers a token. An answered or expired token is fine (the execution already left the
    wait and re-plans from the record). Any other failure puts the pending approval back (an approver or the
    timeout can still wake the execution), is audited and raised.
    """
    stage = record.lifecycle.stage
    cause = json.dumps(
        {
            "superseded_stage": pending.stage,
            "stage": stage,
            "by": actor,
            "reason": reason,
            "requested_by": pending.requested_by,
        },
        sort_keys=True,
    )
    delivered = True
    note = f"approval for {pending.stage} superseded by {stage}; the execution plans {stage} now"
    try:
        rt.executions.send_failure(pending.task_token, SUPERSEDED_ERROR, cause)
    except ApprovalTokenError as exc:
        delivered = False
        note = (
            f"approval for {pending.stage} superseded by {stage}; the task was no longer waiting ({exc}), "
            "the execution re-plans from the record"
        )
    except Exception as exc:
        incident_id = record.incident_id

        def put_back(current: ScopeRecord) -> ScopeRecord | None:
            if current.incident_id != incident_id or current.pending_approval is not None:
                return None
            return current.model_copy(update={"pending_approval": pending, "updated_at": rt.now()})

        rt.state.mutate(record.scope, put_back, plan=rt.plan)
        expires = pending.expires_at.isoformat()
        message = (
            f"incident {incident_id}: scope {record.scope_key} moved to {stage}, but the execution waiting "
            f"on the approval for {pending.stage} could not be woken ({type(exc).__name__}: "
            f"{str(exc)[:300]}); it deploys {stage} once that approval is answered or expires at {expires}. "
            "Send the request again, or reject the pending approval to deploy now."
        )
        rt.record(
            AuditEvent(
                action="approval:supersede_failed",
                actor=actor,
                reason=message,
                scope_key=record.scope_key,
                incident_id=incident_id,
                details={"stage": stage, "superseded_stage": pending.stage, "error": type(exc).__name__},
            )
        )
        raise SupersedeError(message) from exc
    rt.record(
        AuditEvent(
            action="approval:superseded",
            actor=actor,
            reason=note,
            scope_key=record.scope_key,
            incident_id=record.incident_id,
            details={
                "stage": stage,
                "superseded_stage": pending.stage,
                "requested_by": pending.requested_by,
                "delivered": delivered,
                "why": reason,
            },
        )
    )
    return {"superseded_stage": pending.stage, "stage": stage, "delivered": delivered}


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str = Field(..., min_length=1, max_length=80)
    decision: Literal["approve", "reject"]
    approver: str = Field(..., min_length=1, max_length=512)
    reason: str = Field(..., min_length=1, max_length=1024)


class ApprovalResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str
    decision: str
    decided_by: str
    stage: str


def decide(rt: Runtime, request: ApprovalRequest, caller: Caller) -> ApprovalResult:
    """`request` by `caller` (its `approver` is `caller.name`, set by the handler, never by the body)."""
    pointer = rt.state.find_incident(request.incident_id)
    if pointer is None:
        raise ApprovalError(f"incident {request.incident_id}: no such incident")
    record = rt.state.get(pointer.scope_key)
    pending = record.pending_approval if record is not None else None
    if record is None or record.incident_id != request.incident_id or pending is None:
        raise ApprovalError(f"incident {request.incident_id}: nothing is waiting for approval")
    stage = rt.plan.stage(pending.stage)
    try:
        check_approval(
            caller,
            incident_id=request.incident_id,
            stage=pending.stage,
            decision=request.decision,
            approver_roles=stage.approver_roles or stage.authorized_roles,
            requesters=barred_approvers(record, record.requested_by),
        )
    except AuthorizationError as exc:
        rt.record(
            AuditEvent(
                action="approval:refused",
                actor=caller.name,
                reason=str(exc),
                scope_key=record.scope_key,
                incident_id=request.incident_id,
                details={
                    "stage": pending.stage,
                    "decision": request.decision,
                    "requested_by": pending.requested_by,
                    "via": caller.via,
                    "roles_held": sorted(caller.roles),
                    "roles_needed": sorted(stage.approver_roles or stage.authorized_roles),
                },
            )
        )
        raise
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
