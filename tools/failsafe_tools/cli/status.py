"""`failsafe status [--scope S]`: lifecycle state per scope, the open incident and its stage, the alarms, the
deployed toggle version and whether the recommender clients converged on it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.state_store import StateStore
from failsafe.domain import metrics as contract
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.records import ScopeRecord
from failsafe.domain.scope import DIMENSION_ENVIRONMENT, DIMENSION_SERVICE, Scope, ScopeError
from failsafe.reporting.timeline import document_version
from failsafe_tools.cli.options import RegionOpt, StackOpt, StateFileOpt, TargetOpt
from failsafe_tools.cli.output import (
    FAILED,
    INTERRUPTED,
    console,
    duration,
    emit_json,
    fail,
    friendly_errors,
    notice,
    safe,
)
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


IN_FLIGHT_STATES = ("BAKING", "VALIDATING", "DEPLOYING", "ROLLING_BACK")
ENDED_WORKFLOW = ("FAILED", "TIMED_OUT", "ABORTED")
NEEDS_PERSON = 3
WATCH_POLL_SECONDS = 1.0


def _pause(seconds: float) -> None:
    """The watcher's wait between polls (tests replace it to move a simulated clock instead)."""
    time.sleep(seconds)


def in_flight_deployments(target: Target) -> list[dict[str, Any]]:
    """AppConfig deployments of the environment that have not finished: number, version, strategy, %."""
    appconfig = target.client("appconfig")
    app, env = target.output("AppConfigApplicationId"), target.output("AppConfigEnvironmentId")
    items = appconfig.list_deployments(ApplicationId=app, EnvironmentId=env).get("Items", [])
    names = {
        target.outputs.get("AppConfigImmediateStrategyId"): "immediate",
        target.outputs.get("AppConfigGradualStrategyId"): "gradual",
    }
    found = []
    for item in sorted(items, key=lambda i: int(i["DeploymentNumber"])):
        if item.get("State") not in IN_FLIGHT_STATES:
            continue
        # ListDeployments' summaries carry no strategy id: ask for the (few) deployments in flight
        detail = appconfig.get_deployment(
            ApplicationId=app, EnvironmentId=env, DeploymentNumber=int(item["DeploymentNumber"])
        )
        strategy = str(detail.get("DeploymentStrategyId", ""))
        found.append(
            {
                "deployment_number": int(item["DeploymentNumber"]),
                "config_version": int(item["ConfigurationVersion"]),
                "state": str(item["State"]),
                "strategy": names.get(strategy) or strategy,
                "percentage_complete": float(item.get("PercentageComplete", 0.0)),
            }
        )
    return found


def revert_skipped_in(target: Target, record: ScopeRecord) -> str | None:
    """Why the revert of the incident did not happen, when its action stage is "applied" but the audit log
    says `release:revert_skipped` (the stage column alone would claim the revert is in force)."""
    applied = record.lifecycle.applied_stage
    if not record.incident_id or applied is None or applied not in DEFAULT_PLAN.stage_names:
        return None
    if DEFAULT_PLAN.stage(applied).action is None:
        return None
    audit = AuditLog(target.client("dynamodb"), target.output("AuditTableName"))
    skipped = [
        e for e in audit.entries(incident_id=record.incident_id) if e.action == "release:revert_skipped"
    ]
    return skipped[-1].reason if skipped else None


def waiting_for(record: ScopeRecord, execution: str | None, now: datetime, deploying: bool) -> str | None:
    """What the scope waits for, in the operator's words (None: nothing, it is NORMAL and settled)."""
    life = record.lifecycle
    pending = record.pending_approval
    if pending is not None:
        return (
            f"approval of {pending.stage} by someone other than {pending.requested_by} (expires "
            f"{pending.expires_at:%H:%M:%S}): failsafe approve {record.incident_id}"
        )
    if record.incident_id and execution in ENDED_WORKFLOW:
        return f"a person: the workflow ended {execution}; failsafe rollback --level ... or failsafe recover"
    if life.stage is not None and life.stage != life.applied_stage and record.incident_id:
        deadline = f" (deadline {life.deadline_at:%H:%M:%S})" if life.deadline_at else ""
        return f"{life.stage} to be in force{deadline}"
    if record.state == "RECOVERY_VERIFY" and life.verify_until is not None:
        left = max(0.0, (life.verify_until - now).total_seconds())
        return f"the verify window: green until {life.verify_until:%H:%M:%S} ({duration(left)} left)"
    if record.incident_id and record.hold_until_recovered:
        return (
            "a person to recover it: the level holds until recovered "
            f"(failsafe recover --scope {record.scope_key} --reason ...)"
        )
    if deploying:
        return "the deployment in flight to complete"
    if record.incident_id:
        return "the guardrails to be green with traffic (then the verify window)"
    return None


def status_data(target: Target, scope: Scope | None) -> dict[str, Any]:
    store = StateStore(target.client("dynamodb"), target.output("StateTableName"), DEFAULT_PLAN)
    records: list[ScopeRecord] = store.list_scopes()
    if scope is not None:
        records = [r for r in records if r.scope_key == scope.key]
    default = Scope(service=target.output("ServiceName"), environment=target.output("EnvironmentName"))
    deployed = deployed_version(target)
    in_flight = in_flight_deployments(target)
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
        pending = record.pending_approval
        skipped = revert_skipped_in(target, record)
        scopes.append(
            {
                "scope": record.scope_key,
                "state": record.state,
                "incident_id": record.incident_id,
                "stage": record.lifecycle.stage,
                "applied_stage": record.lifecycle.applied_stage,
                "execution": execution,
                "pending_approval": pending.stage if pending else None,
                "approval_expires_at": pending.expires_at.isoformat() if pending else None,
                "held_until_recovered": bool(record.incident_id and record.hold_until_recovered),
                "revert_skipped": skipped,
                "waiting_for": waiting_for(record, execution, now, bool(in_flight)),
                "verify_until": record.lifecycle.verify_until.isoformat()
                if record.lifecycle.verify_until
                else None,
                "alarms_seen_firing": [a.alarm_name.removeprefix(prefix) for a in record.firing_alarms()],
                "deployed_config_version": record.deployed_config_version,
                "pre_incident_config_version": record.pre_incident_config_version,
                "since": record.lifecycle.since.isoformat() if record.lifecycle.since else None,
                "updated_by": record.updated_by,
            }
        )
    if scope is not None and not scopes:
        scopes.append(
            {
                "scope": scope.key,
                "state": "NORMAL",
                "incident_id": None,
                "stage": None,
                "waiting_for": "the deployment in flight to complete" if in_flight else None,
            }
        )
    converged = None
    if versions is not None and deployed.document_version is not None:
        converged = versions[0] >= deployed.document_version
    return {
        "target": target.description,
        "at": now.isoformat(),
        "clock": target.clock_note or "real time",
        "scopes": scopes,
        "alarms_firing": [a["AlarmName"].removeprefix(prefix) for a in alarms],
        "deployed": {
            "config_version": deployed.version,
            "document_version": deployed.document_version,
            "deployment_number": deployed.number,
            "state": deployed.state,
        },
        "deployments_in_flight": in_flight,
        "clients": None
        if versions is None
        else {"min_config_version": versions[0], "max_config_version": versions[1], "converged": converged},
    }


def verdict(data: dict[str, Any]) -> tuple[str, int] | None:
    """When `status --watch` ends: (why, exit code), or None to keep watching.

    NORMAL with nothing deploying ends with 0; a scope that needs a person (an approval, a workflow that
    ended, a level held until recovered and in force) ends with NEEDS_PERSON."""
    for s in data["scopes"]:
        pending = s.get("pending_approval")
        if pending:
            return f"{s['scope']} waits for a person: {s.get('waiting_for')}", NEEDS_PERSON
        if s.get("incident_id") and s.get("execution") in ENDED_WORKFLOW:
            return f"{s['scope']}: the workflow ended {s['execution']}; a person must act", NEEDS_PERSON
        if s.get("held_until_recovered") and s.get("stage") == s.get("applied_stage"):
            in_force = (
                f"{s.get('applied_stage')} did not happen ({s['revert_skipped']}); the stages before it are "
                "in force"
                if s.get("revert_skipped")
                else f"{s.get('applied_stage')} is in force"
            )
            return (
                f"{s['scope']}: {in_force} and held until recovered "
                f"(failsafe recover --scope {s['scope']} --reason ...)",
                NEEDS_PERSON,
            )
    settled = not data["deployments_in_flight"]
    if settled and all(s["state"] == "NORMAL" for s in data["scopes"]):
        return "NORMAL, nothing deploying", 0
    return None


def summary_line(data: dict[str, Any]) -> str:
    """One plain line per change, for a log or CI (no terminal to redraw)."""
    parts = [f"{clock_of(data)}"]
    for s in data["scopes"] or [{"scope": "(every scope)", "state": "NORMAL"}]:
        stage = s.get("stage") or "-"
        if s.get("applied_stage"):
            stage += f" (applied {s['applied_stage']})"
        if s.get("revert_skipped"):
            stage += f" (revert skipped: {s['revert_skipped']})"
        part = f"{s['scope']} {s['state']} stage {stage}"
        if s.get("execution"):
            part += f" workflow {s['execution']}"
        if s.get("waiting_for"):
            part += f"; waiting for {s['waiting_for']}"
        parts.append(part)
    for d in data["deployments_in_flight"]:
        parts.append(
            f"deploying config version {d['config_version']} (#{d['deployment_number']}, {d['strategy']}, "
            f"{d['percentage_complete']:.0f}%, {d['state']})"
        )
    alarms = data["alarms_firing"]
    parts.append(f"alarms: {', '.join(alarms) if alarms else 'none'}")
    clients = data.get("clients")
    if clients is not None:
        parts.append(
            f"clients {clients['min_config_version']:g}..{clients['max_config_version']:g}"
            + (" converged" if clients["converged"] else " converging")
        )
    return " | ".join(parts)


def clock_of(data: dict[str, Any]) -> str:
    at = datetime.fromisoformat(data["at"])
    note = data.get("clock") or ""
    return f"{at:%H:%M:%S}" + (f" ({note})" if note and note != "real time" else "")


def status_command(
    *,
    scope: ScopeOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (with --watch: one line per change).")
    ] = False,
    watch_: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="Follow live (redraws in place on a terminal, one line per change otherwise) until the "
            "scope is NORMAL with nothing deploying (exit 0) or needs a person (exit 3).",
        ),
    ] = False,
    watch_timeout: Annotated[
        float, typer.Option("--watch-timeout", help="With --watch: give up after this many seconds (exit 1).")
    ] = 3600.0,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
) -> None:
    """Lifecycle state per scope, open incident, stage, alarms, deployed toggles and client convergence."""
    chosen = parse_scope(scope) if scope else None
    code = 0
    with friendly_errors():
        resolved = resolve(target=target, stack=stack, region=region, state_file=state_file, notice=notice)
        try:
            if chosen is not None:
                check_scope_in_stack(chosen, resolved)
            if watch_:
                code = watch(resolved, chosen, as_json=as_json, timeout=watch_timeout)
            else:
                data = status_data(resolved, chosen)
        finally:
            resolved.close()
    if watch_:
        if code:
            raise typer.Exit(code)
        return
    if as_json:
        emit_json(data)
        return
    render(data)


def watch(target: Target, scope: Scope | None, *, as_json: bool = False, timeout: float = 3600.0) -> int:
    """`status --watch`: redraw in place on a terminal, print one line per change otherwise (or JSON lines).
    Ends with 0 on NORMAL, NEEDS_PERSON when a person must act, 1 after `timeout` wall seconds."""
    out = console()
    started = time.monotonic()
    last = None
    live = None
    if out.is_terminal and not as_json:
        live = Live(Group(*renderables(status_data(target, scope))), console=out, auto_refresh=False)
        live.start()
    try:
        while True:
            data = status_data(target, scope)
            ended = verdict(data)
            if live is not None:
                live.update(Group(*renderables(data)), refresh=True)
            elif as_json:
                key = json.dumps({**data, "at": None}, sort_keys=True, default=str)
                if key != last:
                    last = key
                    typer.echo(json.dumps(data, sort_keys=True, default=str))
            else:
                line = summary_line(data)
                if line.split(" | ", 1)[-1] != last:
                    last = line.split(" | ", 1)[-1]
                    out.print(safe(line))
            if ended is not None:
                if live is not None:
                    live.stop()
                    live = None
                if not as_json:
                    colour = "green" if ended[1] == 0 else "yellow"
                    out.print(f"[{colour}]{safe(ended[0])}[/] at {safe(clock_of(data))}")
                return ended[1]
            if time.monotonic() - started >= timeout:
                if not as_json:
                    out.print(
                        f"[yellow]still not settled after {timeout:.0f} s[/]; run it again to follow on"
                    )
                return FAILED
            _pause(WATCH_POLL_SECONDS)
    except KeyboardInterrupt:
        out.print("\nstopped watching; nothing was changed")
        return INTERRUPTED
    finally:
        if live is not None:
            live.stop()


def render(data: dict[str, Any]) -> None:
    out = console()
    for part in renderables(data):
        out.print(part)


def renderables(data: dict[str, Any]) -> list[RenderableType]:
    parts: list[RenderableType] = [
        Text.from_markup(f"[bold]failsafe status[/] on {safe(data['target'])} at {safe(clock_of(data))}")
    ]
    table = Table(title_justify="left")
    for column in ("scope", "state", "stage (applied)", "incident", "workflow", "waiting for"):
        table.add_column(column)
    for s in data["scopes"]:
        stage = s.get("stage") or "-"
        if s.get("applied_stage"):
            stage += f" ({s['applied_stage']})"
        if s.get("revert_skipped"):
            stage += f"\nrevert skipped: {s['revert_skipped']}"
        colour = (
            "green" if s["state"] == "NORMAL" else "red" if s["state"] == "ROLLBACK_PENDING" else "yellow"
        )
        table.add_row(
            safe(s["scope"]),
            f"[{colour}]{s['state']}[/]",
            safe(stage),
            safe(s.get("incident_id") or "-"),
            safe(s.get("execution") or "-"),
            safe(s.get("waiting_for") or "-"),
        )
    if not data["scopes"]:
        table.add_row("(every scope)", "[green]NORMAL[/]", "-", "-", "-", "-")
    parts.append(table)
    alarms = data["alarms_firing"]
    parts.append(
        Text.from_markup(f"[bold]alarms in ALARM[/]: {safe(', '.join(alarms)) if alarms else 'none'}")
    )
    deployed = data["deployed"]
    parts.append(
        Text.from_markup(
            f"[bold]deployed toggles[/]: config version {deployed['config_version'] or '-'} "
            f"(document version {deployed['document_version'] or '-'}) "
            f"(deployment #{deployed['deployment_number'] or '-'}, {deployed['state'] or 'nothing deployed'})"
        )
    )
    for d in data["deployments_in_flight"]:
        parts.append(
            Text.from_markup(
                f"[bold yellow]deploying[/]: config version {d['config_version']} (deployment "
                f"#{d['deployment_number']}, {d['strategy']} strategy): {d['percentage_complete']:.0f}% "
                f"({d['state']})"
            )
        )
    clients = data["clients"]
    if clients is None:
        parts.append(
            Text.from_markup(
                "[bold]clients[/]: no ConfigVersion metric in the last 5 minutes (no recommender traffic?)"
            )
        )
    else:
        verdict_text = {True: "[green]converged[/]", False: "[yellow]not converged yet[/]", None: "-"}[
            clients["converged"]
        ]
        parts.append(
            Text.from_markup(
                f"[bold]clients[/]: serving config versions {clients['min_config_version']:g}.."
                f"{clients['max_config_version']:g} in the last minute: {verdict_text}"
            )
        )
    return parts
