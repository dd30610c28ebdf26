"""ManualRollback: the operator's levels 1, 2, 3 and emergency, the dry run, and the manual return to NORMAL.

- A reason and a requester are always required (validated before anything is read or written).
- `dry_run` reads the current toggle document and returns the plan without changing anything: the toggle
  diff per scope, the deployment plan, the approvals needed, the target time and the blast radius.
- A real run on a NORMAL scope claims it (MANUAL_LEVEL, conditional write) and starts one execution named
  with the incident id; on a scope with an open incident it moves that incident to the chosen stage and the
  running execution applies it.
- Level 3 ends with the release revert, which waits for an approval by someone other than the requester.
  The kill switch (emergency) needs no approval but a reason.
- `recover` is the audited manual override back to NORMAL: it stops the execution and does the close-out
  the execution no longer reaches: re-attaches the guardrail monitors, deploys the pre-incident toggles of
  the scope (gradual strategy unless `immediate`), notifies SNS, resolves the page and writes the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from failsafe.aws.appconfig_deployer import DeploymentConflictError
from failsafe.aws.audit_log import AuditEvent
from failsafe.aws.state_store import ConcurrentUpdateError, ScopeRecord
from failsafe.controller import notify, report
from failsafe.controller.apply import attach_monitors, current_document, preempt_restore
from failsafe.controller.approval import answer_superseded, superseded_approval
from failsafe.controller.common import apply_event, audit_transition, incident_id_for
from failsafe.controller.context import ExecutionContext, IncidentInput, TriggerInfo
from failsafe.controller.execution_start import resume_input, start_claimed
from failsafe.controller.planning import plan_output
from failsafe.controller.runtime import Runtime
from failsafe.domain.authorization import AuthorizationError, Caller, check_request
from failsafe.domain.diff import blast_radius, diff_documents
from failsafe.domain.lifecycle import EventKind, IllegalTransitionError
from failsafe.domain.plans import Level, PlanError, Stage, apply_to_document, restore_document
from failsafe.domain.scope import MAX_SCOPE_KEY_LENGTH, Scope, ScopeError
from failsafe.domain.toggles import ToggleDocument

LEVELS = ", ".join(level.value for level in Level)
RESTORE_ATTEMPTS = 3
T = TypeVar("T")


class ManualRequestError(ValueError):
    pass


class ForeignScopeError(ManualRequestError):
    """The scope names a service or environment this stack does not control (refused and audited)."""


class ManualRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["rollback", "recover"] = "rollback"
    level: Level | None = None
    scope: str = Field(..., min_length=1, max_length=MAX_SCOPE_KEY_LENGTH)
    reason: str = Field(..., min_length=1, max_length=1024)
    requested_by: str = Field(..., min_length=1, max_length=512)
    dry_run: bool = False
    immediate: bool = False
    # A manual level holds until an operator recovers it; with auto_restore the controller verifies
    # recovery and restores by itself, as for an alarm.
    auto_restore: bool = False

    @field_validator("reason", "requested_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def parse_request(event: Any) -> ManualRequest:
    if not isinstance(event, dict):
        raise ManualRequestError("the manual rollback event must be a JSON object")
    try:
        request = ManualRequest.model_validate(event)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "event"
            if field == "level":
                problems.append(f"level {event.get('level')!r}: choose one of {LEVELS}")
            elif err["type"] == "missing":
                problems.append(f"{field} is required")
            else:
                problems.append(f"{field}: {err['msg']}")
        raise ManualRequestError("; ".join(problems)) from exc
    if request.action == "rollback" and request.level is None:
        raise ManualRequestError(f"level is required for a rollback: choose one of {LEVELS}")
    try:
        Scope.parse(request.scope)
    except (ScopeError, ValidationError) as exc:
        raise ManualRequestError(str(exc)) from exc
    return request


def handle(rt: Runtime, request: ManualRequest, caller: Caller) -> dict[str, Any]:
    """`request` by `caller` (its `requested_by` is `caller.name`, set by the handler, never by the body)."""
    scope = Scope.parse(request.scope)
    owned = (rt.settings.service, rt.settings.environment)
    if (scope.service, scope.environment) != owned:
        reason = (
            f"scope {scope.key}: this stack controls service {owned[0]!r} in environment {owned[1]!r}, "
            f"not service {scope.service!r} in environment {scope.environment!r}; "
            "use the failsafe stack of that service and environment"
        )
        rt.record(
            AuditEvent(
                action="request:refused",
                actor=request.requested_by,
                reason=reason,
                scope_key=scope.key,
                details={"action": request.action, "level": request.level, "why": request.reason},
            )
        )
        raise ForeignScopeError(reason)
    authorize(rt, request, caller, scope)
    if request.action == "recover":
        return recover(rt, request, scope)
    assert request.level is not None
    final = rt.plan.final_stage_of(request.level)
    if request.dry_run:
        return dry_run(rt, request, scope, final)
    return start(rt, request, scope, final)


def authorize(rt: Runtime, request: ManualRequest, caller: Caller, scope: Scope) -> None:
    """The plan's matrix (domain/authorization.py) for this request; a refusal is audited and raised."""
    stage: Stage | None = None
    if request.level is not None:
        stage = rt.plan.final_stage_of(request.level)
    elif request.action == "recover":
        record = rt.state.get(scope.key)
        in_force = record.lifecycle.stage or record.lifecycle.applied_stage if record else None
        stage = rt.plan.stage(in_force) if in_force else None
    roles = (
        stage.authorized_roles
        if stage is not None
        else tuple(sorted({r for s in rt.plan.stages for r in s.authorized_roles}))
    )
    try:
        check_request(
            caller,
            action=request.action,
            level=request.level.value if request.level is not None else None,
            stage_name=stage.name if stage is not None else None,
            authorized_roles=roles,
            break_glass_levels=[lvl.value for lvl in rt.plan.break_glass_levels],
            dry_run=request.dry_run,
        )
    except AuthorizationError as exc:
        rt.record(
            AuditEvent(
                action="request:refused",
                actor=caller.name,
                reason=str(exc),
                scope_key=scope.key,
                details={
                    "action": request.action,
                    "level": request.level,
                    "why": request.reason,
                    "via": caller.via,
                    "roles_held": sorted(caller.roles),
                    "roles_needed": sorted(roles),
                },
            )
        )
        raise
    if caller.is_break_glass and not request.dry_run:
        rt.record(
            AuditEvent(
                action="request:break_glass",
                actor=caller.name,
                reason="direct lambda:InvokeFunction: the caller is recorded by CloudTrail, not here",
                scope_key=scope.key,
                details={"action": request.action, "level": request.level, "why": request.reason},
            )
        )


def _last_overlay(rt: Runtime, final: Stage) -> str | None:
    overlays = [s.name for s in rt.plan.path_to(final.name) if s.overlay is not None]
    return overlays[-1] if overlays else None


def dry_run(rt: Runtime, request: ManualRequest, scope: Scope, final: Stage) -> dict[str, Any]:
    version, document = current_document(rt)
    path = rt.plan.path_to(final.name)
    target = _last_overlay(rt, final)
    record = rt.state.get(scope.key)
    incident = record.incident_id if record and record.incident_id else "dry-run"
    after = document
    if target is not None:
        try:
            after = apply_to_document(
                document,
                rt.plan,
                target,
                scope,
                incident_id=incident,
                author=request.requested_by,
                reason=request.reason,
                at=rt.now(),
            )
        except PlanError as exc:
            raise ManualRequestError(str(exc)) from exc
    radius = blast_radius(document.effective_toggles(scope), after.effective_toggles(scope), scope)
    steps: list[dict[str, Any]] = []
    if target is not None:
        steps.append(
            {
                "step": "deploy_toggles",
                "stages": [s.name for s in path if s.overlay is not None],
                "strategy": "immediate",
                "from_config_version": version,
            }
        )
    steps += [
        {"step": s.action.value, "stage": s.name, "requires_approval": s.requires_approval}
        for s in path
        if s.action is not None
    ]
    approvals = [
        {"stage": s.name, "approver": "anyone but " + request.requested_by, "roles": list(s.approver_roles)}
        for s in path
        if s.requires_approval
    ]
    return {
        "dry_run": True,
        "changed": False,
        "level": final.level.value,
        "scope": scope.key,
        "stages": [s.name for s in path],
        "title": final.title,
        "target_seconds": final.target_seconds,
        "toggle_diff": [d.model_dump(mode="json") for d in diff_documents(document, after)],
        "deployment_plan": steps,
        "approvals_needed": approvals,
        "may_run": list(final.authorized_roles),
        "break_glass_may_run": final.level in rt.plan.break_glass_levels,
        "blast_radius": {
            **radius.model_dump(mode="json"),
            "environment_fallback_share": radius.environment_fallback_share,
            "environment_changed_share": radius.environment_changed_share,
        },
        "current_state": record.state if record else "NORMAL",
        "open_incident": record.incident_id if record else None,
        "requested_by": request.requested_by,
        "reason": request.reason,
    }


def start(rt: Runtime, request: ManualRequest, scope: Scope, final: Stage) -> dict[str, Any]:
    for _ in range(8):
        current = rt.state.get(scope.key)
        record = current or ScopeRecord.fresh(scope, rt.plan)
        opening = not record.has_open_incident
        incident_id = incident_id_for(scope, rt.now(), prefix="man") if opening else record.incident_id
        try:
            moved = apply_event(
                rt,
                record,
                EventKind.MANUAL_LEVEL,
                actor=request.requested_by,
                reason=request.reason,
                stage=final.name,
                incident_id=incident_id if opening else None,
            )
        except IllegalTransitionError as exc:
            raise ManualRequestError(str(exc)) from exc
        updates: dict[str, Any] = {
            "lifecycle": moved.record,
            "level_requested_by": request.requested_by,
            "hold_until_recovered": not request.auto_restore,
            "updated_at": rt.now(),
            "updated_by": request.requested_by,
        }
        # Joining while the execution waits on an approval for another stage: that approval is moot. Clear
        # it in this conditional write (one writer answers the token) and wake the execution below.
        superseded = None if opening else superseded_approval(record, moved.record.stage)
        if superseded is not None:
            updates["pending_approval"] = None
        if opening:
            updates.update(
                {
                    "alarms": record.alarms,
                    "execution_arn": None,
                    "trigger_severity": "manual",
                    "trigger_kind": None,
                    "trigger_alarm": None,
                    "source": "manual",
                    "requested_by": request.requested_by,
                    "reason": request.reason,
                    "pre_incident_config_version": None,
                    "deployed_config_version": None,
                    "deployment_number": None,
                    "deploy_attempts": 0,
                    "pending_approval": None,
                    "approval_declined": False,
                    "incident_started_at": rt.now(),
                }
            )
        try:
            stored = rt.state.save(current, record.model_copy(update=updates))
        except ConcurrentUpdateError:
            continue
        audit_transition(rt, record, stored, moved, {"level": final.level.value, "source": "manual"})
        assert incident_id is not None
        if not opening:
            woken = None
            if stored.execution_arn is None:
                # A claim without an execution (its StartExecution failed): start it now, do not "join".
                return _resume(rt, request, stored)
            if superseded is not None:
                woken = answer_superseded(
                    rt, stored, superseded, actor=request.requested_by, reason=request.reason
                )
            return {
                "dry_run": False,
                "incident_id": incident_id,
                "joined": True,
                "state": stored.state,
                "stage": stored.lifecycle.stage,
                "execution_arn": stored.execution_arn,
                "superseded_approval": woken,
            }
        rt.state.register_incident(incident_id, scope.key, rt.now())
        payload = IncidentInput(
            incident_id=incident_id,
            scope=scope.key,
            source="manual",
            entry_stage=final.name,
            requested_by=request.requested_by,
            reason=request.reason,
        )
        arn, _ = start_claimed(rt, payload)
        _remember_execution(rt, scope, incident_id, arn)
        return {
            "dry_run": False,
            "incident_id": incident_id,
            "joined": False,
            "state": stored.state,
            "stage": final.name,
            "execution_arn": arn,
            "approvals_needed": [s.name for s in rt.plan.path_to(final.name) if s.requires_approval],
            "target_seconds": final.target_seconds,
        }
    raise ConcurrentUpdateError(scope.key, None)


def _resume(rt: Runtime, request: ManualRequest, record: ScopeRecord) -> dict[str, Any]:
    """Start the execution of a claim that has none (StartExecution failed after the claim was saved),
    with the stage the record holds now. Audited as `execution:resumed`."""
    payload = resume_input(record)
    arn, started = start_claimed(rt, payload)
    _remember_execution(rt, record.scope, payload.incident_id, arn)
    rt.record(
        AuditEvent(
            action="execution:resumed",
            actor=request.requested_by,
            reason=f"incident {payload.incident_id} was claimed but no execution was recorded; "
            + ("started it" if started else "it already existed; recorded its ARN"),
            scope_key=record.scope_key,
            incident_id=payload.incident_id,
            after={"execution_arn": arn},
            details={"started_now": started, "stage": payload.entry_stage},
        )
    )
    return {
        "dry_run": False,
        "incident_id": payload.incident_id,
        "joined": False,
        "resumed": True,
        "state": record.state,
        "stage": record.lifecycle.stage,
        "execution_arn": arn,
        "target_seconds": rt.plan.stage(record.lifecycle.stage).target_seconds
        if record.lifecycle.stage
        else None,
    }


def _remember_execution(rt: Runtime, scope: Scope, incident_id: str, arn: str) -> None:
    rt.state.mutate(
        scope,
        lambda r: r.model_copy(update={"execution_arn": arn}) if r.incident_id == incident_id else None,
        plan=rt.plan,
    )


def recover(rt: Runtime, request: ManualRequest, scope: Scope) -> dict[str, Any]:
    current = rt.state.get(scope.key)
    if current is None or not current.has_open_incident:
        raise ManualRequestError(f"scope {scope.key} is already NORMAL; nothing to recover")
    incident_id = current.incident_id
    assert incident_id is not None
    if request.dry_run:
        _, document = current_document(rt)
        after = _without_incident(rt, request, document, scope, incident_id) or document
        return {
            "dry_run": True,
            "changed": False,
            "scope": scope.key,
            "incident_id": incident_id,
            "toggle_diff": [d.model_dump(mode="json") for d in diff_documents(document, after)],
            "deployment_plan": [
                {"step": "deploy_toggles", "strategy": "immediate" if request.immediate else "gradual"}
            ],
            "approvals_needed": [],
        }
    if request.immediate:
        # An immediate recover does not wait out a gradual restore (its duration plus bake): stop it.
        preempt_restore(
            rt,
            incident_id,
            scope,
            actor=request.requested_by,
            why=f"immediate manual recover of {scope.key} goes first",
        )
    try:
        _retrying_conflicts(rt, rt.deployer.settled_head)
    except DeploymentConflictError as exc:
        raise ManualRequestError(
            f"scope {scope.key}: {exc}; nothing was changed. Recover again once it has finished "
            "(`failsafe status` shows the deployed toggles)"
        ) from exc
    try:
        moved = apply_event(
            rt, current, EventKind.MANUAL_OVERRIDE, actor=request.requested_by, reason=request.reason
        )
    except IllegalTransitionError as exc:
        raise ManualRequestError(str(exc)) from exc
    stored = rt.state.save(
        current,
        current.model_copy(
            update={
                "lifecycle": moved.record,
                "pending_approval": None,
                "hold_until_recovered": False,
                "execution_arn": None,
                "updated_at": rt.now(),
                "updated_by": request.requested_by,
            }
        ),
    )
    audit_transition(rt, current, stored, moved, {"override": True})
    if current.execution_arn:
        rt.executions.stop(
            current.execution_arn, f"manual override by {request.requested_by}: {request.reason}"
        )
    # The stopped execution never reaches its close-out: do it here, in the same order. The monitors that
    # an immediate rollback deployment detached go back on before the restore, which they must guard.
    ctx = _incident_context(current, incident_id, scope)
    attach_monitors(
        rt,
        ctx,
        actor=request.requested_by,
        reason=f"manual recover of {scope.key}: guard the restore and the environment again",
    )
    try:
        deployment = _restore(rt, request, scope, incident_id)
    except Exception as exc:
        _restore_failed(rt, request, ctx, exc)
        raise
    notification = notify.notify(
        rt,
        "manual_override",
        ctx.model_copy(
            update={
                "requested_by": request.requested_by,
                "reason": request.reason,
                "plan": plan_output(rt, ctx, stored, "manual_override"),
            }
        ),
    )
    return {
        "dry_run": False,
        "incident_id": incident_id,
        "state": stored.state,
        "override": True,
        "requested_by": request.requested_by,
        "stopped_execution": current.execution_arn,
        "deployment": deployment,
        "notification": notification.model_dump(mode="json"),
        "report": _write_report(rt, request, ctx),
    }


def _incident_context(record: ScopeRecord, incident_id: str, scope: Scope) -> ExecutionContext:
    """The incident as its execution saw it, rebuilt from the scope's record (monitors, notify, report)."""
    trigger = (
        TriggerInfo(
            severity=record.trigger_severity, kind=record.trigger_kind, alarm_name=record.trigger_alarm
        )
        if record.trigger_severity and record.trigger_kind
        else None
    )
    return ExecutionContext(
        incident_id=incident_id,
        scope=scope.key,
        source=record.source or "manual",
        entry_stage=record.lifecycle.stage or record.lifecycle.applied_stage or "",
        requested_by=record.requested_by or record.updated_by or "unknown",
        reason=record.reason or "",
        trigger=trigger,
    )


def _restore(rt: Runtime, request: ManualRequest, scope: Scope, incident_id: str) -> dict[str, Any] | None:
    """Deploy the document without the incident's override (gradual unless `immediate`); None if none.

    Another deployment in progress, or one that starts meanwhile, means the document is read again: a
    retried start of a document computed before it would drop what it deployed."""
    return _retrying_conflicts(rt, lambda: _restore_once(rt, request, scope, incident_id))


def _retrying_conflicts(rt: Runtime, attempt: Callable[[], T]) -> T:
    """`attempt()`, again after 2 s and 4 s (clock time) while another deployment is in the way."""
    delay = 2.0
    for n in range(1, RESTORE_ATTEMPTS + 1):
        try:
            return attempt()
        except DeploymentConflictError:
            if n == RESTORE_ATTEMPTS:
                raise
            rt.clock.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def _without_incident(
    rt: Runtime, request: ManualRequest, document: ToggleDocument, scope: Scope, incident_id: str
) -> ToggleDocument | None:
    """`document` without the incident's overrides (what they replaced put back); None if it holds none."""
    if not any(o.scope == scope and o.incident_id == incident_id for o in document.overrides):
        return None
    return restore_document(
        document,
        scope,
        incident_id=incident_id,
        author=request.requested_by,
        reason=request.reason,
        at=rt.now(),
    )


def _restore_once(
    rt: Runtime, request: ManualRequest, scope: Scope, incident_id: str
) -> dict[str, Any] | None:
    head = rt.deployer.settled_head()
    latest = rt.deployer.latest_hosted_version()
    version, document = current_document(rt)
    new = _without_incident(rt, request, document, scope, incident_id)
    if new is None:
        return None
    description = f"failsafe {incident_id}: manual recover {scope.key} by {request.requested_by}"
    config_version = rt.deployer.create_version(
        new.model_dump(mode="json"), description, expect_latest=latest
    )
    strategy = (
        rt.deployer.target.immediate_strategy_id
        if request.immediate
        else rt.deployer.target.gradual_strategy_id
    )
    number = rt.deployer.start(config_version, strategy, description, expect_head=head)
    deployment = {"deployment_number": number, "config_version": config_version, "strategy": strategy}
    rt.record(
        AuditEvent(
            action="toggles:restore",
            actor=request.requested_by,
            reason=request.reason,
            scope_key=scope.key,
            incident_id=incident_id,
            before={"config_version": version},
            after={"config_version": config_version},
            details={"manual_override": True, **deployment},
        )
    )
    return deployment


def _restore_failed(rt: Runtime, request: ManualRequest, ctx: ExecutionContext, exc: Exception) -> None:
    """The scope is NORMAL but the rollback toggles could not be withdrawn: audit it and page again."""
    error = f"{type(exc).__name__}: {str(exc)[:300]}"
    rt.record(
        AuditEvent(
            action="toggles:restore_failed",
            actor=request.requested_by,
            reason=(
                f"manual recover of {ctx.scope}: the restore deployment did not start ({error}); the "
                "incident's toggles are still in force: deploy the pre-incident toggles by hand"
            ),
            scope_key=Scope.parse(ctx.scope).key,
            incident_id=ctx.incident_id,
            details={"manual_override": True, "error": error},
        )
    )
    notify.notify(
        rt, "restore_failed", ctx.model_copy(update={"requested_by": request.requested_by, "reason": error})
    )


def _write_report(rt: Runtime, request: ManualRequest, ctx: ExecutionContext) -> dict[str, Any] | None:
    """The incident report the state machine's IncidentReport task would have written (best effort, as
    there: a failure is audited and the recover still succeeds)."""
    try:
        return report.write(rt, ctx).model_dump(mode="json")
    except Exception as exc:
        rt.record(
            AuditEvent(
                action="report:failed",
                actor=request.requested_by,
                reason=f"incident report of {ctx.incident_id}: {type(exc).__name__}: {str(exc)[:300]}",
                scope_key=Scope.parse(ctx.scope).key,
                incident_id=ctx.incident_id,
            )
        )
        return None
