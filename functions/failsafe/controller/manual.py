"""ManualRollback: the operator's levels 1, 2, 3 and emergency, the dry run, and the manual return to NORMAL.

- A reason and a requester are always required (validated before anything is read or written).
- `dry_run` reads the current toggle document and returns the plan without changing anything: the toggle
  diff per scope, the deployment plan, the approvals needed, the target time and the blast radius.
- A real run on a NORMAL scope claims it (MANUAL_LEVEL, conditional write) and starts one execution named
  with the incident id; on a scope with an open incident it moves that incident to the chosen stage and the
  running execution applies it.
- Level 3 ends with the release revert, which waits for an approval by someone other than the requester.
  The kill switch (emergency) needs no approval but a reason.
- `recover` is the audited manual override back to NORMAL: it stops the execution and deploys the
  pre-incident toggles of the scope (gradual strategy unless `immediate`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from failsafe.aws.audit_log import AuditEvent
from failsafe.aws.state_store import ConcurrentUpdateError, ScopeRecord
from failsafe.controller.apply import current_document
from failsafe.controller.common import apply_event, audit_transition, incident_id_for
from failsafe.controller.context import IncidentInput
from failsafe.controller.runtime import Runtime
from failsafe.domain.diff import blast_radius, diff_documents
from failsafe.domain.lifecycle import EventKind, IllegalTransitionError
from failsafe.domain.plans import Level, PlanError, Stage, apply_to_document, restore_document
from failsafe.domain.scope import Scope, ScopeError

LEVELS = ", ".join(level.value for level in Level)


class ManualRequestError(ValueError):
    pass


class ManualRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["rollback", "recover"] = "rollback"
    level: Level | None = None
    scope: str = Field(..., min_length=1)
    reason: str = Field(..., min_length=1, max_length=1024)
    requested_by: str = Field(..., min_length=1, max_length=128)
    dry_run: bool = False
    immediate: bool = False

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


def handle(rt: Runtime, request: ManualRequest) -> dict[str, Any]:
    scope = Scope.parse(request.scope)
    if scope.environment != rt.settings.environment:
        raise ManualRequestError(
            f"scope {scope.key}: this stack controls environment {rt.settings.environment!r}, "
            f"not {scope.environment!r}"
        )
    if request.action == "recover":
        return recover(rt, request, scope)
    assert request.level is not None
    final = rt.plan.final_stage_of(request.level)
    if request.dry_run:
        return dry_run(rt, request, scope, final)
    return start(rt, request, scope, final)


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
        {"stage": s.name, "approver": "anyone but " + request.requested_by, "roles": list(s.authorized_roles)}
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
            "updated_at": rt.now(),
            "updated_by": request.requested_by,
        }
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
            return {
                "dry_run": False,
                "incident_id": incident_id,
                "joined": True,
                "state": stored.state,
                "stage": stored.lifecycle.stage,
                "execution_arn": stored.execution_arn,
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
        arn, _ = rt.executions.start(incident_id, payload.model_dump(mode="json"))
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
        version, document = current_document(rt)
        after = document
        if any(o.scope == scope and o.incident_id == incident_id for o in document.overrides):
            after = restore_document(
                document,
                scope,
                incident_id=incident_id,
                author=request.requested_by,
                reason=request.reason,
                at=rt.now(),
            )
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
    version, document = current_document(rt)
    deployment: dict[str, Any] | None = None
    if any(o.scope == scope and o.incident_id == incident_id for o in document.overrides):
        new = restore_document(
            document,
            scope,
            incident_id=incident_id,
            author=request.requested_by,
            reason=request.reason,
            at=rt.now(),
        )
        description = f"failsafe {incident_id}: manual recover {scope.key} by {request.requested_by}"
        config_version = rt.deployer.create_version(new.model_dump(mode="json"), description)
        strategy = (
            rt.deployer.target.immediate_strategy_id
            if request.immediate
            else rt.deployer.target.gradual_strategy_id
        )
        number = rt.deployer.start(config_version, strategy, description, attempts=3)
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
    return {
        "dry_run": False,
        "incident_id": incident_id,
        "state": stored.state,
        "override": True,
        "stopped_execution": current.execution_arn,
        "deployment": deployment,
    }
