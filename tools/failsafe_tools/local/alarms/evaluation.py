"""What one metric alarm should be at `now`: validation, windows, M of N, TreatMissingData, reasons."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from failsafe_tools.local.alarms.common import (
    ALARM,
    ANOMALY_OPERATORS,
    EXTRA_RANGE_PERIODS,
    INSUFFICIENT_DATA,
    OK,
    STATIC_OPERATORS,
    TREAT_MISSING,
    UnsupportedAlarmError,
    fmt,
    ms_stamp,
    reason_stamp,
)
from failsafe_tools.local.alarms.metric_math import evaluate_expression, math_plan
from failsafe_tools.local.alarms.metrics import Datapoint, MetricSpec, check_statistic, dims, series
from failsafe_tools.local.alarms.rules import parse_alarm_rule

# --------------------------------------------------------------------------------------------------------
# validation


def check_supported(alarm: Any) -> None:
    """Raise `UnsupportedAlarmError` if the local evaluator cannot evaluate `alarm` faithfully."""
    if alarm.rule is not None:
        parse_alarm_rule(alarm.rule)
        return
    operator = alarm.comparison_operator
    if operator in ANOMALY_OPERATORS or getattr(alarm, "threshold_metric_id", None):
        raise UnsupportedAlarmError(
            f"alarm {alarm.name}: anomaly detection ({operator}, ThresholdMetricId) is not supported by the "
            "local CloudWatch evaluator; use a static threshold operator"
        )
    if operator not in STATIC_OPERATORS:
        raise UnsupportedAlarmError(f"alarm {alarm.name}: unknown ComparisonOperator {operator!r}")
    treat = alarm.treat_missing_data or "missing"
    if treat not in TREAT_MISSING:
        raise UnsupportedAlarmError(
            f"alarm {alarm.name}: TreatMissingData {treat!r} is not one of {TREAT_MISSING}"
        )
    n = int(alarm.evaluation_periods or 0)
    m = int(alarm.datapoints_to_alarm or n)
    if n < 1 or not 1 <= m <= n:
        raise UnsupportedAlarmError(
            f"alarm {alarm.name}: DatapointsToAlarm {m} must be within 1..EvaluationPeriods {n}"
        )
    if alarm.metric_data_queries:
        math_plan(alarm)
        return
    if alarm.statistic and alarm.extended_statistic:
        raise UnsupportedAlarmError(f"alarm {alarm.name}: set Statistic or ExtendedStatistic, not both")
    check_statistic(alarm.statistic or alarm.extended_statistic)
    if not alarm.period or int(alarm.period) <= 0:
        raise UnsupportedAlarmError(f"alarm {alarm.name}: Period is required")


# --------------------------------------------------------------------------------------------------------
# evaluation of one metric alarm


@dataclass
class Evaluation:
    state: str | None  # None: keep the current state
    reason: str
    reason_data: dict[str, Any]


def windows(period: int, count: int, now: float) -> list[float]:
    granularity = 60 if period >= 60 else period
    end = math.floor(now / granularity) * granularity
    return [end - (count - i) * period for i in range(count)]


def alarm_points(backend: Any, alarm: Any, now: float) -> tuple[list[Datapoint], int, str]:
    n = int(alarm.evaluation_periods)
    if alarm.metric_data_queries:
        plan = math_plan(alarm)
        starts = windows(plan.period, n + EXTRA_RANGE_PERIODS, now)
        per_id = {query_id: series(backend, spec, starts) for query_id, spec in plan.specs.items()}
        values: list[dict[str, float | None]] = [
            {query_id: points[i].value for query_id, points in per_id.items()} for i in range(len(starts))
        ]
        for query_id, tree in plan.expressions:
            for row in values:
                row[query_id] = evaluate_expression(tree, row)
        counts = [
            max((points[i].sample_count for points in per_id.values()), default=0.0)
            for i in range(len(starts))
        ]
        points = [
            Datapoint(start=start, value=values[i][plan.returned], sample_count=counts[i])
            for i, start in enumerate(starts)
        ]
        returned_query = next(q for q in plan.queries if q.id == plan.returned)
        stat = returned_query.metric_stat.stat if returned_query.metric_stat else "Expression"
        return points, plan.period, stat
    period = int(alarm.period)
    stat = check_statistic(alarm.statistic or alarm.extended_statistic)
    spec = MetricSpec(
        namespace=alarm.namespace,
        name=alarm.metric_name,
        dimensions=dims(alarm.dimensions),
        stat=stat,
        period=period,
        unit=alarm.unit,
    )
    starts = windows(period, n + EXTRA_RANGE_PERIODS, now)
    return series(backend, spec, starts), period, stat


def evaluate_metric_alarm(backend: Any, alarm: Any, now: float) -> Evaluation:
    """What `alarm` should be at `now` (CloudWatch's M-of-N with TreatMissingData; see the module doc)."""
    check_supported(alarm)
    points, period, stat = alarm_points(backend, alarm, now)
    n = int(alarm.evaluation_periods)
    m = int(alarm.datapoints_to_alarm or n)
    threshold = float(alarm.threshold)
    compare, wording = STATIC_OPERATORS[alarm.comparison_operator]
    treat = alarm.treat_missing_data or "missing"
    real = [p for p in points if p.value is not None]
    newest_first = list(reversed(points))

    base: dict[str, Any] = {"version": "1.0", "queryDate": ms_stamp(now)}

    def reason_data(evaluated: list[Datapoint]) -> dict[str, Any]:
        data = dict(base)
        if evaluated:
            data["startDate"] = ms_stamp(min(p.start for p in evaluated))
        data["statistic"] = stat
        data["period"] = period
        data["recentDatapoints"] = [
            p.value for p in sorted(evaluated, key=lambda p: p.start) if p.value is not None
        ]
        data["threshold"] = threshold
        data["evaluatedDatapoints"] = [
            {"timestamp": ms_stamp(p.start), "sampleCount": p.sample_count, "value": p.value}
            if p.value is not None
            else {"timestamp": ms_stamp(p.start)}
            for p in newest_first
            if p in evaluated
        ]
        return data

    if (
        alarm.extended_statistic
        and (alarm.evaluate_low_sample_count_percentile or "evaluate") == "ignore"
        and real
        and any(p.sample_count < low_sample_floor(alarm.extended_statistic) for p in real[-n:])
    ):
        return Evaluation(None, "Low sample count for percentile: state kept", reason_data(real[-n:]))

    def decide(
        evaluated: list[Datapoint], breaching: list[Datapoint], needed: int, out_of: int, filled: int = 0
    ) -> Evaluation:
        return threshold_evaluation(
            evaluated,
            breaching,
            m=needed,
            n=out_of,
            wording=wording,
            threshold=threshold,
            data=reason_data(evaluated),
            missing_filled=filled,
            treat=treat,
        )

    def breaches(candidates: list[Datapoint]) -> list[Datapoint]:
        return [p for p in candidates if p.value is not None and compare(p.value, threshold)]

    if len(real) >= n:
        evaluated = real[-n:]
        return decide(evaluated, breaches(evaluated), m, n)

    if not real:
        evaluated = newest_first[:n]
        if treat == "missing":
            count = len(points)
            return Evaluation(
                INSUFFICIENT_DATA,
                f"Insufficient Data: {count} datapoint{'s were' if count != 1 else ' was'} unknown.",
                reason_data(list(points)),
            )
        if treat == "ignore":
            return Evaluation(None, "Missing data ignored: state kept", reason_data(evaluated))
        return decide(evaluated, evaluated if treat == "breaching" else [], m, n, filled=n)

    # some real datapoints, fewer than N: gaps are filled as few times as possible
    gaps = n - len(real)
    real_breaching = breaches(real)
    if treat in ("breaching", "notBreaching"):
        filled = [p for p in newest_first if p.value is None][:gaps]
        breaching = real_breaching + (filled if treat == "breaching" else [])
        return decide(real, breaching, m, n, filled=gaps)
    if treat == "missing":
        return decide(real, real_breaching, min(m, len(real)), len(real))
    # ignore: ALARM with M breaching real points; OK once ALARM is out of reach; else keep the state
    if len(real_breaching) >= m or len(real) - len(real_breaching) > n - m:
        return decide(real, real_breaching, m, len(real))
    return Evaluation(None, "Missing data ignored: state kept", reason_data(real))


def low_sample_floor(extended_statistic: str) -> float:
    percentile = float(extended_statistic[1:])
    return math.inf if percentile >= 100 else 10.0 / (1.0 - percentile / 100.0)


def threshold_evaluation(
    evaluated: list[Datapoint],
    breaching: list[Datapoint],
    *,
    m: int,
    n: int,
    wording: str,
    threshold: float,
    data: dict[str, Any],
    missing_filled: int = 0,
    treat: str = "missing",
) -> Evaluation:
    is_alarm = len(breaching) >= m
    shown = ", ".join(
        f"{fmt(p.value)} ({reason_stamp(p.start)})"
        for p in sorted(evaluated, key=lambda p: -p.start)
        if p.value is not None
    )
    transition = "OK -> ALARM" if is_alarm else "ALARM -> OK"
    minimum = m if is_alarm else n - m + 1
    count = len(breaching) if is_alarm else n - len(breaching)
    verb = "was" if count == 1 else "were"
    negation = "" if is_alarm else "not "
    plural = "s" if minimum != 1 else ""
    reason = (
        f"Threshold Crossed: {count} out of the last {n} datapoints [{shown}] {verb} {negation}{wording} the "
        f"threshold ({fmt(threshold)}) (minimum {minimum} datapoint{plural} for {transition} transition)."
    )
    if missing_filled:
        kind = "Breaching" if treat == "breaching" else "NonBreaching"
        were = "s were" if missing_filled != 1 else " was"
        reason = f"{reason[:-1]} {missing_filled} missing datapoint{were} treated as [{kind}]."
    return Evaluation(ALARM if is_alarm else OK, reason, data)
