"""Stored datapoints → one value per window: statistics, percentiles, exact dimension match."""

from __future__ import annotations

import math
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


def series(backend: Any, spec: MetricSpec, starts: list[float]) -> list[Datapoint]:
    """One datapoint per window start (missing → value None), from moto's stored metric data."""
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

    if not starts:
        return []
    low, high = starts[0], starts[-1] + spec.period
    buckets: dict[int, tuple[list[float], list[Any]]] = {i: ([], []) for i in range(len(starts))}
    for datum in backend.get_all_metrics():
        if datum.namespace != spec.namespace or datum.name != spec.name:
            continue
        if spec.unit and datum.unit != spec.unit:
            continue
        if dims(datum.dimensions) != spec.dimensions:
            continue
        moment = epoch(datum.timestamp)
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
