"""`failsafe validate [--timing]`: seed 004's validation script as pre-flight checks.

Each check is a function over a resolved `Target` (boto3 clients + stack outputs) that returns `Check`s
with a status (pass, warn, fail), what was found and how to fix it. The command prints them and exits 1
when any check fails (warnings do not fail it).

- the stack outputs the CLI needs exist, and so do the resources behind them;
- the AppConfig toggles profile has both validators attached (JSON Schema and the Lambda validator);
- every guardrail of the catalog has its alarm: it exists, its actions are enabled, it is not already in
  ALARM, its TreatMissingData is sensible, its threshold and periods match the catalog, and the EventBridge
  rule that feeds AlarmIngest matches its name;
- the PagerDuty routing-key secret has a value;
- the catalog is consistent (no severity inversions, no duplicate or unreachable rules);
- with `--timing`: each manual level is run in a shadow scope and timed against its target.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, ConfigDict
from rich.table import Table

from failsafe.aws.audit_log import AuditEntry, AuditLog
from failsafe.domain.catalog import DEFAULT_CATALOG, GuardrailCatalog, check_catalog
from failsafe.domain.plans import DEFAULT_PLAN, Level, Plan
from failsafe.domain.scope import Scope
from failsafe_tools.cli.output import FAILED, console, friendly_errors
from failsafe_tools.cli.rollback import open_target, target_args
from failsafe_tools.cli.target import (
    FunctionFailed,
    RegionOpt,
    StackOpt,
    StateFileOpt,
    Target,
    TargetOpt,
    TemplateOpt,
)
from failsafe_tools.local.server import DEFAULT_STATE_FILE

Status = Literal["pass", "warn", "fail"]

REQUIRED_OUTPUTS = (
    "StateMachineArn",
    "StateTableName",
    "AuditTableName",
    "NotificationTopicArn",
    "PagerDutySecretArn",
    "ReportBucketName",
    "AppConfigApplicationId",
    "AppConfigEnvironmentId",
    "AppConfigProfileId",
    "AppConfigImmediateStrategyId",
    "AppConfigGradualStrategyId",
    "AlarmNamePrefix",
    "ServiceName",
    "EnvironmentName",
    "AlarmIngestFunctionName",
    "ManualRollbackFunctionName",
    "ApprovalCallbackFunctionName",
    "IncidentReportFunctionName",
)
SHADOW_REGION = "failsafe-shadow"
SENSIBLE_MISSING_DATA = ("notBreaching", "ignore")


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str
    name: str
    status: Status
    detail: str
    fix: str = ""


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return (
        str(response.get("Error", {}).get("Code", type(exc).__name__))
        if isinstance(response, dict)
        else type(exc).__name__
    )


def check_outputs(target: Target) -> list[Check]:
    missing = [key for key in REQUIRED_OUTPUTS if not target.outputs.get(key)]
    if missing:
        return [
            Check(
                group="stack",
                name="outputs",
                status="fail",
                detail=f"missing outputs: {', '.join(missing)}",
                fix="deploy the current template.yaml (sam build && sam deploy)",
            )
        ]
    return [
        Check(group="stack", name="outputs", status="pass", detail=f"{len(REQUIRED_OUTPUTS)} outputs present")
    ]


def _function_probe(target: Target, name: str) -> Callable[[], object]:
    return lambda: target.client("lambda").get_function(FunctionName=name)


def check_resources(target: Target) -> list[Check]:
    o = target.outputs
    probes: list[tuple[str, str, Callable[[], object]]] = [
        (
            "StateTableName",
            "DynamoDB table",
            lambda: target.client("dynamodb").describe_table(TableName=o["StateTableName"]),
        ),
        (
            "AuditTableName",
            "DynamoDB table",
            lambda: target.client("dynamodb").describe_table(TableName=o["AuditTableName"]),
        ),
        (
            "StateMachineArn",
            "state machine",
            lambda: target.client("stepfunctions").describe_state_machine(
                stateMachineArn=o["StateMachineArn"]
            ),
        ),
        (
            "NotificationTopicArn",
            "SNS topic",
            lambda: target.client("sns").get_topic_attributes(TopicArn=o["NotificationTopicArn"]),
        ),
        (
            "ReportBucketName",
            "S3 bucket",
            lambda: target.client("s3").head_bucket(Bucket=o["ReportBucketName"]),
        ),
        (
            "AppConfigApplicationId",
            "AppConfig application",
            lambda: target.client("appconfig").get_application(ApplicationId=o["AppConfigApplicationId"]),
        ),
        (
            "AppConfigEnvironmentId",
            "AppConfig environment",
            lambda: target.client("appconfig").get_environment(
                ApplicationId=o["AppConfigApplicationId"], EnvironmentId=o["AppConfigEnvironmentId"]
            ),
        ),
        (
            "AppConfigImmediateStrategyId",
            "deployment strategy",
            lambda: target.client("appconfig").get_deployment_strategy(
                DeploymentStrategyId=o["AppConfigImmediateStrategyId"]
            ),
        ),
        (
            "AppConfigGradualStrategyId",
            "deployment strategy",
            lambda: target.client("appconfig").get_deployment_strategy(
                DeploymentStrategyId=o["AppConfigGradualStrategyId"]
            ),
        ),
    ]
    for key in sorted(k for k in o if k.endswith("FunctionName")):
        probes.append((key, "Lambda function", _function_probe(target, o[key])))
    checks = []
    for key, kind, probe in probes:
        if not o.get(key):
            continue
        try:
            probe()
        except Exception as exc:
            checks.append(
                Check(
                    group="stack",
                    name=key,
                    status="fail",
                    detail=f"{kind} {o[key]} not found ({_code(exc)})",
                    fix="redeploy the stack; a resource was deleted or renamed outside CloudFormation",
                )
            )
        else:
            checks.append(Check(group="stack", name=key, status="pass", detail=f"{kind} {o[key]} exists"))
    return checks


def check_validators(target: Target) -> list[Check]:
    profile = target.client("appconfig").get_configuration_profile(
        ApplicationId=target.output("AppConfigApplicationId"),
        ConfigurationProfileId=target.output("AppConfigProfileId"),
    )
    kinds = {v.get("Type") for v in profile.get("Validators", [])}
    checks = []
    for kind, what in (("JSON_SCHEMA", "the generated JSON Schema"), ("LAMBDA", "the semantic-rules Lambda")):
        if kind in kinds:
            checks.append(
                Check(
                    group="appconfig", name=f"{kind} validator", status="pass", detail=f"{what} is attached"
                )
            )
        else:
            checks.append(
                Check(
                    group="appconfig",
                    name=f"{kind} validator",
                    status="fail",
                    detail=f"the toggles profile has no {kind} validator ({what})",
                    fix="attach it as template.yaml's ToggleProfile does and redeploy",
                )
            )
    return checks


def _pattern_matches_name(pattern: dict[str, Any], name: str) -> bool:
    """Does an EventBridge pattern accept an alarm state change of alarm `name`? (source, detail-type and
    detail.alarmName with exact values or `prefix` filters; other detail fields are not constrained here)."""
    if "aws.cloudwatch" not in pattern.get("source", ["aws.cloudwatch"]):
        return False
    if "CloudWatch Alarm State Change" not in pattern.get("detail-type", ["CloudWatch Alarm State Change"]):
        return False
    filters = pattern.get("detail", {}).get("alarmName")
    if filters is None:
        return True
    for item in filters:
        if isinstance(item, str) and item == name:
            return True
        if isinstance(item, dict) and "prefix" in item and name.startswith(str(item["prefix"])):
            return True
    return False


def ingest_patterns(target: Target) -> list[dict[str, Any]]:
    """Event patterns of the enabled rules whose targets include the AlarmIngest function."""
    events = target.client("events")
    ingest = target.output("AlarmIngestFunctionName")
    patterns = []
    for bus in ("default",):
        kwargs: dict[str, Any] = {"EventBusName": bus}
        while True:
            page = events.list_rules(**kwargs)
            for rule in page.get("Rules", []):
                if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                    continue
                targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus).get("Targets", [])
                if any(
                    str(t.get("Arn", "")).endswith(f":function:{ingest}") or ingest in str(t.get("Arn", ""))
                    for t in targets
                ):
                    patterns.append(json.loads(rule["EventPattern"]))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return patterns


def check_alarms(target: Target, catalog: GuardrailCatalog = DEFAULT_CATALOG) -> list[Check]:
    prefix = target.output("AlarmNamePrefix")
    cloudwatch = target.client("cloudwatch")
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"AlarmNamePrefix": prefix}
    while True:
        page = cloudwatch.describe_alarms(**kwargs)
        for alarm in page.get("MetricAlarms", []):
            found[alarm["AlarmName"]] = alarm
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    patterns = ingest_patterns(target)
    checks: list[Check] = []
    if not patterns:
        checks.append(
            Check(
                group="alarms",
                name="EventBridge rule",
                status="fail",
                detail="no enabled EventBridge rule targets the AlarmIngest function",
                fix="deploy template.yaml (AlarmIngestFunction's GuardrailAlarmStateChange event)",
            )
        )
    for rule in catalog.rules:
        name = f"{prefix}{rule.name}"
        alarm = found.get(name)
        if alarm is None:
            checks.append(
                Check(
                    group="alarms",
                    name=rule.name,
                    status="fail",
                    detail=f"alarm {name} does not exist",
                    fix="regenerate the alarms (python infra/sync_template.py) and redeploy",
                )
            )
            continue
        problems: list[tuple[Status, str, str]] = []
        if not alarm.get("ActionsEnabled", True):
            problems.append(
                ("fail", "actions are disabled", f"aws cloudwatch enable-alarm-actions --alarm-names {name}")
            )
        if alarm.get("StateValue") == "ALARM":
            problems.append(
                (
                    "fail",
                    "already in ALARM",
                    "find out why before a deployment: AppConfig monitors would roll it back",
                )
            )
        missing = alarm.get("TreatMissingData", "missing")
        if missing not in SENSIBLE_MISSING_DATA:
            why = (
                "missing data counts as breaching: a quiet minute would start a rollback"
                if missing == "breaching"
                else "missing data leaves the alarm INSUFFICIENT_DATA, so recovery is never confirmed"
            )
            problems.append(
                ("warn", f"TreatMissingData={missing}: {why}", "set TreatMissingData: notBreaching")
            )
        expected = catalog.threshold_of(rule)
        if abs(float(alarm.get("Threshold", expected)) - expected) > 1e-9:
            problems.append(
                (
                    "fail",
                    f"threshold {alarm.get('Threshold')} differs from the catalog's {expected:g}",
                    "redeploy with the catalog's parameters (infra/sync_template.py)",
                )
            )
        if int(alarm.get("EvaluationPeriods", rule.evaluation_periods)) != rule.evaluation_periods:
            problems.append(
                (
                    "fail",
                    f"{alarm.get('EvaluationPeriods')} evaluation periods, "
                    f"catalog says {rule.evaluation_periods}",
                    "redeploy with the catalog's periods",
                )
            )
        if int(alarm.get("DatapointsToAlarm", rule.datapoints)) != rule.datapoints:
            problems.append(
                (
                    "fail",
                    f"{alarm.get('DatapointsToAlarm')} datapoints to alarm, catalog says {rule.datapoints}",
                    "redeploy with the catalog's datapoints (infra/sync_template.py)",
                )
            )
        if patterns and not any(_pattern_matches_name(p, name) for p in patterns):
            problems.append(
                (
                    "fail",
                    "not matched by the AlarmIngest EventBridge rule",
                    "widen the rule's alarmName prefix",
                )
            )
        if not problems:
            checks.append(
                Check(
                    group="alarms",
                    name=rule.name,
                    status="pass",
                    detail=f"{alarm.get('StateValue')}, actions on, TreatMissingData={missing}, "
                    "wired to AlarmIngest",
                )
            )
        for status, detail, fix in problems:
            checks.append(Check(group="alarms", name=rule.name, status=status, detail=detail, fix=fix))
    return checks


def check_pagerduty(target: Target) -> list[Check]:
    arn = target.output("PagerDutySecretArn")
    try:
        value = target.client("secretsmanager").get_secret_value(SecretId=arn)
    except Exception as exc:
        return [
            Check(
                group="notifications",
                name="PagerDuty secret",
                status="fail",
                detail=f"the routing key secret has no value ({_code(exc)})",
                fix=f"aws secretsmanager put-secret-value --secret-id {arn} --secret-string <routing key>",
            )
        ]
    if not (value.get("SecretString") or value.get("SecretBinary")):
        return [
            Check(
                group="notifications",
                name="PagerDuty secret",
                status="fail",
                detail="the secret is empty",
                fix="put the routing key",
            )
        ]
    return [
        Check(
            group="notifications",
            name="PagerDuty secret",
            status="pass",
            detail="routing key present (not shown)",
        )
    ]


def check_catalog_consistency(catalog: GuardrailCatalog = DEFAULT_CATALOG) -> list[Check]:
    findings = check_catalog(catalog)
    if not findings:
        return [
            Check(
                group="catalog",
                name="consistency",
                status="pass",
                detail=f"{len(catalog.rules)} rules, no findings",
            )
        ]
    return [
        Check(
            group="catalog",
            name=finding.code,
            status="fail",
            detail=finding.message,
            fix="fix infra/catalog/guardrails.json",
        )
        for finding in findings
    ]


class LevelTiming(BaseModel):
    """One level's time to mitigate, read from the incident's audit entries (simulated-clock timestamps)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opened: datetime
    applied: datetime

    @property
    def seconds(self) -> float:
        return (self.applied - self.opened).total_seconds()


def level_timing(entries: Sequence[AuditEntry], stage: str) -> LevelTiming | None:
    """From the incident's first audit entry (the level requested) to the transition that put `stage` in
    force; None while that transition is not in the log yet."""
    applied = next(
        (
            e.at
            for e in entries
            if e.action.startswith("transition") and e.after.get("applied_stage") == stage
        ),
        None,
    )
    if not entries or applied is None:
        return None
    return LevelTiming(opened=entries[0].at, applied=applied)


def wait_for_level(
    read: Callable[[], Sequence[AuditEntry]],
    stage: str,
    *,
    timeout: float = 120.0,
    interval: float = 0.25,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> LevelTiming | None:
    """Poll the incident's audit entries until the one that put `stage` in force is there (the scope's
    record is saved before that entry is appended, so the record alone says too early). `timeout` is how
    long (wall seconds) the CLI is willing to wait; the measurement itself is the entries' timestamps."""
    deadline = monotonic() + timeout
    while True:
        timing = level_timing(read(), stage)
        if timing is not None or monotonic() >= deadline:
            return timing
        sleep(interval)


def time_levels(
    target: Target,
    levels: Iterable[Level] = (Level.ONE, Level.TWO, Level.EMERGENCY),
    plan: Plan = DEFAULT_PLAN,
) -> list[Check]:
    """Run each level by hand in a shadow scope (a region no traffic uses), time it from the audit log
    (incident opened -> stage applied, on the stack's own clock), then recover the scope. Level 3 is not
    run: it reverts the release for all traffic; rehearse it with `failsafe drill --scenario manual-level-3`.
    """
    scope = Scope(
        service=target.output("ServiceName"),
        environment=target.output("EnvironmentName"),
        regions=(SHADOW_REGION,),
    )
    audit = AuditLog(target.client("dynamodb"), target.output("AuditTableName"))
    checks = []
    for level in levels:
        stage = plan.final_stage_of(level)
        request = {
            "action": "rollback",
            "level": level.value,
            "scope": scope.key,
            "requested_by": "failsafe-validate",
            "reason": f"failsafe validate --timing: level {level.value} in the shadow scope",
        }
        try:
            result = target.invoke("ManualRollbackFunctionName", request)
        except FunctionFailed as exc:
            checks.append(
                Check(group="timing", name=f"level {level.value}", status="fail", detail=exc.message)
            )
            continue
        incident = str(result.get("incident_id"))
        timing = wait_for_level(partial(audit.entries, incident_id=incident), stage.name)
        try:
            target.invoke(
                "ManualRollbackFunctionName",
                {
                    **request,
                    "action": "recover",
                    "immediate": True,
                    "reason": "failsafe validate --timing: done",
                },
            )
        except FunctionFailed as exc:
            checks.append(
                Check(
                    group="timing",
                    name=f"level {level.value} recover",
                    status="fail",
                    detail=exc.message,
                    fix=f"failsafe recover --scope {scope.key} --reason 'validate cleanup'",
                )
            )
        checks.append(timing_check(level, stage.name, stage.target_seconds, incident, timing))
    checks.append(
        Check(
            group="timing",
            name="level 3",
            status="warn",
            detail="not run: level 3 reverts the release for all traffic, not just a shadow scope",
            fix="rehearse it with: failsafe drill --scenario manual-level-3",
        )
    )
    return checks


def timing_check(
    level: Level, stage: str, target_seconds: int, incident: str, timing: LevelTiming | None
) -> Check:
    if timing is None:
        return Check(
            group="timing",
            name=f"level {level.value}",
            status="fail",
            detail=f"{stage} was not applied within 120 s wall time (incident {incident})",
            fix=f"failsafe report {incident}",
        )
    met = timing.seconds <= target_seconds
    return Check(
        group="timing",
        name=f"level {level.value}",
        status="pass" if met else "fail",
        detail=f"{stage} applied in {timing.seconds:.0f} s (target {target_seconds} s), incident {incident}",
        fix="" if met else "look at the deployment and notification steps in the incident report",
    )


def run_checks(target: Target, timing: bool = False) -> list[Check]:
    checks = check_outputs(target)
    if any(c.status == "fail" for c in checks):
        return checks
    for group in (check_resources, check_validators, check_alarms, check_pagerduty):
        try:
            checks += group(target)
        except Exception as exc:
            checks.append(
                Check(
                    group=group.__name__.removeprefix("check_"),
                    name="check",
                    status="fail",
                    detail=f"could not run: {_code(exc)}: {str(exc).splitlines()[0][:200]}",
                )
            )
    checks += check_catalog_consistency()
    if timing:
        checks += time_levels(target)
    return checks


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)


def validate_command(
    *,
    timing: Annotated[bool, typer.Option("--timing", help="Also time each level in a shadow scope.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    target: TargetOpt = "local",
    stack: StackOpt = None,
    region: RegionOpt = None,
    state_file: StateFileOpt = DEFAULT_STATE_FILE,
    template: TemplateOpt = Path("template.yaml"),
) -> None:
    """Pre-flight checks of a failsafe stack: pass / warn / fail, exit 1 on any failure."""
    with friendly_errors():
        resolved = open_target(target_args(target, stack, region, state_file, template))
        try:
            checks = run_checks(resolved, timing=timing)
            where = resolved.description
        finally:
            resolved.close()
    failed = [c for c in checks if c.status == "fail"]
    if as_json:
        typer.echo(json.dumps([c.model_dump() for c in checks], indent=2))
    else:
        out = console()
        table = Table(title=f"failsafe validate: {where}", title_justify="left")
        for column in ("group", "check", "result", "detail", "fix"):
            table.add_column(column)
        colour = {"pass": "green", "warn": "yellow", "fail": "red"}
        for c in checks:
            table.add_row(c.group, c.name, f"[{colour[c.status]}]{c.status.upper()}[/]", c.detail, c.fix)
        out.print(table)
        warned = sum(c.status == "warn" for c in checks)
        out.print(f"{len(checks) - len(failed) - warned} passed, {warned} warnings, {len(failed)} failed")
    if failed:
        raise typer.Exit(FAILED)
