"""PlanStage: the lifecycle steps of a running incident and what the state machine must do next.

Every action reads the scope's record, applies at most one lifecycle event (a conditional write), audits
it and returns a `PlanOutput` whose `next_step` routes the state machine:

- `apply`: deploy the overlay stages not yet in force (`overlay_stages`) or run the stage's action;
- `request_approval`: the stage needs a human (Level 3's revert) and nobody approved it yet;
- `hold`: the stage is in force; check health;
- `done`: back to NORMAL after a restore; `close`: the incident ended without anything to restore.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from failsafe.aws.releases import ReleaseError
from failsafe.controller import rollback_metrics
from failsafe.controller.approval import barred_approvers
from failsafe.controller.common import SYSTEM_ACTOR, apply_event, audit_transition
from failsafe.controller.context import ExecutionContext, NextStep, PlanOutput
from failsafe.controller.ports import Ports
from failsafe.domain.audit import AuditEvent
from failsafe.domain.lifecycle import EventKind, IllegalTransitionError, LifecycleState
from failsafe.domain.plans import Stage
from failsafe.domain.records import ConcurrentUpdateError, ScopeRecord
from failsafe.domain.scope import Scope

HELD = (LifecycleState.DEGRADED, LifecycleState.ROLLED_BACK, LifecycleState.RECOVERY_VERIFY)


class IncidentMismatchError(RuntimeError):
    pass


def remaining_stages(rt: Ports, record: ScopeRecord) -> list[Stage]:
    """Stages on the way to the record's stage that are not in force yet."""
    life = record.lifecycle
    if life.stage is None:
        return []
    path = list(rt.plan.path_to(life.stage))
    names = [s.name for s in path]
    if life.applied_stage in names:
        return path[names.index(life.applied_stage) + 1 :]
    return path


def plan_output(rt: Ports, ctx: ExecutionContext, record: ScopeRecord | None, event: str) -> PlanOutput:
    s = rt.settings
    if record is None or record.incident_id != ctx.incident_id:
        state = record.state if record else LifecycleState.NORMAL.value
        step: NextStep = "done" if event == "resolved" else "close"
        return PlanOutput(
            event=event,
            next_step=step,
            state=state,
            verify_window_seconds=record.lifecycle.verify_window_seconds
            if record
            else s.verify_window_seconds,
            summary=f"incident {ctx.incident_id} is over; scope {ctx.scope} is {state}",
            health_interval_seconds=s.health_check_interval_seconds,
            deployment_poll_seconds=s.deployment_poll_seconds,
            approval_timeout_seconds=s.approval_timeout_seconds,
        )
    life = record.lifecycle
    stage = rt.plan.stage(life.stage) if life.stage else None
    remaining = remaining_stages(rt, record)
    overlays: list[str] = []
    for candidate in remaining:
        if candidate.overlay is None:
            break
        overlays.append(candidate.name)
    action: str | None = None
    needs_approval = False
    if not remaining:
        step = "hold"
    elif overlays:
        step = "apply"
    else:
        first = remaining[0]
        action = first.action.value if first.action else None
        needs_approval = first.requires_approval and life.approved_by is None
        step = "request_approval" if needs_approval else "apply"
    return PlanOutput(
        event=event,
        next_step=step,
        state=life.state.value,
        health_interval_seconds=s.health_check_interval_seconds,
        deployment_poll_seconds=s.deployment_poll_seconds,
        approval_timeout_seconds=s.approval_timeout_seconds,
        stage=life.stage,
        stage_title=stage.title if stage else None,
        level=stage.level.value if stage else None,
        applied_stage=life.applied_stage,
        stage_in_force=life.applied_stage is not None,
        overlay_stages=overlays,
        action=action,
        needs_approval=needs_approval,
        target_seconds=stage.target_seconds if stage else None,
        verify_window_seconds=life.verify_window_seconds,
        summary=_summary(record, step),
    )


def _summary(record: ScopeRecord, step: str) -> str:
    life = record.lifecycle
    return (
        f"{record.scope_key} {life.state.value} at {life.stage} "
        f"(in force: {life.applied_stage or 'nothing'});"
        f" next: {step}"
    )


def transition_incident(
    rt: Ports,
    scope: Scope,
    incident_id: str,
    kind: EventKind,
    *,
    actor: str = SYSTEM_ACTOR,
    reason: str = "",
    stage: str | None = None,
    extra: Callable[[ScopeRecord], dict[str, object]] | None = None,
    details: dict[str, object] | None = None,
) -> ScopeRecord | None:
    """Apply one lifecycle event to the incident's record; an illegal event is audited and skipped."""
    for _ in range(8):
        current = rt.state.get(scope.key)
        if current is None or current.incident_id != incident_id:
            return current
        try:
            moved = apply_event(rt, current, kind, actor=actor, reason=reason, stage=stage)
        except IllegalTransitionError as exc:
            rt.record(
                AuditEvent(
                    action=f"skipped:{kind.value}",
                    actor=actor,
                    reason=str(exc),
                    scope_key=scope.key,
                    incident_id=incident_id,
                    details=details or {},
                )
            )
            return current
        updates: dict[str, object] = {"lifecycle": moved.record, "updated_at": rt.now(), "updated_by": actor}
        if extra is not None:
            updates.update(extra(current))
        try:
            stored = rt.state.save(current, current.model_copy(update=updates))
        except ConcurrentUpdateError:
            continue
        audit_transition(rt, current, stored, moved, details)
        return stored
    raise ConcurrentUpdateError(scope.key, None)


def run(rt: Ports, action: str, ctx: ExecutionContext) -> PlanOutput:
    scope = Scope.parse(ctx.scope)
    handlers: dict[str, Callable[[Ports, ExecutionContext, Scope], PlanOutput]] = {
        "begin": _begin,
        "plan": _plan,
        "applied": _applied,
        "apply_failed": _apply_failed,
        "approved": _approved,
        "approval_timeout": _approval_timeout,
        "approval_rejected": _approval_rejected,
        "approval_superseded": _approval_superseded,
        "restore_failed": _restore_failed,
        "normal": _normal,
    }
    if action not in handlers:
        raise ValueError(f"PlanStage: unknown action {action!r}; known: {', '.join(handlers)}")
    return handlers[action](rt, ctx, scope)


def _begin(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    record = rt.state.get(scope.key)
    rt.record(
        AuditEvent(
            action="execution:started",
            actor=SYSTEM_ACTOR,
            reason=ctx.reason,
            scope_key=scope.key,
            incident_id=ctx.incident_id,
            details={"entry_stage": ctx.entry_stage, "source": ctx.source, "requested_by": ctx.requested_by},
        )
    )
    return plan_output(rt, ctx, record, "rollback_started")


def _plan(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    """Re-plan after a health check: an escalation, or a health transition (green, re-fire) to announce."""
    health = ctx.health
    escalated = health is None or health.status == "ESCALATE"
    event = "escalated" if escalated or health is None else f"health_{health.status.lower()}"
    return plan_output(rt, ctx, rt.state.get(scope.key), event)


def _applied(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    previous = ctx.plan
    deployment = ctx.deployment
    if previous is None or deployment is None or deployment.state != "COMPLETE":
        raise ValueError("PlanStage applied: needs $.plan and a COMPLETE $.deployment")
    stage = previous.overlay_stages[-1] if previous.overlay_stages else previous.stage
    record = transition_incident(
        rt,
        scope,
        ctx.incident_id,
        EventKind.STAGE_APPLIED,
        reason=deployment.detail
        if deployment.kind == "revert"
        else f"deployment {deployment.deployment_number} (version {deployment.config_version}) COMPLETE",
        stage=stage,
        extra=lambda _: {"deploy_attempts": 0},
        details={"deployment": deployment.model_dump(mode="json")},
    )
    return plan_output(rt, ctx, record, "stage_applied")


def _apply_failed(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    error = ctx.apply_error or {}
    why = f"{error.get('Error', 'DeploymentFailed')}: {str(error.get('Cause', ''))[:500]}"
    if ctx.deployment is not None and ctx.deployment.rolled_back:
        why = f"AppConfig rolled back deployment {ctx.deployment.deployment_number}: {ctx.deployment.detail}"
    record = transition_incident(
        rt,
        scope,
        ctx.incident_id,
        EventKind.DEPLOYMENT_FAILED,
        reason=why[:1024],
        extra=lambda _: {"deploy_attempts": 0},
        details={"error": error},
    )
    return plan_output(rt, ctx, record, "apply_failed")


def _approval_timeout(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    record = transition_incident(
        rt,
        scope,
        ctx.incident_id,
        EventKind.APPROVAL_DENIED,
        actor="failsafe:approval-timeout",
        reason=f"nobody approved within {rt.settings.approval_timeout_seconds}s; staying safe",
        extra=lambda _: {"pending_approval": None, "approval_declined": True},
    )
    return plan_output(rt, ctx, record, "approval_timed_out")


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    decided_by: str = Field(..., min_length=1)
    reason: str = Field(..., min_length=1)


def _approved(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    decision = ApprovalDecision.model_validate(ctx.approval or {})
    current = rt.state.get(scope.key)
    record = current if current is not None and current.incident_id == ctx.incident_id else None
    if decision.decided_by in barred_approvers(record, ctx.requested_by):
        raise ValueError(
            f"approval by {decision.decided_by}: they requested this stage and cannot approve their own "
            "request; ask another approver"
        )
    record = transition_incident(
        rt,
        scope,
        ctx.incident_id,
        EventKind.APPROVAL_GRANTED,
        actor=decision.decided_by,
        reason=decision.reason,
        extra=lambda _: {"pending_approval": None},
    )
    return plan_output(rt, ctx, record, "approval_granted")


def _approval_superseded(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    """The approval the execution waited on was answered with `Superseded`: a kill switch, a manual level or
    a more severe alarm moved the scope to another stage. The lifecycle is already there; plan it now."""
    error = ctx.approval_error or {}
    try:
        cause = json.loads(str(error.get("Cause", "{}")))
    except ValueError:
        cause = {}
    if not isinstance(cause, dict):
        cause = {}
    superseded = str(cause.get("superseded_stage") or (ctx.plan.stage if ctx.plan else "") or "")

    def clear(current: ScopeRecord) -> ScopeRecord | None:
        pending = current.pending_approval
        if current.incident_id != ctx.incident_id or pending is None:
            return None
        if pending.stage == current.lifecycle.stage:
            return None
        return current.model_copy(update={"pending_approval": None, "updated_at": rt.now()})

    record = rt.state.mutate(scope, clear)
    rt.record(
        AuditEvent(
            action="approval:superseded_replanned",
            actor=SYSTEM_ACTOR,
            reason=f"the approval for {superseded or 'the stage'} was superseded by "
            f"{record.lifecycle.stage}; planning the new stage",
            scope_key=scope.key,
            incident_id=ctx.incident_id,
            details={"superseded_stage": superseded, "stage": record.lifecycle.stage, "cause": cause},
        )
    )
    return plan_output(rt, ctx, record, "approval_superseded")


def _approval_rejected(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    error = ctx.approval_error or {}
    try:
        decision = ApprovalDecision.model_validate(json.loads(str(error.get("Cause", "{}"))))
        actor, reason = decision.decided_by, f"rejected: {decision.reason}"
    except (ValueError, ValidationError):
        actor = "failsafe:approval"
        reason = f"approval task failed: {error.get('Error', '')} {str(error.get('Cause', ''))[:300]}"
    record = transition_incident(
        rt,
        scope,
        ctx.incident_id,
        EventKind.APPROVAL_DENIED,
        actor=actor,
        reason=reason,
        extra=lambda _: {"pending_approval": None, "approval_declined": True},
    )
    return plan_output(rt, ctx, record, "approval_rejected")


def _restore_failed(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    record = rt.state.get(scope.key)
    error = ctx.restore_error or {}
    detail = ctx.deployment.detail if ctx.deployment else ""
    if record is not None and record.incident_id == ctx.incident_id and record.lifecycle.restoring:
        record = transition_incident(
            rt,
            scope,
            ctx.incident_id,
            EventKind.DEPLOYMENT_FAILED,
            reason=f"restore failed: {error.get('Error', '')} {detail}"[:1024],
            details={"error": error},
        )
        return plan_output(rt, ctx, record, "restore_failed")
    if _escalated_during_restore(record, ctx):
        # The restore was stopped because the scope was moved to a rollback stage: plan that stage now.
        return plan_output(rt, ctx, record, "escalated")
    return plan_output(rt, ctx, record, "restore_failed")


def _escalated_during_restore(record: ScopeRecord | None, ctx: ExecutionContext) -> bool:
    """The incident is still open and no longer restoring (a kill switch, manual level or P1 moved it)."""
    return (
        record is not None
        and record.incident_id == ctx.incident_id
        and record.lifecycle.state is not LifecycleState.NORMAL
        and not record.lifecycle.restoring
    )


def _normal(rt: Ports, ctx: ExecutionContext, scope: Scope) -> PlanOutput:
    deployment = ctx.deployment
    version = deployment.config_version if deployment else None
    release: str | None = None
    if rt.releases is not None:
        try:
            release = rt.releases.current()
        except ReleaseError as exc:  # no alias to remember: the incident still closes
            rt.record(
                AuditEvent(
                    action="release:unknown",
                    actor=SYSTEM_ACTOR,
                    reason=str(exc),
                    scope_key=scope.key,
                    incident_id=ctx.incident_id,
                )
            )

    def extra(current: ScopeRecord) -> dict[str, object]:
        return {
            "last_known_good_version": version if version is not None else current.deployed_config_version,
            "last_known_good_release": release or current.last_known_good_release,
            "deployed_config_version": version if version is not None else current.deployed_config_version,
            "pending_approval": None,
            "level_requested_by": None,
            "approval_declined": False,
            "hold_until_recovered": False,
            "execution_arn": None,
        }

    record = transition_incident(
        rt,
        scope,
        ctx.incident_id,
        EventKind.RESTORED,
        reason=f"pre-incident toggles restored (config version {version}); marked last-known-good",
        extra=extra,
    )
    if _escalated_during_restore(record, ctx):
        # RESTORED was refused: the scope was moved to a rollback stage as the restore finished. It is not
        # NORMAL, so nobody is told "resolved"; the new stage is planned and applied.
        return plan_output(rt, ctx, record, "escalated")
    rollback_metrics.recovered(
        scope=scope,
        at=rt.now(),
        incident_started_at=rollback_metrics.incident_started_at(rt.state.find_incident, ctx.incident_id),
    )
    return plan_output(rt, ctx, record, "resolved")
