"""CloudWatch Embedded Metric Format (EMF): turn the JSON log lines a Lambda prints into metric data.

CloudWatch Logs extracts metrics from every log event in a Lambda's log group that is an EMF document
(a JSON object whose `_aws` member holds `CloudWatchMetrics`). This module does the same for the embedded
local AWS: `parse_emf_line` validates one line against the EMF specification and `put_emf_metrics` stores
the result in moto's CloudWatch backend, where `get_metric_statistics`, `get_metric_data` and the alarm
evaluator see it.

Specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

Rules applied (a document that breaks one is not extracted, as in CloudWatch; a warning names the reason):
- `_aws.Timestamp` is required: epoch milliseconds. It becomes the datapoint's timestamp.
- each `CloudWatchMetrics` directive has a `Namespace` (1-255 chars), `Dimensions` (a list of dimension sets,
  each a list of at most 30 member names; a missing `Dimensions` is treated as one empty set) and `Metrics`
  (at most 100 definitions with `Name`, optional `Unit` from CloudWatch's unit list, optional
  `StorageResolution` 1 or 60).
- every referenced dimension must be a string member of the root object.
- a metric value is a number or an array of at most 100 numbers (each element is one datapoint). A metric
  whose member is missing is skipped; one with a non-numeric value invalidates the document.
- one metric is published per (directive, dimension set, metric definition).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger(__name__)

MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100
CLOUDWATCH_UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)


class EmfError(ValueError):
    """An EMF document that CloudWatch would refuse to extract metrics from."""


@dataclass(frozen=True)
class EmfDatum:
    """One metric of one dimension set of one EMF document."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    values: tuple[float, ...]
    unit: str | None
    timestamp: datetime
    storage_resolution: int = 60


def is_emf_document(obj: object) -> bool:
    """True when `obj` is a JSON object carrying `_aws.CloudWatchMetrics` (an EMF candidate)."""
    if not isinstance(obj, dict):
        return False
    aws = obj.get("_aws")
    return isinstance(aws, dict) and "CloudWatchMetrics" in aws


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _timestamp(aws: Mapping[str, Any]) -> datetime:
    raw = aws.get("Timestamp")
    if not isinstance(raw, int | float) or not _is_number(raw):
        raise EmfError(f"_aws.Timestamp must be epoch milliseconds, got {raw!r}")
    return datetime.fromtimestamp(float(raw) / 1000.0, tz=UTC)


def _metric_values(doc: Mapping[str, Any], name: str) -> tuple[float, ...] | None:
    if name not in doc:
        return None
    raw = doc[name]
    if _is_number(raw):
        return (float(raw),)
    if isinstance(raw, list):
        if not raw:
            raise EmfError(f"metric {name!r}: empty array of values")
        if len(raw) > MAX_VALUES_PER_METRIC:
            raise EmfError(f"metric {name!r}: {len(raw)} values, at most {MAX_VALUES_PER_METRIC} allowed")
        if not all(_is_number(v) for v in raw):
            raise EmfError(f"metric {name!r}: every value must be a finite number, got {raw!r}")
        return tuple(float(v) for v in raw)
    raise EmfError(f"metric {name!r}: value must be a number or an array of numbers, got {raw!r}")


def _dimension_sets(
    doc: Mapping[str, Any], directive: Mapping[str, Any]
) -> list[tuple[tuple[str, str], ...]]:
    raw_sets = directive.get("Dimensions", [[]])
    if not isinstance(raw_sets, list):
        raise EmfError(f"Dimensions must be an array of dimension sets, got {raw_sets!r}")
    sets: list[tuple[tuple[str, str], ...]] = []
    for raw in raw_sets:
        if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
            raise EmfError(f"a dimension set must be an array of member names, got {raw!r}")
        if len(raw) > MAX_DIMENSIONS_PER_SET:
            raise EmfError(f"dimension set {raw!r} has more than {MAX_DIMENSIONS_PER_SET} dimensions")
        pairs: list[tuple[str, str]] = []
        for key in raw:
            value = doc.get(key)
            if not isinstance(value, str):
                raise EmfError(f"dimension {key!r} must be a string member of the document, got {value!r}")
            pairs.append((key, value))
        sets.append(tuple(pairs))
    return sets


def parse_emf_document(doc: Mapping[str, Any]) -> list[EmfDatum]:
    """Metrics of one EMF document; raises `EmfError` when CloudWatch would reject it."""
    aws = doc.get("_aws")
    if not isinstance(aws, dict):
        raise EmfError("missing _aws metadata object")
    timestamp = _timestamp(aws)
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise EmfError(f"_aws.CloudWatchMetrics must be an array, got {directives!r}")
    data: list[EmfDatum] = []
    for directive in directives:
        if not isinstance(directive, dict):
            raise EmfError(f"a metric directive must be an object, got {directive!r}")
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            raise EmfError(f"Namespace must be a string of 1-255 characters, got {namespace!r}")
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list):
            raise EmfError(f"Metrics must be an array, got {metrics!r}")
        if len(metrics) > MAX_METRICS_PER_DIRECTIVE:
            raise EmfError(f"{len(metrics)} metric definitions, at most {MAX_METRICS_PER_DIRECTIVE} allowed")
        dimension_sets = _dimension_sets(doc, directive)
        for definition in metrics:
            if not isinstance(definition, dict) or not isinstance(definition.get("Name"), str):
                raise EmfError(f"a metric definition needs a string Name, got {definition!r}")
            name: str = definition["Name"]
            unit = definition.get("Unit")
            if unit is not None and unit not in CLOUDWATCH_UNITS:
                raise EmfError(f"metric {name!r}: unknown Unit {unit!r}")
            resolution = definition.get("StorageResolution", 60)
            if resolution not in (1, 60):
                raise EmfError(f"metric {name!r}: StorageResolution must be 1 or 60, got {resolution!r}")
            values = _metric_values(doc, name)
            if values is None:
                continue
            for dimensions in dimension_sets:
                data.append(
                    EmfDatum(
                        namespace=namespace,
                        metric_name=name,
                        dimensions=dimensions,
                        values=values,
                        unit=unit,
                        timestamp=timestamp,
                        storage_resolution=int(resolution),
                    )
                )
    return data


def parse_emf_line(line: str) -> list[EmfDatum]:
    """Metrics of one log line: [] when the line is not an EMF document or is an invalid one (logged)."""
    text = line.strip()
    if not text.startswith("{"):
        return []
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return []
    if not is_emf_document(doc):
        return []
    try:
        return parse_emf_document(doc)
    except EmfError as exc:
        LOG.warning("EMF document not extracted (CloudWatch would reject it): %s", exc)
        return []


def extract_emf(lines: Iterable[str]) -> list[EmfDatum]:
    data: list[EmfDatum] = []
    for line in lines:
        data.extend(parse_emf_line(line))
    return data


def to_metric_data(datum: EmfDatum) -> dict[str, Any]:
    """The datum as one `MetricData` member of PutMetricData (naive UTC timestamp, as moto stores them)."""
    member: dict[str, Any] = {
        "MetricName": datum.metric_name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in datum.dimensions],
        "Timestamp": datum.timestamp.astimezone(UTC).replace(tzinfo=None),
        "StorageResolution": datum.storage_resolution,
    }
    if len(datum.values) == 1:
        member["Value"] = datum.values[0]
    else:
        member["Values"] = list(datum.values)
    if datum.unit is not None:
        member["Unit"] = datum.unit
    return member


def on_stack_clock(data: Iterable[EmfDatum], wall_from: float, wall_to: float) -> list[EmfDatum]:
    """A Lambda's code stamps its EMF with its host's wall clock (Powertools: `datetime.now()`), but on the
    local stack the Lambda lives on the stack's clock: metrics stamped during the invocation (wall epoch
    seconds `wall_from`..`wall_to`) are moved to the stack clock's now, as if the Lambda's clock were the
    stack's. Without it, on a simulated clock every controller metric (NotificationFailed, dropped alarm
    events) landed minutes or hours before "now", where no alarm ever looked. Other stamps are kept."""
    from failsafe_tools.local.clock import get_clock

    now = get_clock().time()
    stamped = datetime.fromtimestamp(now, tz=UTC)
    moved = []
    for datum in data:
        at = datum.timestamp.timestamp()
        moved.append(replace(datum, timestamp=stamped) if wall_from <= at <= wall_to else datum)
    return moved


def put_emf_metrics(data: Iterable[EmfDatum], account_id: str, region: str) -> int:
    """Store the data in moto's CloudWatch backend of `account_id`/`region`; returns the datapoint count."""
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[account_id][region]
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    count = 0
    for datum in data:
        by_namespace.setdefault(datum.namespace, []).append(to_metric_data(datum))
        count += len(datum.values)
    for namespace, members in by_namespace.items():
        backend.put_metric_data(namespace, members)
    return count


def publish_emf_lines(lines: Iterable[str], account_id: str, region: str) -> int:
    """What CloudWatch Logs does for a Lambda's log events: extract EMF metrics and store them."""
    return put_emf_metrics(extract_emf(lines), account_id, region)
