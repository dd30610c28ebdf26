"""template.yaml's evidence resources are tied to their one source: the SQL files and the event schema."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from samtranslator.yaml_helper import yaml_parse

from failsafe.controller import rollback_metrics
from failsafe.domain import metrics
from failsafe.domain.events import COLUMNS, PARTITION_KEY
from failsafe.domain.scope import Scope
from failsafe.recommender.emf import EmfEmitter, RequestOutcome

ROOT = Path(__file__).resolve().parents[3]
QUERIES = ROOT / "infra" / "queries"


@cache
def resources() -> dict[str, Any]:
    return yaml_parse((ROOT / "template.yaml").read_text())["Resources"]  # type: ignore[no-any-return]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources().items() if v["Type"] == kind}


def test_every_sql_file_is_a_named_query_with_its_exact_text() -> None:
    # Given the SQL files and the template's Athena named queries
    files = {path.name: path.read_text() for path in sorted(QUERIES.glob("*.sql"))}
    queries = of_type("AWS::Athena::NamedQuery")
    # Then there is one named query per file, and its QueryString is the file's text, byte for byte
    by_file = {
        q["Properties"]["Description"].split(":")[0].removeprefix("infra/queries/"): q
        for q in queries.values()
    }
    assert set(by_file) == set(files)
    for name, text in files.items():
        props = by_file[name]["Properties"]
        assert props["QueryString"] == text, f"{name}: run `python infra/sync_template.py`"
        assert props["WorkGroup"] == {"Ref": "EvidenceWorkGroup"}
        assert props["Database"] == {"Ref": "EventsDatabase"}


def test_each_glue_table_has_the_event_schema_and_feeds_its_delivery_stream() -> None:
    # Given the Glue tables and Firehose delivery streams
    tables = {v["Properties"]["TableInput"]["Name"]: (k, v) for k, v in of_type("AWS::Glue::Table").items()}
    streams = of_type("AWS::KinesisFirehose::DeliveryStream")
    # Then each table holds the domain's columns, is partitioned by event_date and converts its stream
    assert set(tables) == set(COLUMNS)
    for table, (logical_id, resource) in tables.items():
        descriptor = resource["Properties"]["TableInput"]["StorageDescriptor"]
        assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == list(COLUMNS[table])
        assert resource["Properties"]["TableInput"]["PartitionKeys"] == [
            {"Name": PARTITION_KEY, "Type": "string"}
        ]
        (stream,) = [
            s
            for s in streams.values()
            if s["Properties"]["ExtendedS3DestinationConfiguration"]["DataFormatConversionConfiguration"][
                "SchemaConfiguration"
            ]["TableName"]
            == {"Ref": logical_id}
        ]
        destination = stream["Properties"]["ExtendedS3DestinationConfiguration"]
        assert destination["Prefix"] == f"{table}/{PARTITION_KEY}=!{{partitionKeyFromQuery:{PARTITION_KEY}}}/"
        serializer = destination["DataFormatConversionConfiguration"]["OutputFormatConfiguration"][
            "Serializer"
        ]
        assert "ParquetSerDe" in serializer


def test_the_workgroup_has_its_result_location_and_the_recommender_can_deliver() -> None:
    # Given the workgroup and the recommender function
    (workgroup,) = of_type("AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    # Then query results go to the events bucket, enforced for every query of the workgroup
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["OutputLocation"] == {
        "Fn::Sub": "s3://${EventsBucket}/athena-results/"
    }
    env = resources()["RecommenderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["RANKING_EVENTS_STREAM"] == {"Ref": "RankingEventsStream"}
    assert env["ERROR_EVENTS_STREAM"] == {"Ref": "ErrorEventsStream"}


def _dashboard() -> dict[str, Any]:
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # Placeholders become a number (thresholds sit unquoted) or stay inside their string.
    return json.loads(re.sub(r"\$\{[^}]+\}", "1", body))  # type: ignore[no-any-return]


def _placeholders() -> set[str]:
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    return set(re.findall(r"\$\{([^}]+)\}", dashboard["Properties"]["DashboardBody"]["Fn::Sub"]))


def emitted_metrics() -> set[tuple[str, str, tuple[str, ...]]]:
    """(namespace, metric, dimension names) for every metric and dimension set the code emits."""
    found: set[tuple[str, str, tuple[str, ...]]] = set()
    outcome = RequestOutcome(
        region="eu-west-1",
        k=10,
        k_returned=10,
        latency_ms=5.0,
        error=False,
        answered=True,
        cache_hit=True,
        serve_full=True,
        config_version=3,
        config_age_seconds=1.0,
    )
    documents = [EmfEmitter("recommender", "prod").document(outcome)]
    at = datetime(2026, 12, 8, tzinfo=UTC)
    scope = Scope.parse("recommender/prod")
    for name in metrics.CONTROLLER_METRICS:
        documents.append(rollback_metrics.document(name, 1, MetricUnit.Count, scope=scope, at=at, level="1"))
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    found.add((directive["Namespace"], metric["Name"], tuple(dimensions)))
    return found


def test_every_dashboard_metric_is_emitted_by_the_code_with_that_namespace_and_dimensions() -> None:
    # Given the dashboard's metric widgets and what the recommender and the controller emit
    emitted = emitted_metrics()
    lines = [
        line
        for widget in _dashboard()["widgets"]
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
    ]
    assert lines
    # Then every plotted metric is emitted in exactly that namespace with exactly those dimensions
    for line in lines:
        fields = [x for x in line if not isinstance(x, dict)]
        namespace, name, rest = fields[0], fields[1], fields[2:]
        key = (namespace, name, tuple(rest[0::2]))
        assert key in emitted, f"dashboard plots {key}, which no code emits"
    # And the controller's metrics are all on it
    plotted = {(line[0], line[1]) for line in lines}
    assert {(metrics.CONTROLLER_NAMESPACE, name) for name in metrics.CONTROLLER_METRICS} <= plotted
    assert (metrics.NAMESPACE, metrics.CONFIG_VERSION) in plotted


def test_thresholds_are_drawn_and_every_alarm_state_is_shown() -> None:
    # Given the dashboard
    widgets = _dashboard()["widgets"]
    placeholders = _placeholders()
    # Then each guardrail metric widget draws a threshold per rule on it, from the template's parameters
    drawn = [
        h["label"].split(" ")[0]
        for w in widgets
        if w["type"] == "metric"
        for h in w["properties"].get("annotations", {}).get("horizontal", [])
    ]
    assert {"coverage-p1", "coverage-p2", "latency-p1", "latency-p2", "error-rate-p1", "availability"} <= set(
        drawn
    )
    parameters = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]
    assert {p for p in placeholders if "." not in p and not p.startswith("AWS::")} <= set(parameters)
    # And the alarm widget lists every alarm of the template
    alarms = {p.removesuffix(".Arn") for p in placeholders if p.endswith(".Arn")}
    assert alarms == set(of_type("AWS::CloudWatch::Alarm"))


def test_meta_alarms_watch_controller_metrics_and_page_the_escalation_topic() -> None:
    # Given the alarms on the rollback itself
    meta = {
        "RollbackTargetMissedAlarm": metrics.ROLLBACK_TARGET_MISSED,
        "RollbackFailedAlarm": metrics.ROLLBACK_FAILED,
        "IncompleteRecoveryAlarm": metrics.INCIDENT_OPEN,
        "HealthDegradedDuringRollbackAlarm": metrics.HEALTH_DEGRADED,
    }
    for logical_id, metric in meta.items():
        props = resources()[logical_id]["Properties"]
        # Then each watches a controller metric in a dimension set the controller emits
        assert (props["Namespace"], props["MetricName"]) == (metrics.CONTROLLER_NAMESPACE, metric)
        dims = tuple(d["Name"] for d in props["Dimensions"])
        assert dims in metrics.CONTROLLER_METRICS[metric]
        # And pages only the escalation topic, not the controller's own notification path
        assert props["AlarmActions"] == [{"Ref": "EscalationTopic"}]
        # And is named outside the guardrail prefix, so AlarmIngest never takes it for a guardrail
        assert props["AlarmName"]["Fn::Sub"].startswith("failsafe-controller-")
