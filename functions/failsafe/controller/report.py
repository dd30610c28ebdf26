"""IncidentReport: one timeline merged from the audit log, the execution history and the AppConfig
deployments, plus seed 000's "rollback efficacy" (coverage, p95 latency, fill rate before and after the
rollback) from CloudWatch, written to S3 as JSON and Markdown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from failsafe.aws.reports import EfficacyWindow, ReportLocation
from failsafe.controller.context import ExecutionContext
from failsafe.controller.ports import Ports
from failsafe.domain.audit import AuditEntry, AuditEvent
from failsafe.domain.records import ScopeRecord
from failsafe.domain.scope import Scope

REPORT_ACTOR = "failsafe:report"


def _final_state(entries: list[AuditEntry], record: ScopeRecord | None, incident_id: str) -> str:
    if record is not None and record.incident_id == incident_id:
        return record.state
    states = [e.after.get("state") for e in entries if e.action.startswith("transition:")]
    return str(states[-1]) if states and states[-1] else "NORMAL"


def build(rt: Ports, ctx: ExecutionContext) -> dict[str, Any]:
    scope = Scope.parse(ctx.scope)
    entries = rt.audit.entries(incident_id=ctx.incident_id)
    timeline: list[dict[str, Any]] = [
        {
            "at": e.at.isoformat(),
            "source": "audit",
            "what": e.action,
            "who": e.actor,
            "why": e.reason,
            "before": e.before,
            "after": e.after,
        }
        for e in entries
    ]
    record = rt.state.get(scope.key)
    execution_arn = rt.executions.execution_arn(ctx.incident_id)
    if execution_arn:
        try:
            for h in rt.executions.history(execution_arn):
                if h.name:
                    timeline.append(
                        {"at": h.at.isoformat(), "source": "execution", "what": f"{h.type} {h.name}"}
                    )
        except Exception as exc:  # the report is best effort per source
            timeline.append(
                {"at": rt.now().isoformat(), "source": "execution", "what": f"history unavailable: {exc}"}
            )
    deployments = rt.deployer.deployments_mentioning(ctx.incident_id)
    for d in deployments:
        for key in ("started_at", "completed_at"):
            value = d.get(key)
            if isinstance(value, datetime):
                d[key] = value.isoformat()
                timeline.append(
                    {
                        "at": d[key],
                        "source": "appconfig",
                        "what": f"deployment {d['deployment_number']} {key.split('_')[0]} ({d['state']})",
                    }
                )
    timeline.sort(key=lambda item: str(item["at"]))
    deploy_times = [e.at for e in entries if e.action == "toggles:deploy"]
    started = entries[0].at if entries else rt.now()
    rollback_at = deploy_times[0] if deploy_times else started
    efficacy: dict[str, EfficacyWindow] = rt.efficacy.before_after(scope, rollback_at, rt.now())
    return {
        "schema": "failsafe.incident-report/1",
        "incident_id": ctx.incident_id,
        "scope": scope.key,
        "source": ctx.source,
        "requested_by": ctx.requested_by,
        "reason": ctx.reason,
        "trigger": ctx.trigger.model_dump(mode="json") if ctx.trigger else None,
        # This incident's own account (its audit entries): the scope's record may already hold a later one.
        "final_state": _final_state(entries, record, ctx.incident_id),
        "pre_incident_config_version": next(
            (e.before.get("config_version") for e in entries if e.action == "toggles:deploy"), None
        ),
        "last_known_good_version": record.last_known_good_version
        if record is not None and record.incident_id in (None, ctx.incident_id)
        else None,
        "started_at": started.isoformat(),
        "rollback_at": rollback_at.isoformat(),
        "ended_at": rt.now().isoformat(),
        "timeline": timeline,
        "deployments": deployments,
        "efficacy": {k: v.model_dump(mode="json") for k, v in efficacy.items()},
        "audit_chain_ok": rt.audit.verify().ok,
    }


def _fmt(value: object) -> str:
    return "n/a" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Incident {report['incident_id']}",
        "",
        f"- Scope: `{report['scope']}`",
        f"- Source: {report['source']} (requested by {report['requested_by']})",
        f"- Reason: {report['reason'] or 'n/a'}",
        f"- Started: {report['started_at']}; rollback deployed: {report['rollback_at']}; "
        f"ended: {report['ended_at']}",
        f"- Final state: **{report['final_state']}**; audit chain verified: {report['audit_chain_ok']}",
        "",
        "## Rollback efficacy",
        "",
        "| period | coverage % | p95 latency ms | fill rate % | requests |",
        "|---|---|---|---|---|",
    ]
    for period, window in report["efficacy"].items():
        lines.append(
            f"| {period} | {_fmt(window['coverage'])} | {_fmt(window['p95_latency_ms'])} | "
            f"{_fmt(window['fill_rate'])} | {_fmt(window['requests'])} |"
        )
    lines += ["", "## Timeline", "", "| at | source | what | who | why |", "|---|---|---|---|---|"]
    for item in report["timeline"]:
        why = str(item.get("why", "")).replace("|", "/").replace("\n", " ")
        lines.append(f"| {item['at']} | {item['source']} | {item['what']} | {item.get('who', '')} | {why} |")
    lines += ["", "## Deployments", ""]
    for d in report["deployments"]:
        lines.append(
            f"- #{d['deployment_number']}: config version {d['config_version']}, {d['state']} "
            f"({d['description']})"
        )
    return "\n".join(lines) + "\n"


def write(rt: Ports, ctx: ExecutionContext) -> ReportLocation:
    report = build(rt, ctx)
    location = rt.reports.write(ctx.incident_id, report, markdown(report))
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
