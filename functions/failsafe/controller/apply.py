"""ApplyToggles: deploy a stage's toggles (or run its action), check deployments, restore.

- `apply`: the current document (the version last deployed to COMPLETE, or the normal baseline when
  nothing was ever deployed) plus the plan's stages up to the target overlay stage, limited to the
  incident's scope (`failsafe.domain.plan_documents.apply_to_document`) -> a hosted version -> a deployment
  with the immediate strategy. The first apply of an incident records the pre-incident config version. A
  ConflictException (another deployment in progress) raises `DeploymentConflictError`, which the state
  machine retries with backoff; so does a deployment (another scope's) that started after the current
  document was read, since starting the computed document would drop what that deployment carries. A
  rollback does not wait behind another incident's gradual restore: it stops it (AppConfig rolls it back,
  so that scope stays rolled back and restores again later). A stage whose action is the release revert
  points the recommender's alias back at the last-known-good release.
- `check`: the deployment's state. COMPLETE records the deployed version; ROLLED_BACK says whether to retry
  (with a backoff that doubles) or give up; a deployment still running past its deadline raises.
- Monitors: the environment's monitors are the guardrail alarms, and AppConfig rolls back any deployment
  while one of them is in ALARM. During an incident they are in ALARM by definition, so a rollback
  deployment would always be rolled back. When `APPCONFIG_MONITORS` names the monitors, the controller
  detaches them for the immediate rollback deployment (0 minutes, no bake) and attaches them again as soon
  as it is COMPLETE or failed; a restore always runs with them attached (it is what they guard). AppConfig
  allows one deployment per environment at a time, so the detach window cannot overlap a restore.
- `restore`: drop the incident's override (`restore_document`) and deploy with the gradual strategy, which
  AppConfig monitors with the guardrail alarms.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from failsafe.aws.appconfig_deployer import DeploymentStatus, DeploymentTimeoutError
from failsafe.controller import rollback_metrics
from failsafe.controller.common import SYSTEM_ACTOR
from failsafe.controller.context import DeploymentOutput, ExecutionContext
from failsafe.controller.ports import Ports
from failsafe.domain.audit import AuditEvent
from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.diff import diff_documents
from failsafe.domain.plan_documents import apply_to_document, restore_document
from failsafe.domain.records import ScopeRecord
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import Metadata, ToggleDocument

APPLY_ACTOR = "failsafe:controller"


class IncidentClosedError(RuntimeError):
    """The scope's record no longer belongs to this incident (a manual override closed it)."""


class RevertUnavailableError(RuntimeError):
    pass


def bootstrap_document(rt: Ports) -> ToggleDocument:
    return ToggleDocument(
        metadata=Metadata(
            version=1,
            environment=rt.settings.environment,
            author=SYSTEM_ACTOR,
            reason="normal baseline (nothing deployed yet)",
            updated_at=rt.now(),
        ),
        toggles=BASELINES[BaselineName.NORMAL],
    )


def current_document(rt: Ports) -> tuple[int | None, ToggleDocument]:
    version = rt.deployer.latest_complete_version()
    if version is None:
        return None, bootstrap_document(rt)
    return version, ToggleDocument.model_validate(rt.deployer.read_version(version))


def _record(rt: Ports, ctx: ExecutionContext) -> ScopeRecord:
    record = rt.state.get(Scope.parse(ctx.scope).key)
    if record is None or record.incident_id != ctx.incident_id:
        raise IncidentClosedError(f"scope {ctx.scope} is no longer held by incident {ctx.incident_id}")
    return record


def run(rt: Ports, action: str, ctx: ExecutionContext) -> DeploymentOutput:
    if action == "apply":
        return apply(rt, ctx)
    if action == "check":
        return check(rt, ctx)
    if action == "restore":
        return restore(rt, ctx)
    raise ValueError(f"ApplyToggles: unknown action {action!r}; known: apply, check, restore")


def attach_monitors(rt: Ports, ctx: ExecutionContext, *, actor: str, reason: str) -> None:
    """Re-attach the guardrail monitors outside the state machine (the manual recover's close-out: the
    stopped execution never reaches the check that re-attaches them). Audited; no-op if already attached."""
    _set_monitors(rt, ctx, attached=True, actor=actor, reason=reason)


def _set_monitors(
    rt: Ports,
    ctx: ExecutionContext,
    *,
    attached: bool,
    actor: str = APPLY_ACTOR,
    reason: str | None = None,
) -> None:
    """Detach or re-attach the environment's guardrail monitors (no-op without APPCONFIG_MONITORS)."""
    configured = rt.appconfig_monitors
    if not configured:
        return
    wanted: list[dict[str, str]] = json.loads(configured) if attached else []
    if rt.deployer.monitors() == wanted:
        return
    rt.deployer.set_monitors(wanted)
    rt.record(
        AuditEvent(
            action="appconfig:monitors_attached" if attached else "appconfig:monitors_detached",
            actor=actor,
            reason=reason
            or ("immediate rollback deployment" if not attached else "guard the environment again"),
            scope_key=Scope.parse(ctx.scope).key,
            incident_id=ctx.incident_id,
            after={"monitors": [m["AlarmArn"] for m in wanted]},
        )
    )


def restore_description(incident_id: str, scope: Scope) -> str:
    return f"failsafe {incident_id}: restore {scope.key}"


_RESTORE_DESCRIPTION = re.compile(r"failsafe \S+: restore \S+")


def preempt_restore(
    rt: Ports, incident_id: str, scope: Scope, *, actor: str = APPLY_ACTOR, why: str | None = None
) -> DeploymentStatus | None:
    """A rollback does not wait behind a gradual restore (its duration plus bake): the restore is stopped
    (StopDeployment), AppConfig rolls it back so its scope stays rolled back, and its incident restores again
    later. Returns the stopped deployment's status, None when no restore was running. Audited."""
    stopped = rt.deployer.stop_running(lambda description: bool(_RESTORE_DESCRIPTION.fullmatch(description)))
    if stopped is None:
        return None
    rt.record(
        AuditEvent(
            action="toggles:restore_preempted",
            actor=actor,
            reason=(why or f"rollback of {scope.key} goes first")
            + f"; the restore of deployment {stopped.deployment_number} is {stopped.state} and its incident "
            "restores after its next verify window",
            scope_key=scope.key,
            incident_id=incident_id,
            details={"deployment_number": stopped.deployment_number, "state": stopped.state},
        )
    )
    return stopped


def _restore_superseded(record: ScopeRecord | None, ctx: ExecutionContext) -> bool:
    """The incident is still open but no longer restoring: a kill switch, a manual level or a P1 moved it to
    a rollback stage while its gradual restore was deploying."""
    return record is not None and record.incident_id == ctx.incident_id and not record.lifecycle.restoring


def _diff(before: ToggleDocument, after: ToggleDocument) -> list[dict[str, Any]]:
    return [d.model_dump(mode="json") for d in diff_documents(before, after)]


def apply(rt: Ports, ctx: ExecutionContext) -> DeploymentOutput:
    plan = ctx.plan
    if plan is None:
        raise ValueError("ApplyToggles apply: $.plan is missing")
    record = _record(rt, ctx)
    scope = record.scope
    if not plan.overlay_stages:
        return _revert(rt, ctx, record)
    preempt_restore(rt, ctx.incident_id, scope)
    head = rt.deployer.settled_head()
    latest = rt.deployer.latest_hosted_version()
    version, document = current_document(rt)
    target = plan.overlay_stages[-1]
    reason = record.reason or ctx.reason or f"incident {ctx.incident_id}"
    new = apply_to_document(
        document,
        rt.plan,
        target,
        scope,
        incident_id=ctx.incident_id,
        author=APPLY_ACTOR,
        reason=reason,
        at=rt.now(),
    )
    description = f"failsafe {ctx.incident_id}: {scope.key} -> {target}"
    config_version = rt.deployer.create_version(
        new.model_dump(mode="json"), description, expect_latest=latest
    )
    _set_monitors(rt, ctx, attached=False)
    try:
        number = rt.deployer.start(
            config_version, rt.deployer.target.immediate_strategy_id, description, expect_head=head
        )
    except Exception:
        _set_monitors(rt, ctx, attached=True)
        raise
    attempts = record.deploy_attempts + 1
    rt.state.mutate(
        scope,
        lambda r: (
            r.model_copy(
                update={
                    "pre_incident_config_version": r.pre_incident_config_version
                    if r.pre_incident_config_version is not None
                    else version,
                    "deployment_number": number,
                    "deployment_kind": "apply",
                    "deployment_deadline": rt.now() + timedelta(seconds=rt.plan.stage(target).target_seconds),
                    "deploy_attempts": attempts,
                    "updated_at": rt.now(),
                }
            )
            if r.incident_id == ctx.incident_id
            else None
        ),
    )
    rt.record(
        AuditEvent(
            action="toggles:deploy",
            actor=APPLY_ACTOR,
            reason=reason,
            scope_key=scope.key,
            incident_id=ctx.incident_id,
            before={"config_version": version, "document_version": document.metadata.version},
            after={
                "config_version": config_version,
                "document_version": new.metadata.version,
                "stage": target,
            },
            details={"deployment_number": number, "strategy": "immediate", "diff": _diff(document, new)},
        )
    )
    return DeploymentOutput(
        kind="apply",
        deployment_number=number,
        config_version=config_version,
        state="DEPLOYING",
        attempt=attempts,
    )


def _revert(rt: Ports, ctx: ExecutionContext, record: ScopeRecord) -> DeploymentOutput:
    releases = rt.releases
    if releases is None:
        raise RevertUnavailableError("no recommender release is configured (RECOMMENDER_FUNCTION_NAME)")
    current = releases.current()
    # The release in force when the scope was last verified NORMAL; without one, the previous version.
    good = record.last_known_good_release or releases.previous(current)
    if not good or good == current:
        detail = f"{releases.function_name}:{releases.alias} is at {current}; no earlier release to revert to"
        rt.record(
            AuditEvent(
                action="release:revert_skipped",
                actor=record.lifecycle.approved_by or APPLY_ACTOR,
                reason=detail,
                scope_key=record.scope_key,
                incident_id=ctx.incident_id,
                before={"release": current},
            )
        )
        return DeploymentOutput(kind="revert", state="COMPLETE", detail=detail)
    before = releases.revert_to(good)
    rt.state.mutate(
        record.scope,
        lambda r: (
            r.model_copy(update={"release_before_revert": before, "deployment_kind": "revert"})
            if r.incident_id == ctx.incident_id
            else None
        ),
    )
    rt.record(
        AuditEvent(
            action="release:revert",
            actor=record.lifecycle.approved_by or APPLY_ACTOR,
            reason=record.reason or ctx.reason,
            scope_key=record.scope_key,
            incident_id=ctx.incident_id,
            before={"release": before},
            after={"release": good},
        )
    )
    return DeploymentOutput(
        kind="revert",
        state="COMPLETE",
        detail=f"{releases.function_name}:{releases.alias} {before} -> {good}",
    )


def check(rt: Ports, ctx: ExecutionContext) -> DeploymentOutput:
    previous = ctx.deployment
    if previous is None:
        raise ValueError("ApplyToggles check: $.deployment is missing")
    if previous.deployment_number is None:
        return previous
    status = rt.deployer.status(previous.deployment_number)
    record = rt.state.get(Scope.parse(ctx.scope).key)
    running = not (status.complete or status.rolled_back)
    if previous.kind == "restore" and running and _restore_superseded(record, ctx):
        # The rollback goes first, at once: stop this restore instead of waiting out its duration and bake.
        assert record is not None
        stopped = preempt_restore(
            rt,
            ctx.incident_id,
            record.scope,
            why=f"{record.scope_key} moved to {record.lifecycle.stage} during its restore",
        )
        return previous.model_copy(
            update={
                "state": stopped.state if stopped is not None else status.state,
                "rolled_back": True,
                "retry": False,
                "detail": f"restore stopped: {record.scope_key} moved to {record.lifecycle.stage} "
                f"({record.state}) while it was deploying",
            }
        )
    if (status.complete or status.rolled_back) and previous.kind == "apply":
        _set_monitors(rt, ctx, attached=True)
    if status.complete:
        rt.state.mutate(
            Scope.parse(ctx.scope),
            lambda r: (
                r.model_copy(
                    update={"deployed_config_version": status.config_version, "updated_at": rt.now()}
                )
                if r.incident_id == ctx.incident_id
                else None
            ),
        )
        if previous.kind == "apply":
            _in_force_metrics(rt, ctx, record)
        return previous.model_copy(update={"state": "COMPLETE", "config_version": status.config_version})
    if status.rolled_back:
        if previous.kind == "apply":
            _failed_metric(rt, ctx, record)
        attempt = previous.attempt
        retry = previous.kind == "apply" and attempt <= rt.settings.deployment_retries
        rt.record(
            AuditEvent(
                action="toggles:rolled_back",
                actor="appconfig",
                reason=status.last_event or f"deployment {status.deployment_number} {status.state}",
                scope_key=Scope.parse(ctx.scope).key,
                incident_id=ctx.incident_id,
                details={"deployment_number": status.deployment_number, "retry": retry, "attempt": attempt},
            )
        )
        return previous.model_copy(
            update={
                "state": status.state,
                "rolled_back": True,
                "retry": retry,
                "retry_in_seconds": min(300, 5 * 2**attempt),
                "detail": status.last_event,
            }
        )
    deadline = record.deployment_deadline if record is not None else None
    if previous.kind == "apply" and deadline is not None and rt.now() > deadline:
        _failed_metric(rt, ctx, record)
        raise DeploymentTimeoutError(
            f"deployment {status.deployment_number} still {status.state} "
            f"at {status.percentage_complete:.0f}% "
            f"after its deadline {deadline.isoformat()}"
        )
    return previous.model_copy(update={"state": status.state})


def _in_force_metrics(rt: Ports, ctx: ExecutionContext, record: ScopeRecord | None) -> None:
    """The stage's toggles are in force: rollback duration against its target, time to mitigate."""
    if record is None or record.incident_id != ctx.incident_id or record.lifecycle.stage is None:
        return
    stage = rt.plan.stage(record.lifecycle.stage)
    deadline = record.deployment_deadline
    rollback_metrics.toggles_in_force(
        scope=record.scope,
        at=rt.now(),
        level=stage.level.value,
        target_seconds=stage.target_seconds,
        stage_entered_at=deadline - timedelta(seconds=stage.target_seconds) if deadline else None,
        incident_started_at=rollback_metrics.incident_started_at(rt.state.find_incident, ctx.incident_id),
        first_alarm_at=rollback_metrics.first_alarm_at(record) if ctx.source == "alarm" else None,
        first_stage=record.lifecycle.applied_stage is None and record.lifecycle.refires == 0,
    )


def _failed_metric(rt: Ports, ctx: ExecutionContext, record: ScopeRecord | None) -> None:
    if record is None or record.lifecycle.stage is None:
        return
    level = rt.plan.stage(record.lifecycle.stage).level.value
    rollback_metrics.rollback_failed(scope=record.scope, at=rt.now(), level=level)


def restore(rt: Ports, ctx: ExecutionContext) -> DeploymentOutput:
    record = _record(rt, ctx)
    scope = record.scope
    head = rt.deployer.settled_head()
    latest = rt.deployer.latest_hosted_version()
    version, document = current_document(rt)
    reason = f"incident {ctx.incident_id}: green for the verify window; restoring the pre-incident toggles"
    if not any(o.scope == scope and o.incident_id == ctx.incident_id for o in document.overrides):
        # Nothing of this incident is deployed (e.g. only the release was reverted): nothing to restore.
        return DeploymentOutput(
            kind="restore", config_version=version, state="COMPLETE", detail="nothing to restore"
        )
    new = restore_document(
        document, scope, incident_id=ctx.incident_id, author=APPLY_ACTOR, reason=reason, at=rt.now()
    )
    description = restore_description(ctx.incident_id, scope)
    config_version = rt.deployer.create_version(
        new.model_dump(mode="json"), description, expect_latest=latest
    )
    _set_monitors(rt, ctx, attached=True)
    number = rt.deployer.start(
        config_version, rt.deployer.target.gradual_strategy_id, description, expect_head=head
    )
    rt.state.mutate(
        scope,
        lambda r: (
            r.model_copy(update={"deployment_number": number, "deployment_kind": "restore"})
            if r.incident_id == ctx.incident_id
            else None
        ),
    )
    rt.record(
        AuditEvent(
            action="toggles:restore",
            actor=APPLY_ACTOR,
            reason=reason,
            scope_key=scope.key,
            incident_id=ctx.incident_id,
            before={"config_version": version},
            after={
                "config_version": config_version,
                "pre_incident_config_version": record.pre_incident_config_version,
            },
            details={"deployment_number": number, "strategy": "gradual", "diff": _diff(document, new)},
        )
    )
    return DeploymentOutput(
        kind="restore", deployment_number=number, config_version=config_version, state="DEPLOYING"
    )
