"""Notify: SNS on every transition, PagerDuty trigger when a rollback begins (and on pages), resolve at the
end, and the approval request of a waitForTaskToken task.

Each channel fails on its own: a failure is audited and returned (the handler counts the
`NotificationFailed` metric that `NotificationFailuresAlarm` watches) and never raised, so mitigation goes
on. PagerDuty retries with backoff inside the client.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from failsafe.aws.notifier import Notification
from failsafe.aws.pagerduty import PagerDutyEvent, pagerduty_severity
from failsafe.controller.approval import Superseded
from failsafe.controller.context import ExecutionContext
from failsafe.controller.ports import Ports
from failsafe.domain.audit import AuditEvent
from failsafe.domain.records import PendingApproval, ScopeRecord
from failsafe.domain.scope import Scope

NOTIFY_ACTOR = "failsafe:notify"
# PagerDuty is paged when a rollback begins and updated (same dedup_key) when it gets worse. The approval
# request only goes to SNS: it must return fast, since the state machine waits on its task token.
PAGE_EVENTS = frozenset(
    {"rollback_started", "apply_failed", "escalated", "restore_failed", "controller_failed"}
)


class NotifyResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str
    sent: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


def _severity(ctx: ExecutionContext, record: ScopeRecord | None) -> str:
    if ctx.trigger is not None:
        return ctx.trigger.severity
    if record is not None and record.trigger_severity:
        return record.trigger_severity
    return "manual"


def step_error(caught: dict[str, Any] | None) -> dict[str, str] | None:
    """A Catch's {Error, Cause} for people: a Lambda's Cause is its JSON error, of which the message is
    what matters (the stack trace stays in the function's logs)."""
    if caught is None:
        return None
    cause = str(caught.get("Cause", ""))
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        cause = str(parsed["errorMessage"])
    return {"error": str(caught.get("Error", "")), "message": cause[:1000]}


def notify(rt: Ports, event: str, ctx: ExecutionContext) -> NotifyResult:
    scope = Scope.parse(ctx.scope)
    record = rt.state.get(scope.key)
    plan = ctx.plan
    severity = _severity(ctx, record)
    # A failed controller step has no plan of its own: what is in force is what the record says.
    failed = event == "controller_failed"
    state_after = plan.state if plan and not failed else (record.state if record else None)
    note = Notification(
        event=event,
        incident_id=ctx.incident_id,
        scope=scope.key,
        state_after=state_after,
        stage=plan.stage if plan else ctx.entry_stage,
        severity=severity,
        kind=ctx.trigger.kind if ctx.trigger else None,
        actor=ctx.requested_by,
        reason=ctx.reason,
        config_version=record.deployed_config_version if record else None,
        at=rt.now(),
        details={
            "summary": plan.summary if plan else "",
            "next_step": plan.next_step if plan else None,
            "source": ctx.source,
            "health": ctx.health.model_dump(mode="json") if ctx.health else None,
            # What the last deployment or release revert did, e.g. a revert with no earlier release.
            "deployment": ctx.deployment.detail if ctx.deployment else None,
            "error": step_error(ctx.controller_error),
        },
    )
    result = NotifyResult(event=event)
    result = _channel(rt, result, "sns", ctx, lambda: rt.notifier.publish(note))
    closing = event not in PAGE_EVENTS and plan is not None and plan.next_step in ("done", "close")
    if event in PAGE_EVENTS or closing:
        page = PagerDutyEvent(
            incident_id=ctx.incident_id,
            summary=f"failsafe {scope.key}: {event.replace('_', ' ')} ({note.subject()})",
            source=f"failsafe/{scope.key}",
            severity=pagerduty_severity(severity),
            component=scope.service,
            group=scope.environment,
            event_class=ctx.trigger.kind if ctx.trigger else "manual",
            timestamp=rt.now(),
            custom_details={
                "incident_id": ctx.incident_id,
                "scope": scope.key,
                "state": state_after,
                "stage": note.stage,
                "reason": ctx.reason,
                "requested_by": ctx.requested_by,
                "error": step_error(ctx.controller_error),
            },
        )
        if closing:
            result = _channel(rt, result, "pagerduty:resolve", ctx, lambda: rt.pagerduty.resolve(page))
        else:
            result = _channel(rt, result, "pagerduty:trigger", ctx, lambda: rt.pagerduty.trigger(page))
    return result


def _channel(rt: Ports, result: NotifyResult, name: str, ctx: ExecutionContext, send: object) -> NotifyResult:
    assert callable(send)
    try:
        send()
    except Exception as exc:  # a notification never blocks mitigation
        message = f"{name}: {type(exc).__name__}: {str(exc)[:300]}"
        rt.record(
            AuditEvent(
                action="notification:failed",
                actor=NOTIFY_ACTOR,
                reason=message,
                scope_key=Scope.parse(ctx.scope).key,
                incident_id=ctx.incident_id,
                details={"event": result.event, "channel": name},
            )
        )
        return result.model_copy(
            update={"failed": [*result.failed, name], "errors": [*result.errors, message]}
        )
    rt.record(
        AuditEvent(
            action="notification:sent",
            actor=NOTIFY_ACTOR,
            reason=result.event,
            scope_key=Scope.parse(ctx.scope).key,
            incident_id=ctx.incident_id,
            details={"event": result.event, "channel": name},
        )
    )
    return result.model_copy(update={"sent": [*result.sent, name]})


def request_approval(rt: Ports, task_token: str, ctx: ExecutionContext) -> NotifyResult:
    """Store the task token as the scope's pending approval and announce it.

    The approval names who asked for the stage: the operator whose manual level set it
    (`level_requested_by`, e.g. one who joined an alarm incident) or else the execution's requester; they
    cannot approve it. If the scope already moved to another stage (a kill switch or a more severe alarm
    got in before the token was stored), the task fails with `Superseded` so the execution plans that
    stage now instead of waiting on an approval nobody needs.
    """
    scope = Scope.parse(ctx.scope)
    plan = ctx.plan
    stage = plan.stage if plan and plan.stage else ctx.entry_stage
    now = rt.now()
    moved_to: list[str] = []

    def store(r: ScopeRecord) -> ScopeRecord | None:
        if r.incident_id != ctx.incident_id:
            return None
        if r.lifecycle.stage != stage:
            moved_to.append(r.lifecycle.stage or "nothing")
            return None
        pending = PendingApproval(
            task_token=task_token,
            stage=stage,
            requested_by=r.level_requested_by or ctx.requested_by,
            requested_at=now,
            expires_at=now + timedelta(seconds=rt.settings.approval_timeout_seconds),
        )
        return r.model_copy(update={"pending_approval": pending, "updated_at": now})

    stored = rt.state.mutate(scope, store)
    if moved_to:
        cause = {"superseded_stage": stage, "stage": moved_to[0], "by": NOTIFY_ACTOR}
        rt.record(
            AuditEvent(
                action="approval:superseded",
                actor=NOTIFY_ACTOR,
                reason=f"approval for {stage} not requested: the scope moved to {moved_to[0]}; planning that",
                scope_key=scope.key,
                incident_id=ctx.incident_id,
                details={**cause, "delivered": True},
            )
        )
        raise Superseded(json.dumps(cause, sort_keys=True))
    requested_by = (
        stored.pending_approval.requested_by
        if stored.incident_id == ctx.incident_id and stored.pending_approval is not None
        else ctx.requested_by
    )
    expires_at = now + timedelta(seconds=rt.settings.approval_timeout_seconds)
    rt.record(
        AuditEvent(
            action="approval:requested",
            actor=requested_by,
            reason=ctx.reason,
            scope_key=scope.key,
            incident_id=ctx.incident_id,
            details={"stage": stage, "expires_at": expires_at.isoformat(), "requested_by": requested_by},
        )
    )
    return notify(rt, "approval_requested", ctx.model_copy(update={"requested_by": requested_by}))
