"""IncidentReport task: the incident's report, written to S3 as JSON and Markdown when the incident ends.

The report is the one `failsafe.reporting.report.IncidentReport` (the CLI's `failsafe report` and the drill
render the same model): one timeline merged from the audit log, the execution history and the incident's
AppConfig deployments, plus seed 000's rollback efficacy (`failsafe.reporting.efficacy`) from CloudWatch.
"""

from __future__ import annotations

from datetime import datetime

from failsafe.aws.reports import ReportLocation
from failsafe.controller.context import ExecutionContext
from failsafe.controller.ports import Ports
from failsafe.domain.audit import AuditEntry, AuditEvent
from failsafe.domain.records import ScopeRecord
from failsafe.domain.scope import Scope
from failsafe.reporting import efficacy
from failsafe.reporting.report import IncidentReport, render_json, render_markdown
from failsafe.reporting.timeline import Timeline, audit_events, execution_events_from_history

REPORT_ACTOR = "failsafe:report"


def _final_state(entries: list[AuditEntry], record: ScopeRecord | None, incident_id: str) -> str:
    if record is not None and record.incident_id == incident_id:
        return record.state
    states = [e.after.get("state") for e in entries if e.action.startswith("transition:")]
    return str(states[-1]) if states and states[-1] else "NORMAL"


def _gap(source: str, exc: Exception) -> str:
    return f"{source}: {type(exc).__name__}: {str(exc)[:160]}"


def build(rt: Ports, ctx: ExecutionContext) -> IncidentReport:
    scope = Scope.parse(ctx.scope)
    entries = rt.audit.entries(incident_id=ctx.incident_id)
    timeline = Timeline(events=audit_events(entries))
    try:  # the report is best effort per source: an unreadable one is named in the timeline's gaps
        history = rt.executions.history(rt.executions.execution_arn(ctx.incident_id))
        timeline.extend(execution_events_from_history((h.at, h.type, h.name) for h in history))
    except Exception as exc:
        timeline.gaps.append(_gap("execution history", exc))
    try:
        timeline.extend(rt.deployer.incident_deployments(ctx.incident_id))
    except Exception as exc:
        timeline.gaps.append(_gap("AppConfig deployments", exc))
    record = rt.state.get(scope.key)
    now = rt.now()
    deploys = [e for e in entries if e.action == "toggles:deploy"]
    started: datetime = entries[0].at if entries else now
    rollback_at = deploys[0].at if deploys else started
    pre_incident = deploys[0].before.get("config_version") if deploys else None
    return IncidentReport(
        incident_id=ctx.incident_id,
        scope=scope.key,
        source=ctx.source,
        requested_by=ctx.requested_by,
        reason=ctx.reason,
        trigger=ctx.trigger.model_dump(mode="json") if ctx.trigger else None,
        # This incident's own account (its audit entries): the scope's record may already hold a later one.
        final_state=_final_state(entries, record, ctx.incident_id),
        pre_incident_config_version=pre_incident if isinstance(pre_incident, int) else None,
        last_known_good_version=record.last_known_good_version
        if record is not None and record.incident_id in (None, ctx.incident_id)
        else None,
        started_at=started,
        rollback_at=rollback_at,
        ended_at=now,
        timeline=timeline.dedupe(),
        efficacy=efficacy.before_after(rt.efficacy.stat_reader(scope), rollback_at, now),
        audit_chain_ok=rt.audit.verify().ok,
    )


def write(rt: Ports, ctx: ExecutionContext) -> ReportLocation:
    report = build(rt, ctx)
    location = rt.reports.write(ctx.incident_id, render_json(report), render_markdown(report))
    rt.record(
        AuditEvent(
            action="report:written",
            actor=REPORT_ACTOR,
            reason=f"s3://{location.bucket}/{location.json_key}",
            scope_key=Scope.parse(ctx.scope).key,
            incident_id=ctx.incident_id,
        )
    )
    return location
