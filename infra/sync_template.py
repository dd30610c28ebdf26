"""Keep the generated sections of template.yaml in step with the data they come from.

CloudFormation cannot read files, so three things are rendered into template.yaml between
`# BEGIN GENERATED <name>` / `# END GENERATED <name>` markers:

- `guardrail-parameters`: one threshold Parameter per guardrail rule of the catalog
  (`failsafe.domain.catalog.DEFAULT_CATALOG`), with the catalog's value as the default;
- `guardrail-alarms`: one CloudWatch alarm per rule, on the recommender's EMF namespace and metric names
  (`failsafe.domain.metrics`), with the Service + Environment dimensions;
- `toggles-schema`: the AppConfig JSON_SCHEMA validator content, the checked-in
  `infra/appconfig/toggles.schema.json` (generated from `ToggleDocument` by `make schema`);
- `evidence-tables`: the Glue tables of the ranking and error events (`failsafe.domain.events.COLUMNS`);
- `evidence-queries`: one Athena named query per `infra/queries/*.sql`, its text verbatim (the file is the
  one source; DuckDB runs the same file locally);
- `dashboard`: the CloudWatch dashboard: the guardrail metrics the recommender emits with their alarm
  thresholds drawn, every alarm's state, the controller's own metrics (`failsafe.domain.metrics`) and the
  toggle config version clients serve.

Run `python infra/sync_template.py` after changing the catalog or the schema; `--check` exits 1 when the
template is stale (a unit test runs the check).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from failsafe.domain import metrics
from failsafe.domain.catalog import DEFAULT_CATALOG, GuardrailCatalog, GuardrailRule, TargetMultiple

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
SCHEMA = ROOT / "infra" / "appconfig" / "toggles.schema.json"
QUERIES = ROOT / "infra" / "queries"

# Alarms the AppConfig environment monitors (AWS allows at most 5 monitors per environment).
APPCONFIG_MONITOR_RULES = ("coverage-p1", "latency-p1", "error-rate-p1", "availability", "system-error-rate")
TARGET_PARAMETERS = {"latency_p95_ms": "TargetLatencyMs"}


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


def alarm_logical_id(rule: GuardrailRule) -> str:
    return f"Guardrail{camel(rule.name)}Alarm"


def threshold_parameter(rule: GuardrailRule) -> str:
    if isinstance(rule.threshold, TargetMultiple) and rule.threshold.factor == 1.0:
        return TARGET_PARAMETERS[rule.threshold.target]
    return f"{camel(rule.name)}Threshold"


def _num(value: float) -> str:
    return f"{value:g}"


def render_parameters(catalog: GuardrailCatalog) -> str:
    lines: list[str] = []
    for target, value in sorted(catalog.targets.items()):
        lines += [
            f"  {TARGET_PARAMETERS[target]}:",
            "    Type: Number",
            f"    Default: {_num(value)}",
            "    Description: "
            + json.dumps(f"Catalog target {target} (seed 000); the P2 latency alarm fires above it."),
        ]
    for rule in catalog.rules:
        name = threshold_parameter(rule)
        if name in TARGET_PARAMETERS.values():
            continue
        unit = catalog.metrics[rule.metric].unit
        note = ""
        if isinstance(rule.threshold, TargetMultiple):
            note = (
                f" (= {rule.threshold.factor:g} x {TARGET_PARAMETERS[rule.threshold.target]}; keep in step)"
            )
        lines += [
            f"  {name}:",
            "    Type: Number",
            f"    Default: {_num(catalog.threshold_of(rule))}",
            "    Description: "
            + json.dumps(
                f"{rule.severity.value} {rule.kind.value} guardrail {rule.name}: "
                f"{rule.metric} {rule.comparison.value} this ({unit}){note}."
            ),
        ]
    return "\n".join(lines)


def render_alarms(catalog: GuardrailCatalog) -> str:
    lines: list[str] = []
    for rule in catalog.rules:
        spec = catalog.metrics[rule.metric]
        statistic = (
            f"      ExtendedStatistic: {spec.statistic}"
            if spec.statistic.startswith("p")
            else f"      Statistic: {spec.statistic}"
        )
        lines += [
            f"  {alarm_logical_id(rule)}:",
            "    Type: AWS::CloudWatch::Alarm",
            "    Properties:",
            f'      AlarmName: !Sub "failsafe-${{ServiceName}}-${{EnvironmentName}}-{rule.name}"',
            f"      AlarmDescription: !Sub 'failsafe guardrail {rule.name}: "
            f"{rule.severity.value} {rule.kind.value}, "
            f"{rule.metric} {rule.comparison.value} ${{{threshold_parameter(rule)}}} for "
            f"{rule.duration_seconds}s ({rule.source})'",
            "      ActionsEnabled: true",
            f"      Namespace: {metrics.NAMESPACE}",
            f"      MetricName: {rule.metric}",
            "      Dimensions:",
            "        - Name: Service",
            "          Value: !Ref ServiceName",
            "        - Name: Environment",
            "          Value: !Ref EnvironmentName",
            statistic,
            f"      Period: {rule.period_seconds}",
            f"      EvaluationPeriods: {rule.evaluation_periods}",
            f"      DatapointsToAlarm: {rule.evaluation_periods}",
            f"      Threshold: !Ref {threshold_parameter(rule)}",
            f"      ComparisonOperator: {rule.comparison.cloudwatch_operator}",
            "      TreatMissingData: notBreaching",
        ]
    return "\n".join(lines)


def schema_content() -> str:
    if SCHEMA.exists():
        schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    else:
        from failsafe.domain.schema import toggles_schema

        schema = toggles_schema()
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def render_schema() -> str:
    text = schema_content().replace("'", "''")
    return f"          Content: '{text}'"


def render_initial_toggles() -> str:
    """The normal baseline as the first hosted version, so clients never start on the cold-start baseline."""
    from datetime import UTC, datetime

    from failsafe.domain.baselines import BASELINES, BaselineName
    from failsafe.domain.toggles import Metadata, ToggleDocument

    document = ToggleDocument(
        metadata=Metadata(
            version=1,
            environment="prod",
            author="failsafe-bootstrap",
            reason="normal baseline, deployed with the stack",
            updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        toggles=BASELINES[BaselineName.NORMAL],
    )
    data = document.model_dump(mode="json")
    data["metadata"]["environment"] = "${EnvironmentName}"
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).replace("'", "''")
    return f"      Content: !Sub '{text}'"


def render_evidence_tables() -> str:
    """One Glue table per event table: Parquet written by Firehose, partitions projected by event_date."""
    from failsafe.domain.events import COLUMNS, PARTITION_KEY

    lines: list[str] = []
    for table, columns in COLUMNS.items():
        stream = f"{camel(table)}Stream"
        lines += [
            f"  {camel(table)}Table:",
            "    Type: AWS::Glue::Table",
            "    Properties:",
            "      CatalogId: !Ref AWS::AccountId",
            "      DatabaseName: !Ref EventsDatabase",
            "      TableInput:",
            f"        Name: {table}",
            f"        Description: failsafe evidence events ({table}), written as Parquet by {stream}",
            "        TableType: EXTERNAL_TABLE",
            "        Parameters:",
            "          classification: parquet",
            '          projection.enabled: "true"',
            "          projection.event_date.type: date",
            "          projection.event_date.format: yyyy-MM-dd",
            "          projection.event_date.range: 2026-01-01,NOW",
            '          projection.event_date.interval: "1"',
            "          projection.event_date.interval.unit: DAYS",
            f'          storage.location.template: !Sub "s3://${{EventsBucket}}/{table}/'
            f'{PARTITION_KEY}=${{!{PARTITION_KEY}}}/"',
            "        PartitionKeys:",
            f"          - Name: {PARTITION_KEY}",
            "            Type: string",
            "        StorageDescriptor:",
            f'          Location: !Sub "s3://${{EventsBucket}}/{table}/"',
            "          InputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "          OutputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "          SerdeInfo:",
            "            SerializationLibrary: org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "          Columns:",
        ]
        for name, kind in columns:
            lines += [f"            - Name: {name}", f"              Type: {kind}"]
    return "\n".join(lines)


def render_evidence_queries() -> str:
    """One Athena named query per SQL file, in the evidence workgroup and database, text verbatim."""
    lines: list[str] = []
    for path in sorted(QUERIES.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        first = sql.splitlines()[0].removeprefix("--").strip()
        lines += [
            f"  {camel(path.stem)}EvidenceQuery:",
            "    Type: AWS::Athena::NamedQuery",
            "    Properties:",
            f'      Name: !Sub "${{AWS::StackName}}-{path.stem}"',
            "      Description: " + json.dumps(f"infra/queries/{path.name}: {first}"[:1024]),
            "      Database: !Ref EventsDatabase",
            "      WorkGroup: !Ref EvidenceWorkGroup",
            "      QueryString: |",
            *[f"        {line}" if line else "" for line in sql.rstrip("\n").split("\n")],
        ]
    return "\n".join(lines)


CONTROLLER_ALARMS = (
    "RollbackTargetMissedAlarm",
    "RollbackFailedAlarm",
    "IncompleteRecoveryAlarm",
    "HealthDegradedDuringRollbackAlarm",
    "NotificationFailuresAlarm",
    "ControllerExecutionsFailedAlarm",
    "DroppedAlarmEventsAlarm",
)
DASHBOARD_STATISTIC = {"Coverage": "Average", "ErrorRate": "Average", "CacheHitRate": "Average"}


def _metric(namespace: str, name: str, dims: dict[str, str], **options: object) -> list[object]:
    line: list[object] = [namespace, name]
    for key, value in dims.items():
        line += [key, value]
    return [*line, options] if options else line


def _widget(
    title: str, metrics_: list[list[object]], *, x: int, y: int, **extra: object
) -> dict[str, object]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "period": 60,
            "metrics": metrics_,
            **extra,
        },
    }


def dashboard_body(catalog: GuardrailCatalog) -> dict[str, object]:
    """The dashboard (CloudFormation !Sub placeholders in it): widgets on a 24-column grid."""
    from failsafe.domain.plan_defaults import DEFAULT_PLAN

    service = {"Service": "${ServiceName}", "Environment": "${EnvironmentName}"}
    widgets: list[dict[str, object]] = []
    emitted = {
        metrics.COVERAGE,
        metrics.LATENCY_MS,
        metrics.ERROR_RATE,
        metrics.CACHE_HIT_RATE,
        metrics.AVAILABILITY,
    }
    guarded = [m for m in catalog.metrics if m in emitted]
    for n, name in enumerate(guarded):
        spec = catalog.metrics[name]
        horizontal = [
            {
                "label": f"{rule.name} ({rule.severity.value})",
                "value": f"@@{threshold_parameter(rule)}@@",
            }
            for rule in catalog.rules
            if rule.metric == name
        ]
        widgets.append(
            _widget(
                f"{name} ({spec.statistic}) and its alarm thresholds",
                [_metric(metrics.NAMESPACE, name, service, stat=spec.statistic, label=name)],
                x=12 * (n % 2),
                y=6 * (n // 2),
                annotations={"horizontal": horizontal},
            )
        )
    y = 6 * ((len(guarded) + 1) // 2)
    widgets.append(
        _widget(
            "Toggle config version served (min / max over requests)",
            [
                _metric(metrics.NAMESPACE, metrics.CONFIG_VERSION, service, stat="Minimum", label="oldest"),
                _metric(metrics.NAMESPACE, metrics.CONFIG_VERSION, service, stat="Maximum", label="newest"),
            ],
            x=0,
            y=y,
        )
    )
    alarms = [f"${{{alarm_logical_id(rule)}.Arn}}" for rule in catalog.rules]
    alarms += [f"${{{logical_id}.Arn}}" for logical_id in CONTROLLER_ALARMS]
    widgets.append(
        {
            "type": "alarm",
            "x": 12,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": "Alarm states (guardrails and the controller)", "alarms": alarms},
        }
    )
    levels = list(dict.fromkeys(stage.level.value for stage in DEFAULT_PLAN.stages))
    ns = metrics.CONTROLLER_NAMESPACE

    def by_level(name: str, stat: str) -> list[list[object]]:
        return [
            _metric(ns, name, {**service, "Level": level}, stat=stat, label=f"{name} level {level}")
            for level in levels
        ]

    controller = [
        (
            "Rollback duration vs target, by level (s)",
            by_level(metrics.ROLLBACK_DURATION, "Maximum") + by_level(metrics.ROLLBACK_TARGET, "Maximum"),
        ),
        (
            "Incident -> toggles in force / clients converged, by level (s)",
            by_level(metrics.TIME_TO_MITIGATE, "Maximum") + by_level(metrics.TIME_TO_CONVERGE, "Maximum"),
        ),
        (
            "Rollbacks succeeded / failed / over target",
            [
                _metric(ns, metrics.ROLLBACK_SUCCEEDED, service, stat="Sum"),
                _metric(ns, metrics.ROLLBACK_FAILED, service, stat="Sum"),
                _metric(ns, metrics.ROLLBACK_TARGET_MISSED, service, stat="Sum"),
            ],
        ),
        (
            "Recovery, user impact, time in RECOVERY_VERIFY (s)",
            [
                _metric(ns, metrics.RECOVERY_DURATION, service, stat="Maximum"),
                _metric(ns, metrics.USER_IMPACT, service, stat="Maximum"),
                _metric(ns, metrics.RECOVERY_VERIFY_DURATION, service, stat="Maximum"),
            ],
        ),
        (
            "Open incident age (s), clients not converged, health degrading during a rollback",
            [
                _metric(ns, metrics.INCIDENT_OPEN, service, stat="Maximum"),
                _metric(ns, metrics.CLIENTS_NOT_CONVERGED, service, stat="Maximum", yAxis="right"),
                _metric(ns, metrics.HEALTH_DEGRADED, service, stat="Sum", yAxis="right"),
            ],
        ),
    ]
    for n, (title, lines) in enumerate(controller):
        widgets.append(_widget(title, lines, x=12 * (n % 2), y=y + 6 + 6 * (n // 2)))
    return {"widgets": widgets}


def render_dashboard() -> str:
    widgets = dashboard_body(DEFAULT_CATALOG)["widgets"]
    assert isinstance(widgets, list)
    body = '{"widgets": [\n' + ",\n".join(json.dumps(w, separators=(",", ":")) for w in widgets) + "\n]}"
    # Thresholds are numbers from parameters: unquote their placeholders so the JSON holds a number.
    body = re.sub(r'"@@([A-Za-z0-9]+)@@"', r"${\1}", body)
    lines = [
        "  GuardrailDashboard:",
        "    Type: AWS::CloudWatch::Dashboard",
        "    Properties:",
        '      DashboardName: !Sub "failsafe-${ServiceName}-${EnvironmentName}"',
        "      DashboardBody: !Sub |",
        *[f"        {line}" for line in body.splitlines()],
    ]
    return "\n".join(lines)


SECTIONS = {
    "guardrail-parameters": lambda: render_parameters(DEFAULT_CATALOG),
    "guardrail-alarms": lambda: render_alarms(DEFAULT_CATALOG),
    "toggles-schema": render_schema,
    "initial-toggles": render_initial_toggles,
    "evidence-tables": render_evidence_tables,
    "evidence-queries": render_evidence_queries,
    "dashboard": render_dashboard,
}


def sync(text: str) -> str:
    for name, render in SECTIONS.items():
        pattern = re.compile(
            rf"(?P<begin>[ \t]*# BEGIN GENERATED {re.escape(name)}[^\n]*\n)(?P<body>.*?)"
            rf"(?P<end>[ \t]*# END GENERATED {re.escape(name)}\n)",
            re.DOTALL,
        )
        if not pattern.search(text):
            raise SystemExit(
                f"template.yaml: no '# BEGIN GENERATED {name}' ... '# END GENERATED {name}' block"
            )
        body = render() + "\n"
        text = pattern.sub(lambda m, body=body: m["begin"] + body + m["end"], text, count=1)
    return text


def main(argv: list[str]) -> int:
    current = TEMPLATE.read_text(encoding="utf-8")
    wanted = sync(current)
    if "--check" in argv:
        if wanted != current:
            print("template.yaml is stale: run `.venv/bin/python infra/sync_template.py`", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        TEMPLATE.write_text(wanted, encoding="utf-8")
        print("template.yaml updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
