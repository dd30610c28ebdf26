"""`failsafe report INCIDENT [--format md|json|html] [--output FILE]`: the incident's merged timeline,
rollback efficacy before/after, who did what, and where to dig further.

The report is assembled from the target's own records: the audit log, the workflow's execution history,
the AppConfig deployments of the incident, CloudWatch alarm history, and the controller's report in S3
(for the efficacy figures). A drill's report, written under `.failsafe/reports/INCIDENT/` when the drill's
embedded stack is gone, is used when the target does not know the incident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.reports import EfficacyReader, ReportWriter
from failsafe.aws.state_store import StateStore
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.scope import Scope
from failsafe.reporting.efficacy import Efficacy, before_after
from failsafe.reporting.report import RENDERERS, IncidentReport, render
from failsafe.reporting.timeline import (
    Timeline,
    alarm_history,
    audit_events,
    deployment_events,
    execution_events,
)
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import abort, console, fail, friendly_errors, safe
from failsafe_tools.cli.rollback import open_target, target_args
from failsafe_tools.local.server import DEFAULT_STATE_FILE
from failsafe_tools.target import Target

DRILL_REPORTS = Path(".failsafe/reports")


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def collect(target: Target, incident_id: str) -> IncidentReport | None:
    """The report of `incident_id` from the target's records; None when the target never saw it."""
    store = StateStore(target.client("dynamodb"), target.output("StateTableName"), DEFAULT_PLAN)
    pointer = store.find_incident(incident_id)
    if pointer is None:
        return None
    entries = AuditLog(target.client("dynamodb"), target.output("AuditTableName")).entries(
        incident_id=incident_id
    )
    timeline = Timeline(events=audit_events(entries))
    execution_arn = (
        target.output("StateMachineArn").replace(":stateMachine:", ":execution:") + f":{incident_id}"
    )
    try:
        timeline.extend(execution_events(target.client("stepfunctions"), execution_arn))
    except Exception as exc:
        timeline.gaps.append(f"execution history: {type(exc).__name__}: {str(exc)[:160]}")
    try:
        timeline.extend(
            deployment_events(
                target.client("appconfig"),
                target.output("AppConfigApplicationId"),
                target.output("AppConfigEnvironmentId"),
                incident_id,
            )
        )
    except Exception as exc:
        timeline.gaps.append(f"AppConfig deployments: {type(exc).__name__}: {str(exc)[:160]}")
    start = min((e.at for e in timeline.events), default=pointer.created_at)
    try:
        timeline.extend(alarm_history(target.client("cloudwatch"), target.output("AlarmNamePrefix"), start))
    except Exception as exc:
        timeline.gaps.append(
            f"CloudWatch alarm history: {type(exc).__name__} "
            "(the audit log's alarm entries are shown instead)"
        )
    stored: dict[str, Any] = {}
    try:
        stored = ReportWriter(target.client("s3"), target.output("ReportBucketName")).read(incident_id)
    except Exception as exc:
        timeline.gaps.append(
            f"controller report in S3: {type(exc).__name__} (written when the incident ends)"
        )
    efficacy = {k: Efficacy(**v) for k, v in (stored.get("efficacy") or {}).items()}
    deployed = timeline.first("deployment:complete")
    if not efficacy and deployed is not None:
        # No controller report yet (the incident is open): seed 000's before/after from CloudWatch directly.
        reader = EfficacyReader(target.client("cloudwatch"))
        stat = reader.stat_reader(Scope.parse(pointer.scope_key))
        efficacy = before_after(stat, deployed.at, target.now())
    record = store.get(pointer.scope_key)
    still_open = record is not None and record.incident_id == incident_id
    first = entries[0] if entries else None
    bucket = target.output("ReportBucketName")
    return IncidentReport(
        incident_id=incident_id,
        scope=pointer.scope_key,
        final_state=(record.state if record else "NORMAL") + (" (incident open)" if still_open else ""),
        source=stored.get("source") or (first.details.get("source") if first else None),
        requested_by=stored.get("requested_by") or (first.actor if first else None),
        reason=stored.get("reason") or (first.reason if first else None),
        started_at=pointer.created_at,
        ended_at=max((e.at for e in timeline.events), default=None),
        efficacy=efficacy,
        timeline=timeline.dedupe(),
        links={
            "controller report (JSON)": f"s3://{bucket}/incidents/{incident_id}/report.json",
            "controller report (Markdown)": f"s3://{bucket}/incidents/{incident_id}/report.md",
            "workflow": execution_arn,
        },
        commands=[
            f"aws stepfunctions get-execution-history --execution-arn {execution_arn}",
            f"aws s3 cp s3://{bucket}/incidents/{incident_id}/report.md -",
            f"failsafe audit log --incident {incident_id}",
            "failsafe audit verify",
            f"failsafe status --scope {pointer.scope_key}",
        ],
    )


def from_drill(incident_id: str, directory: Path = DRILL_REPORTS) -> IncidentReport | None:
    path = directory / incident_id / "report.json"
    if not path.is_file():
        return None
    return IncidentReport.model_validate_json(path.read_text(encoding="utf-8"))


def report_command(
    *,
    incident: Annotated[str, typer.Argument(help="Incident id (the workflow's execution name).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, json or html.")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    drill_reports: Annotated[Path, typer.Option(help="Where drills write their reports.")] = DRILL_REPORTS,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """The incident report: merged timeline, efficacy before/after, who did what, where to dig."""
    if as_json:
        if fmt not in ("md", "json"):
            fail(f"--json --format {fmt}", "--json is --format json; drop one of them")
        fmt = "json"
    if fmt not in RENDERERS:
        fail(f"--format {fmt}", f"choose one of {', '.join(RENDERERS)}")
    if not incident.strip() or "/" in incident:
        fail(f"INCIDENT {incident}", "give an incident id as `failsafe status` shows it (e.g. inc-2026...)")
    report = from_drill(incident, drill_reports) if stack is None else None
    if report is None:
        with friendly_errors():
            resolved = open_target(target_args(target, stack, region, state_file))
            try:
                report = collect(resolved, incident)
                where = resolved.description
            finally:
                resolved.close()
        if report is None:
            abort(
                f"incident {incident} is unknown to {where}; check the id with `failsafe status` or --stack"
            )
    text = render(report, fmt)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console().print(f"wrote {safe(output)}")
        return
    typer.echo(text, nl=False)
