"""The drill scorecard: fault -> alarm -> incident -> toggles deployed -> clients converged -> recovered ->
NORMAL, each measured between two events of the merged timeline and compared with its target.

Every duration is the difference between two recorded instants; a milestone that never happened is
reported as missing (and fails its target), never estimated. Targets are data (`DrillTargets`) with the
seeds' defaults:

- in force: from the fault until every client serves the mitigating toggles, within the catalog's budget
  for the severity of the alarm that fired (seed 000: "triggers rollback within 10 minutes" for P2, half of
  it for P1: `GuardrailCatalog.mitigation_budget_seconds`). Security, audit and cost rules keep their own
  stated durations: their budget is the rule's worst alarm time plus the catalog's response allowance;
- trigger: the alarm no later than the rule can fire for a sustained fault: the period the fault starts in
  is only partly breaching, then M of the N periods must breach, then CloudWatch evaluates once per period
  (`GuardrailRule.worst_alarm_seconds`);
- mitigation: from the incident start until every client serves the level's toggles, within the target of
  the stage in force (seed 004: L1 < 2 min, L2 < 5 min, L3 < 10 min; the plan's `target_seconds`);
- recovery: metrics green again (the controller enters RECOVERY_VERIFY) within 15 minutes of mitigation;
- fill rate: 100 % of requests fully filled after mitigation (seed 000: Top-K fill rate = 100 % after
  rollback);
- request-volume continuity: answered requests per minute vary by less than 20 % during the incident.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from failsafe.domain.catalog import DEFAULT_CATALOG, OWN_DURATION_KINDS, GuardrailCatalog, GuardrailRule
from failsafe.domain.plans import DEFAULT_PLAN, Plan
from failsafe.reporting.timeline import Timeline, TimelineEvent


class DrillTargets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    trigger_seconds: int = Field(600, gt=0, description="Seed 000: a trigger fires within 10 minutes.")
    recovery_seconds: int = Field(900, gt=0, description="Seed 000: metrics green within 15 minutes.")
    min_fill_rate_after_mitigation: float = Field(100.0, ge=0, le=100)
    max_volume_variation: float = Field(0.20, gt=0, description="Seed 000: < 20 % variation.")


class Milestones(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fault: datetime | None = None
    alarm: datetime | None = None
    incident: datetime | None = None
    deployed: datetime | None = None
    converged: datetime | None = None
    recovered: datetime | None = None
    mitigated: datetime | None = Field(
        None, description="Clients converged on the last stage deployed before the restore (the cure)."
    )
    restore_started: datetime | None = Field(
        None, description="The first restore deployment: the mitigation is in force until then."
    )
    normal: datetime | None = None
    alarm_name: str | None = None
    incident_id: str | None = None
    stage: str | None = Field(None, description="The first stage applied: the one that mitigated.")
    final_stage: str | None = Field(None, description="The last stage applied (after any escalation).")
    deployed_version: int | None = Field(None, description="AppConfig's version number of the rollback.")
    deployed_document_version: int | None = Field(
        None, description="Its toggles document's metadata.version."
    )
    refires: int = 0
    restores: int = 0


class Measure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    frm: str
    to: str
    seconds: float | None
    target_seconds: float | None
    met: bool | None = Field(..., description="None: informational, no target.")
    note: str = ""


class Ratio(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: float | None
    target: str
    met: bool
    note: str = ""


class Scorecard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    milestones: Milestones
    measures: tuple[Measure, ...]
    ratios: tuple[Ratio, ...]
    checks: tuple[Ratio, ...] = ()

    @property
    def passed(self) -> bool:
        return all(m.met is not False for m in self.measures) and all(
            r.met for r in (*self.ratios, *self.checks)
        )

    def failures(self) -> list[str]:
        failed = [f"{m.name}: {m.note or 'missed'}" for m in self.measures if m.met is False]
        return failed + [f"{r.name}: {r.note or 'missed'}" for r in (*self.ratios, *self.checks) if not r.met]


def _is_transition_to(state: str) -> Callable[[TimelineEvent], bool]:
    def match(event: TimelineEvent) -> bool:
        return event.kind == "lifecycle:transition" and event.data.get("state") == state

    return match


def milestones(timeline: Timeline, alarm_prefix: str) -> Milestones:
    """Pick each milestone's first occurrence from the merged timeline (`None` when it never happened)."""
    fault = timeline.first("drill:fault")
    operator = timeline.first("drill:manual")
    start = fault or operator
    alarm = timeline.first(
        lambda e: e.kind == "alarm:ALARM" and str(e.data.get("alarm", "")).startswith(alarm_prefix),
        after=start.at if start else None,
    )
    # Step Functions' history has millisecond timestamps: an execution the operator's action started in the
    # same simulated instant reads up to a millisecond earlier than the drill's own (microsecond) note.
    start_ms = start.at.replace(microsecond=start.at.microsecond // 1000 * 1000) if start else None
    incident = timeline.first("execution:started", after=start_ms)
    incident_id = incident.data.get("incident_id") if incident else None
    # After the fault or the operator's action: an operator's level deploys before its execution starts
    # (mitigation first), in the same invocation.
    since_start = start or incident
    deployed = timeline.first(
        lambda e: e.kind == "deployment:complete" and "restore" not in str(e.why or "").lower(),
        after=since_start.at if since_start else None,
    )
    version = deployed.data.get("config_version") if deployed else None
    document = deployed.data.get("document_version") if deployed else None
    converged = _clients_on(timeline, deployed)
    recovered = timeline.first(_is_transition_to("RECOVERY_VERIFY"), after=incident.at if incident else None)
    since = recovered or incident
    normal = timeline.first(_is_transition_to("NORMAL"), after=since.at if since else None)
    applied = [
        e
        for e in timeline.sorted()
        if e.kind == "lifecycle:transition" and e.data.get("state") == "ROLLED_BACK"
    ]
    refires = [
        e
        for e in timeline.sorted()
        if e.kind == "lifecycle:transition"
        and e.data.get("previous") == "RECOVERY_VERIFY"
        and e.data.get("state") != "NORMAL"
    ]
    restores = [
        e for e in timeline.sorted() if e.kind == "deployment:started" and "restore" in str(e.why).lower()
    ]
    # The stage that mitigated is the last one deployed before the restore (a P2's stage 1 may be followed
    # by a P1's stage 2 within a minute); the clients' convergence on it starts "after mitigation".
    rollbacks = [
        e
        for e in timeline.sorted()
        if e.kind == "deployment:complete"
        and "restore" not in str(e.why or "").lower()
        and (since_start is None or e.at >= since_start.at)
        and (not restores or e.at < restores[0].at)
    ]
    mitigated = _clients_on(timeline, rollbacks[-1]) if rollbacks else None
    return Milestones(
        fault=fault.at if fault else (operator.at if operator else None),
        alarm=alarm.at if alarm else None,
        incident=incident.at if incident else None,
        deployed=deployed.at if deployed else None,
        converged=converged.at if converged else None,
        recovered=recovered.at if recovered else None,
        mitigated=mitigated.at if mitigated else None,
        restore_started=restores[0].at if restores else None,
        normal=normal.at if normal else None,
        alarm_name=str(alarm.data.get("alarm")) if alarm else None,
        incident_id=str(incident_id) if incident_id else None,
        stage=str(applied[0].data.get("stage")) if applied else None,
        final_stage=str(applied[-1].data.get("stage")) if applied else None,
        deployed_version=version if isinstance(version, int) else None,
        deployed_document_version=document if isinstance(document, int) else None,
        refires=len(refires),
        restores=len(restores),
    )


def _clients_on(timeline: Timeline, deployment: TimelineEvent | None) -> TimelineEvent | None:
    """The first client report of `deployment`'s document (clients report its metadata.version)."""
    document = deployment.data.get("document_version") if deployment else None
    if deployment is None or not isinstance(document, int):
        return None
    return timeline.first(
        lambda e: e.kind == "client:version" and int(e.data.get("version", 0)) >= document,
        after=deployment.at,
    )


def _between(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds()


def _measure(name: str, frm: str, to: str, seconds: float | None, target: float | None) -> Measure:
    if target is None:
        return Measure(name=name, frm=frm, to=to, seconds=seconds, target_seconds=None, met=None)
    if seconds is None:
        return Measure(
            name=name,
            frm=frm,
            to=to,
            seconds=None,
            target_seconds=target,
            met=False,
            note=f"'{to}' never happened",
        )
    met = seconds <= target
    note = "" if met else f"{seconds:.0f} s > {target:.0f} s"
    return Measure(name=name, frm=frm, to=to, seconds=seconds, target_seconds=target, met=met, note=note)


def _rule_of(catalog: GuardrailCatalog, alarm_name: str | None, prefix: str) -> GuardrailRule | None:
    if alarm_name is None:
        return None
    name = alarm_name.removeprefix(prefix)
    return next((rule for rule in catalog.rules if rule.name == name), None)


def trigger_target(
    targets: DrillTargets, catalog: GuardrailCatalog, alarm_name: str | None, prefix: str
) -> float:
    """Fault -> alarm at the latest for the rule that fired ((M + 2) periods); the seed's 10 minutes for an
    alarm the catalog does not know."""
    rule = _rule_of(catalog, alarm_name, prefix)
    return float(rule.worst_alarm_seconds if rule else targets.trigger_seconds)


def in_force_target(
    targets: DrillTargets, catalog: GuardrailCatalog, alarm_name: str | None, prefix: str
) -> float:
    """Fault -> toggles in force: the catalog's budget for the severity of the rule that fired (P1 5 min, P2
    10 min); a rule without one (security, audit, cost: their own stated durations) gets its worst alarm
    time plus the response allowance, never less than the seed's 10 minutes."""
    rule = _rule_of(catalog, alarm_name, prefix)
    if rule is None:
        return float(targets.trigger_seconds)
    budget = catalog.mitigation_budget_seconds.get(rule.severity)
    if budget is not None and rule.kind not in OWN_DURATION_KINDS:
        return float(budget)
    own = rule.worst_alarm_seconds + catalog.response_allowance_seconds
    return float(max(targets.trigger_seconds, own))


def volume_variation(per_minute: Sequence[int]) -> float | None:
    """Largest deviation of one minute's request count from the median minute, as a share of the median."""
    if len(per_minute) < 2:
        return None
    median = statistics.median(per_minute)
    if median <= 0:
        return None
    return max(abs(v - median) for v in per_minute) / median


def score(
    m: Milestones,
    *,
    alarm_prefix: str,
    fill_rate_after_mitigation: float | None,
    fill_rate_during_incident: float | None,
    requests_per_minute: Sequence[int],
    expect_alarm: bool = True,
    checks: Sequence[Ratio] = (),
    targets: DrillTargets | None = None,
    plan: Plan = DEFAULT_PLAN,
    catalog: GuardrailCatalog = DEFAULT_CATALOG,
) -> Scorecard:
    targets = targets or DrillTargets()
    level_target = float(plan.stage(m.stage).target_seconds) if m.stage in plan.stage_names else None
    measures = []
    if expect_alarm:
        measures.append(
            _measure(
                "trigger",
                "fault",
                "alarm",
                _between(m.fault, m.alarm),
                trigger_target(targets, catalog, m.alarm_name, alarm_prefix),
            )
        )
        measures.append(_measure("incident opened", "alarm", "incident", _between(m.alarm, m.incident), None))
        measures.append(
            _measure(
                "fault to in force",
                "fault",
                "clients converged",
                _between(m.fault, m.converged),
                in_force_target(targets, catalog, m.alarm_name, alarm_prefix),
            )
        )
    else:
        measures.append(
            _measure("incident opened", "operator action", "incident", _between(m.fault, m.incident), None)
        )
    measures += [
        _measure("toggles deployed", "incident", "toggles deployed", _between(m.incident, m.deployed), None),
        _measure(
            f"mitigation ({m.stage or 'no stage applied'})",
            "incident",
            "clients converged",
            _between(m.incident, m.converged),
            level_target if level_target is not None else 0.0,
        ),
        _measure(
            "recovery",
            "clients converged",
            "recovered",
            _between(m.converged, m.recovered),
            float(targets.recovery_seconds),
        ),
        _measure("back to NORMAL", "recovered", "NORMAL", _between(m.recovered, m.normal), None),
        _measure("fault to NORMAL", "fault", "NORMAL", _between(m.fault, m.normal), None),
    ]
    if m.normal is None:
        measures.append(
            Measure(
                name="incident closed",
                frm="incident",
                to="NORMAL",
                seconds=None,
                target_seconds=None,
                met=False,
                note="the scope never returned to NORMAL",
            )
        )
    variation = volume_variation(requests_per_minute)
    fill_ok = fill_rate_after_mitigation is not None and (
        fill_rate_after_mitigation >= targets.min_fill_rate_after_mitigation
    )
    ratios = (
        Ratio(
            name="fill rate after mitigation",
            value=fill_rate_after_mitigation,
            target=f">= {targets.min_fill_rate_after_mitigation:g} %",
            met=fill_ok,
            note="" if fill_ok else "not measured" if fill_rate_after_mitigation is None else "below target",
        ),
        Ratio(
            name="fill rate during the incident", value=fill_rate_during_incident, target="reported", met=True
        ),
        Ratio(
            name="request-volume variation",
            value=None if variation is None else round(variation * 100, 2),
            target=f"< {targets.max_volume_variation * 100:g} %",
            met=variation is not None and variation < targets.max_volume_variation,
            note="" if variation is not None else "not enough complete minutes measured",
        ),
    )
    return Scorecard(milestones=m, measures=tuple(measures), ratios=ratios, checks=tuple(checks))


def requests_per_minute(counts: Mapping[int, int], start_minute: int, end_minute: int) -> list[int]:
    """Complete minutes only: the first and last minutes of a window are partial and left out."""
    return [counts.get(minute, 0) for minute in range(start_minute + 1, end_minute)]
