"""A drill's measurement: merge what the stack recorded into one timeline, score it, write the report.

Nothing here assumes an outcome. The timeline (`collect_timeline`) is built from the drill's own notes and
from every source the stack keeps: the alarm state changes, the Step Functions execution histories, the
AppConfig deployments, the audit log, the PagerDuty stand-in, the second channel (EscalationTopic pages of
failsafe's own alarms), the injected AWS faults and the recommender client's version changes. Metrics come
from the local CloudWatch's own aggregation (`DrillMetrics`). A fault drill's guarantees (`fault_checks`)
are judged on `FaultFacts`, read from the same records plus the executions still RUNNING and the scope
records at the end.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.reports import EfficacyReader
from failsafe.domain import metrics as contract
from failsafe.domain.audit import AuditEntry
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plans import Level, Plan
from failsafe.domain.scope import Scope
from failsafe.reporting.efficacy import Efficacy, before_after
from failsafe.reporting.report import IncidentReport, render
from failsafe.reporting.timeline import (
    Timeline,
    TimelineEvent,
    alarm_history,
    audit_events,
    deployment_events,
    execution_events,
)
from failsafe_tools.drill.options import OPERATOR, DrillOptions, DrillResult
from failsafe_tools.drill.scenarios import Scenario
from failsafe_tools.drill.scorecard import Milestones, Ratio, milestones, requests_per_minute, score
from failsafe_tools.local import alarms as local_alarms

if TYPE_CHECKING:
    from failsafe_tools.drill.session import DrillSession

CONTROLLER_ALARM_PREFIX = "failsafe-controller-"
"""failsafe's own alarms (template.yaml: NotificationFailuresAlarm, ControllerExecutionsFailedAlarm)."""


def _alarm_instant(alarm_events: list[TimelineEvent], alarm_name: str) -> datetime | None:
    """When `alarm_name` last went to ALARM in its history (its actions ran then)."""
    instants = [
        e.at for e in alarm_events if e.data.get("alarm") == alarm_name and e.data.get("state") == "ALARM"
    ]
    return instants[-1] if instants else None


def collect_timeline(session: DrillSession) -> Timeline:
    """Merge what every source recorded: the drill's own notes, the alarm state changes, the execution
    histories, the AppConfig deployments, the audit log, PagerDuty (pages and failed pages), the second
    channel (EscalationTopic) and the client's version changes."""
    timeline = Timeline(events=list(session.events))

    # CloudWatch's own history, through DescribeAlarmHistory (a new stack's backend: all of it is ours): the
    # guardrails, and failsafe's own alarms (NotificationFailures, ExecutionsFailed) with their pages to the
    # second channel
    cloudwatch = session.stack.client("cloudwatch")
    alarm_events = alarm_history(cloudwatch, session.prefix) + alarm_history(
        cloudwatch, CONTROLLER_ALARM_PREFIX
    )
    timeline.extend(alarm_events)
    escalation_topic = session.outputs.get("EscalationTopicArn")
    for action in local_alarms.get_evaluator().action_log[session.action_log_start :]:
        at = _alarm_instant(alarm_events, action.alarm_name)
        if at is None or action.action_arn != escalation_topic or not action.ok or action.state != "ALARM":
            continue
        timeline.add(
            TimelineEvent(
                at=at,
                source="notification",
                kind="escalation:published",
                title=f"{action.alarm_name} paged the second channel (EscalationTopic)",
                data={"alarm": action.alarm_name},
            )
        )
    sfn = session.stack.client("stepfunctions")
    for execution in sfn.list_executions(stateMachineArn=session.outputs["StateMachineArn"])["executions"]:
        for event in execution_events(sfn, execution["executionArn"]):
            timeline.add(event.model_copy(update={"data": {**event.data, "incident_id": execution["name"]}}))
    timeline.extend(
        deployment_events(
            session.stack.client("appconfig"),
            session.outputs["AppConfigApplicationId"],
            session.outputs["AppConfigEnvironmentId"],
            None,
        )
    )
    audit = AuditLog(session.stack.client("dynamodb"), session.outputs["AuditTableName"])
    timeline.extend(audit_events(audit.entries()))
    if session.pager is not None:
        for page in session.pager.received():
            timeline.add(
                TimelineEvent(
                    at=page.at,
                    source="notification",
                    kind=f"pagerduty:{page.action}",
                    title=f"PagerDuty {page.action} ({page.severity or '-'}): {page.summary[:120]}",
                    data={"dedup_key": page.dedup_key},
                )
            )
        for failed in session.pager.failed:
            timeline.add(
                TimelineEvent(
                    at=failed.at,
                    source="notification",
                    kind="pagerduty:failed",
                    title=f"PagerDuty down ({failed.mode}): {failed.action} page not accepted",
                    data={"dedup_key": failed.dedup_key, "mode": failed.mode},
                )
            )
        for rejected in session.pager.rejected:
            session.notes.append(f"PagerDuty rejected a page: {rejected}")
    for hit in session.injector.hits():
        if hit.rule in session.fault_rules:
            timeline.add(
                TimelineEvent(
                    at=hit.at,
                    source="drill",
                    kind="aws:fault",
                    title=f"{hit.service} {hit.operation} answered {hit.code} (injected)",
                    data={"rule": hit.rule, "service": hit.service, "operation": hit.operation},
                )
            )
    if session.traffic is not None:
        for change in session.traffic.changes():
            timeline.add(
                TimelineEvent(
                    at=change.at,
                    source="client",
                    kind="client:version",
                    title=f"recommender client applied config version {change.version} "
                    f"(was {change.previous})",
                    data={"version": change.version, "previous": change.previous},
                )
            )
    return timeline


class DrillMetrics:
    """The recommender's metrics as the local CloudWatch aggregated them, over a drill's milestones."""

    def __init__(self, stack: Any, scope: Scope) -> None:
        self.stack = stack
        self.scope = scope

    def stat(self, metric: str, stat: str, start: datetime | None, stop: datetime | None) -> float | None:
        """One statistic of the recommender's metric over [start, stop), by the local CloudWatch's own
        aggregation (the code its alarms use: exact dimension sets, percentiles included; moto's
        GetMetricStatistics computes no percentiles and matches dimension supersets)."""
        if start is None or stop is None or stop <= start:
            return None
        points = self._series(metric, stat, [start.timestamp()], int(stop.timestamp() - start.timestamp()))
        return points[0].value if points else None

    def _series(self, metric: str, stat: str, starts: list[float], period: int) -> list[Any]:
        from moto.cloudwatch.models import cloudwatch_backends

        from failsafe_tools.local.alarms import MetricSpec, series

        spec = MetricSpec(
            namespace=contract.NAMESPACE,
            name=metric,
            dimensions=frozenset((d["Name"], d["Value"]) for d in EfficacyReader.dimensions(self.scope)),
            stat=stat,
            period=max(1, period),
        )
        backend = cloudwatch_backends[self.stack.account_id][self.stack.region]
        return series(backend, spec, starts)

    def metrics(self, m: Milestones, end: datetime) -> tuple[float | None, float | None, list[int]]:
        # While the mitigation is in force: from the clients' convergence on the stage that mitigated to the
        # restore (after which the pre-incident toggles serve again).
        after = self.stat(contract.FILL_RATE, "Average", m.mitigated, m.restore_started or m.normal or end)
        during = self.stat(contract.FILL_RATE, "Average", m.incident, m.normal or end)
        start = m.incident or m.fault
        stop = m.normal or end
        if start is None:
            return after, during, []
        # Answered requests per minute: Availability is 100 per answered request.
        first, last = int(start.timestamp() // 60), int(stop.timestamp() // 60)
        starts = [float(minute * 60) for minute in range(first, last + 1)]
        points = self._series(contract.AVAILABILITY, "Sum", starts, 60)
        counts = {int(p.start // 60): round((p.value or 0.0) / 100) for p in points}
        return after, during, requests_per_minute(counts, first, last)

    def efficacy(self, m: Milestones, end: datetime) -> dict[str, Efficacy]:
        """Seed 000's rollback efficacy: coverage, p95 latency, fill rate and requests before and after."""
        if m.deployed is None:
            return {}
        before_start = m.fault or (m.deployed - timedelta(minutes=10))
        return before_after(self.stat, m.deployed, m.normal or end, before_start=before_start)


class Mitigation(BaseModel):
    """One request for mitigation (an alarm that opened an incident, or an operator's level) and when its
    stage was in force: the AppConfig deployment that applied it completed (immediate strategy: every
    client's next poll serves it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    incident_id: str
    scope: str
    trigger: datetime
    stage: str | None
    in_force: datetime | None
    target_seconds: float | None


class FaultFacts(BaseModel):
    """What a fault drill's guarantees are judged on, all read from what the stack recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mitigations: tuple[Mitigation, ...] = ()
    paged: tuple[str, ...] = Field((), description="Incidents PagerDuty accepted a trigger page for.")
    escalations: int = Field(0, description="Pages of failsafe's own alarms to the second channel.")
    fault_hits: dict[str, int] = Field(default_factory=dict, description="Injected AWS fault: calls failed.")
    pagerduty_failed: int = 0
    running_executions: tuple[str, ...] = ()
    stuck_scopes: tuple[str, ...] = Field((), description="Scopes neither NORMAL nor deliberately held.")
    held_scopes: tuple[str, ...] = ()
    second_request_sent: bool | None = None


def _stage_of_level(level: Level, plan: Plan) -> str | None:
    return next((stage.name for stage in plan.stages if stage.level is level), None)


def _in_force(timeline: Timeline, incident_id: str, after: datetime) -> datetime | None:
    """The first rollback deployment (not a restore) naming `incident_id` that completed after `after`."""
    event = timeline.first(
        lambda e: (
            e.kind == "deployment:complete"
            and incident_id in str(e.data.get("description", ""))
            and "restore" not in str(e.why or "").lower()
        ),
        after=after,
    )
    return event.at if event else None


def mitigations(
    timeline: Timeline, audit: list[AuditEntry], prefix: str, plan: Plan = DEFAULT_PLAN
) -> list[Mitigation]:
    """Each incident opened by an alarm, and each operator request of the drill, with the instant its
    first stage applied was in force. An alarm incident's stage is measured from the alarm that asked for
    it (the last one before the stage was first named in the audit: a P2's stage 1 escalated by a P1 to
    stage 2 counts from the P1), an operator's level from the request."""
    found: list[Mitigation] = []
    alarms = [
        e
        for e in timeline.sorted()
        if e.kind == "alarm:ALARM" and str(e.data.get("alarm", "")).startswith(prefix)
    ]
    requests = {
        str(e.data.get("incident_id")): e
        for e in timeline.sorted()
        if e.kind in ("drill:manual", "drill:second-request") and e.data.get("incident_id")
    }
    incidents: dict[str, list[AuditEntry]] = {}
    for entry in sorted(audit, key=lambda e: e.at):
        if entry.incident_id:
            incidents.setdefault(entry.incident_id, []).append(entry)
    for incident_id, entries in incidents.items():
        applied = [e for e in entries if e.after.get("state") == "ROLLED_BACK"]
        opened = entries[0]
        request = requests.get(incident_id)
        if request is not None and request.at <= opened.at:
            continue  # opened by an operator's request: measured below, from the request
        stage = str(applied[0].after.get("stage")) if applied else None
        # the stage's request: the first entry naming it (an escalation P2 -> P1 requests stage 2 later)
        asked = next((e for e in entries if stage is not None and e.after.get("stage") == stage), opened)
        before = [a for a in alarms if a.at <= asked.at]
        trigger = before[-1].at if before else asked.at
        found.append(
            Mitigation(
                label=f"alarm {before[-1].data.get('alarm', '').removeprefix(prefix) if before else '?'}",
                incident_id=incident_id,
                scope=opened.scope_key or "",
                trigger=trigger,
                stage=stage,
                in_force=_in_force(timeline, incident_id, max(trigger, asked.at)),
                target_seconds=float(plan.stage(stage).target_seconds) if stage in plan.stage_names else None,
            )
        )
    for incident_id, request in requests.items():
        level = Level(str(request.data.get("level")))
        stage = _stage_of_level(level, plan)
        found.append(
            Mitigation(
                label=f"operator level {level.value} on {request.data.get('scope', '')}",
                incident_id=incident_id,
                scope=str(request.data.get("scope", "")),
                trigger=request.at,
                stage=stage,
                in_force=_in_force(timeline, incident_id, request.at),
                target_seconds=float(plan.stage(stage).target_seconds) if stage else None,
            )
        )
    return sorted(found, key=lambda m: m.trigger)


def fault_facts(drill: DrillSession, timeline: Timeline) -> FaultFacts:
    """Gather the facts from the stack: audit log, timeline, executions, scope records, injector, sink."""
    audit = AuditLog(drill.stack.client("dynamodb"), drill.outputs["AuditTableName"]).entries()
    sfn = drill.stack.client("stepfunctions")
    running = sfn.list_executions(stateMachineArn=drill.outputs["StateMachineArn"], statusFilter="RUNNING")
    records = drill.state.list_scopes()
    hits: dict[str, int] = {}
    for aws in drill.scenario.aws_faults:
        f = aws.fault
        hits.setdefault(f"{f.service} {f.operation} {f.code}", 0)
    for hit in drill.injector.hits():
        if hit.rule in drill.fault_rules:
            key = f"{hit.service} {hit.operation} {hit.code}"
            hits[key] = hits.get(key, 0) + 1
    return FaultFacts(
        mitigations=tuple(mitigations(timeline, audit, drill.prefix)),
        paged=tuple(
            sorted({str(e.data.get("dedup_key")) for e in timeline.events if e.kind == "pagerduty:trigger"})
        ),
        escalations=sum(1 for e in timeline.events if e.kind == "escalation:published"),
        fault_hits=hits,
        pagerduty_failed=sum(1 for e in timeline.events if e.kind == "pagerduty:failed"),
        running_executions=tuple(e["name"] for e in running["executions"]),
        stuck_scopes=tuple(
            f"{r.scope_key}: {r.state}" for r in records if r.state != "NORMAL" and not r.hold_until_recovered
        ),
        held_scopes=tuple(r.scope_key for r in records if r.state != "NORMAL" and r.hold_until_recovered),
        second_request_sent=None if drill.scenario.second_request is None else bool(drill.second_incident),
    )


def fault_checks(scenario: Scenario, facts: FaultFacts) -> list[Ratio]:
    """A fault drill's guarantees: every mitigation in force within its stage's target from its trigger,
    someone paged (PagerDuty, or the second channel), the fault really exercised, and nothing stuck."""
    checks: list[Ratio] = []
    if not facts.mitigations:
        checks.append(
            Ratio(
                name="in force within target",
                value=None,
                target="a mitigation",
                met=False,
                note="no incident or operator request was recorded",
            )
        )
    for m in facts.mitigations:
        seconds = None if m.in_force is None else (m.in_force - m.trigger).total_seconds()
        met = seconds is not None and m.target_seconds is not None and seconds <= m.target_seconds
        checks.append(
            Ratio(
                name=f"{m.stage or 'no stage'} in force ({m.label}, {m.incident_id})",
                value=None if seconds is None else round(seconds, 1),
                target=f"<= {m.target_seconds:g} s" if m.target_seconds is not None else "a stage applied",
                met=met,
                note=""
                if met
                else "never in force"
                if seconds is None
                else f"{seconds:.0f} s after its trigger",
            )
        )
    incidents = {m.incident_id for m in facts.mitigations}
    unpaged = sorted(incidents - set(facts.paged))
    paged = bool(incidents) and (not unpaged or facts.escalations > 0)
    channel = (
        "PagerDuty"
        if not unpaged
        else f"second channel ({facts.escalations} escalation page(s))"
        if facts.escalations
        else "nobody"
    )
    checks.append(
        Ratio(
            name="someone paged",
            value=float(len(incidents) - len(unpaged)),
            target="every incident on PagerDuty, or the second channel (EscalationTopic)",
            met=paged,
            note=channel if paged else f"no page for {', '.join(unpaged) or 'any incident'}",
        )
    )
    for key, count in facts.fault_hits.items():
        checks.append(
            Ratio(
                name=f"AWS fault exercised ({key})",
                value=float(count),
                target=">= 1 call failed",
                met=count >= 1,
                note="" if count else "no call hit the injected fault: the drill proved nothing",
            )
        )
    if scenario.pagerduty != "up":
        checks.append(
            Ratio(
                name=f"PagerDuty down ({scenario.pagerduty})",
                value=float(facts.pagerduty_failed),
                target=">= 1 page failed",
                met=facts.pagerduty_failed >= 1,
                note="" if facts.pagerduty_failed else "no page reached the failing PagerDuty",
            )
        )
    if facts.second_request_sent is not None:
        checks.append(
            Ratio(
                name="second operator request sent",
                value=None,
                target=scenario.second_request.when if scenario.second_request else "",
                met=facts.second_request_sent,
                note="" if facts.second_request_sent else "its moment never came, or the request failed",
            )
        )
    stuck = [*facts.stuck_scopes, *(f"execution {name} RUNNING" for name in facts.running_executions)]
    checks.append(
        Ratio(
            name="nothing stuck",
            value=float(len(stuck)),
            target="every scope NORMAL or held, no execution RUNNING",
            met=not stuck,
            note="; ".join(stuck)
            + (f" (held on purpose: {', '.join(facts.held_scopes)})" if facts.held_scopes else ""),
        )
    )
    return checks


def finish(
    drill: DrillSession, options: DrillOptions, *, returned: bool, interrupted: bool, wall_start: float
) -> DrillResult:
    """Stop the traffic, merge the timeline, score it and write the report."""
    end = drill.clock.now()
    if drill.traffic is not None:
        drill.traffic.stop()
        drill.notes.extend(drill.traffic.errors[:5])
    timeline = collect_timeline(drill).dedupe()
    m = milestones(timeline, drill.prefix)
    measured = DrillMetrics(drill.stack, drill.scope)
    fill_after, fill_during, per_minute = measured.metrics(m, end)
    checks = scenario_checks(drill.scenario, m, returned, timeline)
    if drill.scenario.fault_drill:
        checks.extend(fault_checks(drill.scenario, fault_facts(drill, timeline)))
    if drill.bad_release is not None:
        previous, bad = drill.bad_release
        reverted = any(e.kind == "audit:release:revert" for e in timeline.events)
        checks.append(
            Ratio(
                name="release reverted (level 3)",
                value=None,
                target=f"alias left {bad} for {previous}",
                met=reverted,
                note="" if reverted else f"no release:revert in the audit (alias now {drill.release_now()})",
            )
        )
    card = score(
        m,
        alarm_prefix=drill.prefix,
        fill_rate_after_mitigation=fill_after,
        fill_rate_during_incident=fill_during,
        requests_per_minute=per_minute,
        expect_alarm=bool(drill.scenario.expected_alarms),
        checks=checks,
    )
    record = drill.state.get(drill.scope.key)
    final_state = record.state if record else "NORMAL"
    incident_id = m.incident_id or drill.incident_seen
    wall = time.monotonic() - wall_start
    report = IncidentReport(
        incident_id=incident_id or f"drill-{drill.scenario.name}-no-incident",
        scope=drill.scope.key,
        final_state=final_state,
        source="drill",
        requested_by=OPERATOR,
        reason=f"failsafe drill {drill.scenario.name}: {drill.scenario.title}",
        started_at=m.fault,
        ended_at=m.normal or end,
        efficacy=measured.efficacy(m, end),
        timeline=timeline,
        scorecard=card.model_dump(mode="json"),
        drill={
            "scenario": drill.scenario.name,
            "title": drill.scenario.title,
            "speed": options.speed,
            "wall_seconds": round(wall, 1),
            "requests": drill.traffic.sent if drill.traffic else 0,
            "passed": card.passed and not interrupted,
            "answered_requests_per_minute": per_minute,
            "notes": drill.notes,
        },
        commands=[
            f"failsafe report {incident_id} --format html",
            "failsafe audit verify",
            f"failsafe status --scope {drill.scope.key}",
        ],
    )
    paths = write_report(report, options.report_dir)
    return DrillResult(
        scenario=drill.scenario.name,
        incident_id=incident_id,
        final_state=final_state,
        scorecard=card,
        report=report,
        report_paths=paths,
        wall_seconds=wall,
        requests=drill.traffic.sent if drill.traffic else 0,
        interrupted=interrupted,
        notes=drill.notes,
    )


def scenario_checks(scenario: Scenario, m: Milestones, returned: bool, timeline: Timeline) -> list[Ratio]:
    checks = [
        Ratio(
            name="back to NORMAL",
            value=None,
            target="NORMAL",
            met=returned,
            note="" if returned else "the scope did not return to NORMAL",
        )
    ]
    level = DEFAULT_PLAN.stage(m.final_stage).level if m.final_stage in DEFAULT_PLAN.stage_names else None
    checks.append(
        Ratio(
            name="level applied",
            value=None,
            target=" or ".join(level.value for level in scenario.expected_levels),
            met=level in scenario.expected_levels,
            note="" if level in scenario.expected_levels else f"ended at {m.final_stage or 'nothing'}",
        )
    )
    if scenario.expected_alarms:
        fired = (m.alarm_name or "").split("-", 3)[-1] if m.alarm_name else None
        names = {str(e.data.get("alarm", "")) for e in timeline.events if e.kind == "alarm:ALARM"}
        hit = any(any(n.endswith(rule) for n in names) for rule in scenario.expected_alarms)
        checks.append(
            Ratio(
                name="expected alarm fired",
                value=None,
                target=" or ".join(scenario.expected_alarms),
                met=hit,
                note="" if hit else f"first alarm was {fired or 'none'}",
            )
        )
    if scenario.flapping is not None:
        checks.append(
            Ratio(
                name="re-fire during verification",
                value=float(m.refires),
                target=">= 1",
                met=m.refires >= 1,
                note="" if m.refires >= 1 else "the fault never re-fired during verification",
            )
        )
        checks.append(
            Ratio(
                name="no ping-pong (restores)",
                value=float(m.restores),
                target="<= 1",
                met=m.restores <= 1,
                note="" if m.restores <= 1 else "the service was restored more than once",
            )
        )
    return checks


def write_report(report: IncidentReport, directory: Path) -> dict[str, Path]:
    folder = directory / report.incident_id
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt, name in (("json", "report.json"), ("md", "report.md"), ("html", "report.html")):
        path = folder / name
        path.write_text(render(report, fmt), encoding="utf-8")
        paths[fmt] = path
    return paths
