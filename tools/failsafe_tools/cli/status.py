"""`failsafe status [--scope S]`: lifecycle state per scope, the open incident and its stage, the alarms, the
deployed toggle version and whether the recommender clients converged on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from failsafe.aws.state_store import StateStore
from failsafe.domain import metrics as contract
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.records import ScopeRecord
from failsafe.domain.scope import DIMENSION_ENVIRONMENT, DIMENSION_SERVICE, Scope, ScopeError
from failsafe.reporting.timeline import document_version
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt, TemplateOpt
from failsafe_tools.cli.output import console, fail, friendly_errors, notice
from failsafe_tools.local.server import DEFAULT_STATE_FILE
from failsafe_tools.target import Target, resolve

ScopeOpt = Annotated[
    str | None,
    typer.Option("--scope", help="service/environment[/region=a,b][/cohort=c][/client=d] (default: all)"),
]


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)


def parse_scope(text: str) -> Scope:
    from pydantic import ValidationError

    try:
        return Scope.parse(text)
    except ScopeError as exc:
        fail(f"--scope {text}", str(exc).removeprefix(f"scope {text!r}: "))
    except ValidationError:
        fail(f"--scope {text}", "scope values use letters, digits and _ . : - only (e.g. recommender/prod)")


def check_scope_in_stack(scope: Scope, target: Target) -> None:
    """A scope outside the stack's service/environment is unknown there: say which ones exist."""
    service = target.outputs.get("ServiceName")
    environment = target.outputs.get("EnvironmentName")
    if service and environment and (scope.service, scope.environment) != (service, environment):
        fail(
            f"--scope {scope.key}",
            f"unknown scope: {target.description} controls {service}/{environment}; use --scope "
            f"{service}/{environment}[/region=...]",
        )


@dataclass
class Deployed:
    version: int | None
    number: int | None
    state: str | None
    at: datetime | None
    document_version: int | None = None


def deployed_version(target: Target) -> Deployed:
    appconfig = target.client("appconfig")
    app, env = target.output("AppConfigApplicationId"), target.output("AppConfigEnvironmentId")
    items = appconfig.list_deployments(ApplicationId=app, EnvironmentId=env).get("Items", [])
    for item in sorted(items, key=lambda i: int(i["DeploymentNumber"]), reverse=True):
        if item.get("State") == "COMPLETE":
            return Deployed(
                int(item["ConfigurationVersion"]),
                int(item["DeploymentNumber"]),
                "COMPLETE",
                item.get("CompletedAt"),
                document_version(
                    appconfig, app, target.output("AppConfigProfileId"), item["ConfigurationVersion"]
                ),
            )
    if items:
        latest = max(items, key=lambda i: int(i["DeploymentNumber"]))
        return Deployed(None, int(latest["DeploymentNumber"]), str(latest.get("State")), None)
    return Deployed(None, None, None, None)


def client_versions(
    target: Target, scope: Scope, now: datetime, minutes: int = 5
) -> tuple[float, float] | None:
    """(lowest, highest) config version the recommender reported over the last `minutes` (ConfigVersion)."""
    cloudwatch = target.client("cloudwatch")
    points = cloudwatch.get_metric_statistics(
        Namespace=contract.NAMESPACE,
        MetricName=contract.CONFIG_VERSION,
        Dimensions=[
            {"Name": DIMENSION_SERVICE, "Value": scope.service},
            {"Name": DIMENSION_ENVIRONMENT, "Value": scope.environment},
        ],
        StartTime=now - timedelta(minutes=minutes),
        EndTime=now,
        Period=60,
        Statistics=["Minimum", "Maximum"],
    ).get("Datapoints", [])
    if not points:
        return None
    latest = max(points, key=lambda p: p["Timestamp"])
    return float(latest["Minimum"]), float(latest["Maximum"])


def firing_alarms(target: Target) -> list[dict[str, Any]]:
    prefix = target.output("AlarmNamePrefix")
    cloudwatch = target.client("cloudwatch")
    alarms: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"AlarmNamePrefix": prefix, "StateValue": "ALARM"}
    while True:
        page = cloudwatch.describe_alarms(**kwargs)
        # filter here too: not every implementation applies StateValue together with AlarmNamePrefix
        alarms += [
            a
            for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
            if a.get("StateValue") == "ALARM"
        ]
        if not page.get("NextToken"):
            return alarms
        kwargs["NextToken"] = page["NextToken"]


def status_data(target: Target, scope: Scope | None) -> dict[str, Any]:
    store = StateStore(target.client("dynamodb"), target.output("StateTableName"), DEFAULT_PLAN)
    records: list[ScopeRecord] = store.list_scopes()
    if scope is not None:
        records = [r for r in records if r.scope_key == scope.key]
    default = Scope(service=target.output("ServiceName"), environment=target.output("EnvironmentName"))
    deployed = deployed_version(target)
    now = target.now()
    versions = client_versions(target, scope or default, now)
    prefix = target.output("AlarmNamePrefix")
    alarms = firing_alarms(target)
    sfn = target.client("stepfunctions")
    scopes = []
    for record in records:
        execution = None
        if record.execution_arn:
            try:
                execution = sfn.describe_execution(executionArn=record.execution_arn)["status"]
            except Exception as exc:  # a stopped stack may have forgotten it: show why, keep going
                execution = f"unknown ({type(exc).__name__})"
        scopes.append(
            {
                "scope": record.scope_key,
                "state": record.state,
                "incident_id": record.incident_id,
                "stage": record.lifecycle.stage,
                "applied_stage": record.lifecycle.applied_stage,
                "execution": execution,
                "pending_approval": record.pending_approval.stage if record.pending_approval else None,
                "alarms_seen_firing": [a.alarm_name.removeprefix(prefix) for a in record.firing_alarms()],
                "deployed_config_version": record.deployed_config_version,
                "pre_incident_config_version": record.pre_incident_config_version,
                "since": record.lifecycle.since.isoformat() if record.lifecycle.since else None,
                "updated_by": record.updated_by,
            }
        )
    if scope is not None and not scopes:
        scopes.append({"scope": scope.key, "state": "NORMAL", "incident_id": None, "stage": None})
    converged = None
    if versions is not None and deployed.document_version is not None:
        converged = versions[0] >= deployed.document_version
    return {
        "target": target.description,
        "at": now.isoformat(),
        "scopes": scopes,
        "alarms_firing": [a["AlarmName"].removeprefix(prefix) for a in alarms],
        "deployed": {
            "config_version": deployed.version,
            "document_version": deployed.document_version,
            "deployment_number": deployed.number,
            "state": deployed.state,
        },
        "clients": None
        if versions is None
        else {"min_config_version": versions[0], "max_config_version": versions[1], "converged": converged},
    }


def status_command(
    *,
    scope: ScopeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
    template: TemplateOpt = Path("template.yaml"),
) -> None:
    """Lifecycle state per scope, open incident, stage, alarms, deployed toggles and client convergence."""
    chosen = parse_scope(scope) if scope else None
    with friendly_errors():
        resolved = resolve(
            target=target, stack=stack, region=region, state_file=state_file, template=template, notice=notice
        )
        try:
            if chosen is not None:
                check_scope_in_stack(chosen, resolved)
            data = status_data(resolved, chosen)
        finally:
            resolved.close()
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    render(data)


def render(data: dict[str, Any]) -> None:
    out = console()
    out.print(f"[bold]failsafe status[/] on {data['target']} at {data['at']}")
    table = Table(title_justify="left")
    for column in ("scope", "state", "stage (applied)", "incident", "workflow", "waiting for"):
        table.add_column(column)
    for s in data["scopes"]:
        stage = s.get("stage") or "-"
        if s.get("applied_stage"):
            stage += f" ({s['applied_stage']})"
        colour = (
            "green" if s["state"] == "NORMAL" else "red" if s["state"] == "ROLLBACK_PENDING" else "yellow"
        )
        table.add_row(
            s["scope"],
            f"[{colour}]{s['state']}[/]",
            stage,
            s.get("incident_id") or "-",
            s.get("execution") or "-",
            s.get("pending_approval") or "-",
        )
    if not data["scopes"]:
        table.add_row("(every scope)", "[green]NORMAL[/]", "-", "-", "-", "-")
    out.print(table)
    alarms = data["alarms_firing"]
    out.print(f"[bold]alarms in ALARM[/]: {', '.join(alarms) if alarms else 'none'}")
    deployed = data["deployed"]
    out.print(
        f"[bold]deployed toggles[/]: config version {deployed['config_version'] or '-'} "
        f"(document version {deployed['document_version'] or '-'}) "
        f"(deployment #{deployed['deployment_number'] or '-'}, {deployed['state'] or 'nothing deployed'})"
    )
    clients = data["clients"]
    if clients is None:
        out.print("[bold]clients[/]: no ConfigVersion metric in the last 5 minutes (no recommender traffic?)")
    else:
        verdict = {True: "[green]converged[/]", False: "[yellow]not converged yet[/]", None: "-"}[
            clients["converged"]
        ]
        out.print(
            f"[bold]clients[/]: serving config versions {clients['min_config_version']:g}.."
            f"{clients['max_config_version']:g} in the last minute: {verdict}"
        )
