"""Stored datapoints → one value per window: statistics, percentiles, exact dimension match."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from failsafe_tools.local.alarms.common import PERCENTILE, STATISTICS, UnsupportedAlarmError, epoch

# --------------------------------------------------------------------------------------------------------
# datapoints


@dataclass(frozen=True)
class MetricSpec:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    stat: str
    period: int
    unit: str | None = None


@dataclass(frozen=True)
class Datapoint:
    start: float
    value: float | None
    sample_count: float = 0.0


def check_statistic(stat: str | None) -> str:
    if stat in STATISTICS:
        return stat
    if stat and (match := PERCENTILE.match(stat)) and 0.0 <= float(match.group(1)) <= 100.0:
        return stat
    raise UnsupportedAlarmError(
        f"statistic {stat!r}: the local evaluator supports {', '.join(STATISTICS)} and percentiles pNN "
        "(0 <= NN <= 100); trimmed/winsorized/rank statistics and IQM are not evaluated locally"
    )


def dims(dimensions: Iterable[Any]) -> frozenset[tuple[str, str]]:
    out = set()
    for dimension in dimensions:
        if isinstance(dimension, dict):
            out.add((str(dimension["Name"]), str(dimension["Value"])))
        else:
            out.add((str(dimension.name), str(dimension.value)))
    return frozenset(out)


def aggregate(stat: str, raws: list[float], sets: list[Any]) -> tuple[float | None, float]:
    count = float(len(raws)) + sum(float(s.sample_count) for s in sets)
    if count <= 0:
        return None, 0.0
    if stat == "SampleCount":
        return count, count
    total = sum(raws) + sum(float(s.sum) for s in sets)
    if stat == "Sum":
        return total, count
    if stat == "Average":
        return total / count, count
    if stat == "Minimum":
        return min([*raws, *(float(s.min) for s in sets)]), count
    if stat == "Maximum":
        return max([*raws, *(float(s.max) for s in sets)]), count
    values = list(raws)
    for s in sets:
        if float(s.sample_count) == 1:
            values.append(float(s.sum))
        elif float(s.min) == float(s.max):
            values.extend([float(s.min)] * int(float(s.sample_count)))
    if not values:
        return None, 0.0
    percentile = float(stat[1:])
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1], float(len(values))


_SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]


class _MetricIndex:
    """moto's stored datapoints by (namespace, name, dimension set), built incrementally.

    `backend.metric_data` only grows (PutMetricData appends), so each lookup indexes what was appended since
    the last one instead of scanning (and re-parsing the dimensions of) every stored datapoint: an alarm
    evaluation costs what its own metric holds, not what the whole account holds."""

    def __init__(self, source: list[Any]) -> None:
        self.source = source
        self.seen = 0
        self.by_key: dict[_SeriesKey, list[tuple[float, Any]]] = {}

    def catch_up(self) -> None:
        stored = self.source
        for datum in stored[self.seen : len(stored)]:
            key = (datum.namespace, datum.name, dims(datum.dimensions))
            self.by_key.setdefault(key, []).append((epoch(datum.timestamp), datum))
        self.seen = len(stored)


_indexes: dict[int, _MetricIndex] = {}
_index_lock = threading.Lock()


def _stored(backend: Any, spec: MetricSpec) -> list[tuple[float, Any]]:
    """(epoch, datum) of `spec`'s metric: the indexed PutMetricData data plus moto's computed AWS metrics."""
    with _index_lock:
        index = _indexes.get(id(backend))
        if index is None or index.source is not backend.metric_data or index.seen > len(backend.metric_data):
            index = _indexes[id(backend)] = _MetricIndex(backend.metric_data)
        index.catch_up()
        found = list(index.by_key.get((spec.namespace, spec.name, spec.dimensions), ()))
    found += [
        (epoch(datum.timestamp), datum)
        for datum in backend.aws_metric_data
        if datum.namespace == spec.namespace
        and datum.name == spec.name
        and dims(datum.dimensions) == spec.dimensions
    ]
    return found


def series(backend: Any, spec: MetricSpec, starts: list[float]) -> list[Datapoint]:
    """One datapoint per window start (missing → value None), from moto's stored metric data."""
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

    if not starts:
        return []
    low, high = starts[0], starts[-1] + spec.period
    buckets: dict[int, tuple[list[float], list[Any]]] = {i: ([], []) for i in range(len(starts))}
    for moment, datum in _stored(backend, spec):
        if spec.unit and datum.unit != spec.unit:
            continue
        if not low <= moment < high:
            continue
        index = int((moment - low) // spec.period)
        if index not in buckets:
            continue
        raws, sets = buckets[index]
        if isinstance(datum, MetricDatum):
            raws.append(float(datum.value))
        elif isinstance(datum, MetricAggregatedDatum):
            sets.append(datum)
    points = []
    for index, start in enumerate(starts):
        raws, sets = buckets[index]
        value, count = aggregate(spec.stat, raws, sets)
        points.append(Datapoint(start=start, value=value, sample_count=count))
    return points
