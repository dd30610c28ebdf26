"""Keep the generated sections of template.yaml in step with the data they come from.

CloudFormation cannot read files, so three things are rendered into template.yaml between
`# BEGIN GENERATED <name>` / `# END GENERATED <name>` markers:

- `guardrail-parameters`: one threshold Parameter per guardrail rule of the catalog
  (`failsafe.domain.catalog.DEFAULT_CATALOG`), with the catalog's value as the default;
- `guardrail-alarms`: one CloudWatch alarm per rule, on the recommender's EMF namespace and metric names
  (`failsafe.domain.metrics`), with the Service + Environment dimensions;
- `toggles-schema`: the AppConfig JSON_SCHEMA validator content, the checked-in
  `infra/appconfig/toggles.schema.json` (generated from `ToggleDocument` by `make schema`).

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
            f"{rule.metric} {rule.comparison.value} ${{{threshold_parameter(rule)}}} in "
            f"{rule.datapoints} of {rule.evaluation_periods} x {rule.period_seconds}s ({rule.source})'",
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
            f"      DatapointsToAlarm: {rule.datapoints}",
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


SECTIONS = {
    "guardrail-parameters": lambda: render_parameters(DEFAULT_CATALOG),
    "guardrail-alarms": lambda: render_alarms(DEFAULT_CATALOG),
    "toggles-schema": render_schema,
    "initial-toggles": render_initial_toggles,
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
