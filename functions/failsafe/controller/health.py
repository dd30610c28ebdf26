"""HealthCheck: judge a scope's recovery from its guardrail alarms, with hysteresis and deadlines.

- A stage not in force yet (an alarm escalated the incident, or a re-fire needs a redeploy) -> ESCALATE,
  so the state machine plans and applies it.
- Alarms firing: in RECOVERY_VERIFY that is a re-fire (the lifecycle goes back to the same or a later
  stage with a wider verify window); past the stage's deadline it escalates (DEADLINE_PASSED).
- All alarms OK with the stage in force -> RECOVERY_VERIFY; green for the whole verify window -> the
  lifecycle starts the restore and the state machine deploys it (RECOVERED).
- Green needs real traffic: alarms that treat missing data as not breaching are OK with no requests at all,
  so verification neither starts nor passes its window unless the scope served requests in the last
  `TRAFFIC_WINDOW_SECONDS` (WAITING / VERIFYING with a note saying so).
- A manual level or kill switch holds until an operator recovers it (`hold_until_recovered`, unless it
  was requested with `--auto-restore`): green does not start the automatic verify-and-restore (WAITING).
  Alarm-driven incidents recover automatically.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from failsafe.controller import rollback_metrics
from failsafe.controller.classify import UnknownAlarmError, classify
from failsafe.controller.context import ExecutionContext, HealthOutput
from failsafe.controller.planning import transition_incident
from failsafe.controller.ports import Ports
from failsafe.domain.catalog import Severity
from failsafe.domain.lifecycle import EventKind, LifecycleState, fired_event_kind
from failsafe.domain.records import ScopeRecord
from failsafe.domain.scope import Scope

HEALTH_ACTOR = "failsafe:health-check"


CONVERGENCE_WINDOW = timedelta(seconds=60)


def check(rt: Ports, ctx: ExecutionContext) -> HealthOutput:
    """The health of the incident's scope, then the controller's metrics on it (age, convergence)."""
    output = _check(rt, ctx)
    try:
        return _observe(rt, ctx, output)
    except Exception as exc:  # metrics never fail a health check
        logging.getLogger(__name__).warning("health metrics of %s: %s", ctx.incident_id, exc)
        return output


def _observe(rt: Ports, ctx: ExecutionContext, output: HealthOutput) -> HealthOutput:
    scope = Scope.parse(ctx.scope)
    record = rt.state.get(scope.key)
    if record is None or record.incident_id != ctx.incident_id:
        return output
    now = rt.now()
    started = rollback_metrics.incident_started_at(rt.state.find_incident, ctx.incident_id)
    rollback_metrics.incident_open(scope=scope, at=now, incident_started_at=started)
    life = record.lifecycle
    deployed = record.deployed_config_version
    if life.stage is None or life.stage != life.applied_stage or life.restoring or deployed is None:
        return output
    oldest = rt.efficacy.min_config_version(scope, now - CONVERGENCE_WINDOW, now)
    if oldest is None:  # no requests in the window: nothing to say about the clients
        return output
    converged = oldest >= deployed
    previous = ctx.health.converged_version if ctx.health is not None else None
    rollback_metrics.convergence(
        scope=scope,
        at=now,
        level=rt.plan.stage(life.stage).level.value,
        converged=converged,
        incident_started_at=started,
        first=converged and previous != deployed,
    )
    return output.model_copy(update={"converged_version": deployed if converged else previous})


def _check(rt: Ports, ctx: ExecutionContext) -> HealthOutput:
    scope = Scope.parse(ctx.scope)
    record = rt.state.get(scope.key)
    if record is None or record.incident_id != ctx.incident_id:
        return HealthOutput(
            status="ENDED", state=record.state if record else "NORMAL", note="incident closed"
        )
    life = record.lifecycle
    if life.stage != life.applied_stage:
        return HealthOutput(
            status="ESCALATE", state=life.state.value, note=f"{life.stage} is not in force yet"
        )
    alarms = rt.alarms.for_scope(scope)
    firing = [a.name for a in alarms if a.firing]
    now = rt.now()
    if firing:
        if life.state is LifecycleState.RECOVERY_VERIFY:
            rollback_metrics.health_degraded(scope=scope, at=now)
            rollback_metrics.recovery_verify_left(scope=scope, at=now, entered_at=life.since)
            severity, entry = _most_severe(rt, firing, scope)
            moved = transition_incident(
                rt,
                scope,
                ctx.incident_id,
                fired_event_kind(severity),
                actor=HEALTH_ACTOR,
                reason=f"re-fired during verification: {', '.join(firing)}",
                stage=entry,
            )
            return _after(moved, ctx, firing, "re-fire")
        if life.deadline_at is not None and now >= life.deadline_at:
            rollback_metrics.health_degraded(scope=scope, at=now)
            moved = transition_incident(
                rt,
                scope,
                ctx.incident_id,
                EventKind.DEADLINE_PASSED,
                actor=HEALTH_ACTOR,
                reason=f"not recovered by the deadline of {life.stage}: {', '.join(firing)} still firing",
            )
            return _after(moved, ctx, firing, "deadline passed")
        return HealthOutput(status="FIRING", state=life.state.value, firing=firing)
    if life.state in (LifecycleState.DEGRADED, LifecycleState.ROLLED_BACK):
        if record.hold_until_recovered:
            who = record.level_requested_by or record.requested_by or "an operator"
            return HealthOutput(
                status="WAITING",
                state=life.state.value,
                note=f"{life.stage} was requested by {who} and holds until an operator recovers it "
                f"(failsafe recover --scope {scope.key}); no automatic restore",
            )
        if not _has_traffic(rt, scope):
            return HealthOutput(status="WAITING", state=life.state.value, note=_no_traffic(rt, scope))
        moved = transition_incident(
            rt,
            scope,
            ctx.incident_id,
            EventKind.ALL_GREEN,
            actor=HEALTH_ACTOR,
            reason=f"all {len(alarms)} guardrail alarms of {scope.key} are OK",
        )
        state = moved.state if moved else "NORMAL"
        return HealthOutput(status="VERIFYING", state=state, transitioned=True, note="verification started")
    if life.state is LifecycleState.RECOVERY_VERIFY:
        if life.restoring:
            return HealthOutput(status="RECOVERED", state=life.state.value, note="restore under way")
        if life.verify_until is not None and now >= life.verify_until:
            if not _has_traffic(rt, scope):
                return HealthOutput(status="VERIFYING", state=life.state.value, note=_no_traffic(rt, scope))
            moved = transition_incident(
                rt,
                scope,
                ctx.incident_id,
                EventKind.VERIFY_WINDOW_PASSED,
                actor=HEALTH_ACTOR,
                reason=f"green for {life.verify_window_seconds}s",
            )
            if moved is not None and moved.lifecycle.restoring:
                rollback_metrics.recovery_verify_left(scope=scope, at=now, entered_at=life.since)
                return HealthOutput(status="RECOVERED", state=moved.state, transitioned=True)
        return HealthOutput(status="VERIFYING", state=life.state.value)
    return HealthOutput(status="WAITING", state=life.state.value)


def _has_traffic(rt: Ports, scope: Scope) -> bool:
    """The scope served requests in the traffic window (missing data is not green)."""
    now = rt.now()
    since = now - timedelta(seconds=rt.settings.traffic_window_seconds)
    return rt.efficacy.requests(scope, since, now) > 0


def _no_traffic(rt: Ports, scope: Scope) -> str:
    return (
        f"no requests in {scope.key} in the last {rt.settings.traffic_window_seconds}s: alarms without data "
        "are not evidence of recovery; waiting for traffic"
    )


def _most_severe(rt: Ports, firing: list[str], scope: Scope) -> tuple[Severity, str]:
    best: tuple[Severity, str] | None = None
    dims = {"Service": scope.service, "Environment": scope.environment}
    for name in firing:
        try:
            found = classify(name, dims, prefix=rt.alarm_prefix, catalog=rt.catalog, plan=rt.plan)
        except UnknownAlarmError:
            continue
        candidate = (found.trigger.severity, found.entry_stage)
        if best is None or rt.plan.index(candidate[1]) > rt.plan.index(best[1]):
            best = candidate
    return best or (Severity.P2, rt.plan.entry_stage(Severity.P2).name)


def _after(moved: ScopeRecord | None, ctx: ExecutionContext, firing: list[str], note: str) -> HealthOutput:
    if moved is None or moved.incident_id != ctx.incident_id:
        return HealthOutput(status="ENDED", state="NORMAL", firing=firing, note="incident closed")
    life = moved.lifecycle
    escalate = life.stage != life.applied_stage
    return HealthOutput(
        status="ESCALATE" if escalate else "FIRING",
        state=life.state.value,
        transitioned=True,
        firing=firing,
        note=note,
    )
