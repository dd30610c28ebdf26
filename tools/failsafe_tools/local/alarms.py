"""CloudWatch alarm evaluation for the embedded local AWS (moto stores alarms and data but never evaluates).

`AlarmEvaluator.evaluate_all()` walks every alarm in every moto CloudWatch backend at the local clock's
`now` and moves it between OK / ALARM / INSUFFICIENT_DATA as CloudWatch would. On a change it updates
moto's stored state (so `DescribeAlarms` shows it), runs the alarm's actions when `ActionsEnabled`, and
always emits the "CloudWatch Alarm State Change" event to the default EventBridge bus
(`failsafe_tools.local.eventbridge.deliver_event`). `SetAlarmState` through boto3 emits the same event.

Metric alarms, as evaluated here:

- Windows: `Period`-long, aligned on whole minutes (on the period itself below 60 s); the newest window
  ends at the latest minute boundary at or before `now` (AWS's documented sample: a 300 s alarm queried
  at 17:04:40 evaluates the window starting 16:59:00). A datapoint belongs to `[start, start + Period)`.
- Data: datapoints whose namespace, metric name and dimension set (exactly the alarm's dimensions, no
  more, no fewer) match, and whose unit matches when the alarm sets `Unit`. Raw values and statistic sets.
- Statistic: SampleCount, Average, Sum, Minimum, Maximum. ExtendedStatistic `pNN` (0 ≤ NN ≤ 100) is
  the nearest-rank percentile of the raw values in the window. CloudWatch computes percentiles from an
  approximate sketch, so values can differ from AWS by the sketch's relative error (about 1 %). As in AWS,
  statistic sets only feed a percentile when SampleCount is 1 or Minimum equals Maximum. With
  `EvaluateLowSampleCountPercentile=ignore` a window with fewer than 10 / (1 - p/100) samples keeps the
  alarm in its state. Other extended statistics (tm, wm, pr, tc, ts, IQM) are rejected.
- `DatapointsToAlarm` (M) of `EvaluationPeriods` (N), with AWS's evaluation range of extra periods
  (here N + 2, as in AWS's worked example of 3 periods in a 5-point range):
  * N or more real datapoints in the range: the newest N real ones decide (M breaching → ALARM, else OK);
    `TreatMissingData` does not matter.
  * none at all: missing → INSUFFICIENT_DATA, ignore → state kept, breaching → ALARM, notBreaching → OK.
  * some, but fewer than N: breaching / notBreaching fill the gaps and M of N decides; missing decides on
    the real points alone (ALARM when at least min(M, real) of them breach); ignore goes to ALARM with M
    breaching real points, to OK when ALARM is out of reach even if every gap were breaching, and else
    keeps the state.
- ComparisonOperator: the four static ones. The anomaly-detection ones (LessThanLowerOrGreaterThanUpper,
  LessThanLower, GreaterThanUpper / `ThresholdMetricId`) are rejected: no anomaly model runs locally.
- Metric math alarms (`Metrics`): MetricStat queries plus arithmetic expressions (+ - * /, unary minus,
  parentheses, numbers, query ids); exactly one query returns data. Functions (FILL, SUM, IF, ...) and
  Metrics Insights queries are rejected with the name of what is unsupported.

Composite alarms: `AlarmRule` with ALARM(x) / OK(x) / INSUFFICIENT_DATA(x) (x a name, a quoted name or an
alarm ARN), AND, OR, NOT, parentheses, TRUE and FALSE. The rule true → ALARM, false → OK; a rule naming
an alarm that does not exist → INSUFFICIENT_DATA. Composites are re-evaluated whenever an alarm changes.
moto 5.2.5 has no `PutCompositeAlarm`; `install()` adds it (the rule is parsed there, so a bad rule is
rejected with a ValidationError at put time).

Unsupported alarms are rejected at `PutMetricAlarm` time with a ValidationError naming the feature;
alarms that reached moto another way raise `UnsupportedAlarmError` from `evaluate_all()` after every
supported alarm has been evaluated. Nothing is silently skipped.

Time: everything comes from `failsafe_tools.local.clock.get_clock()`. `PutMetricData` without a Timestamp is
stamped with the clock's now (moto would use the wall clock); a new alarm starts in INSUFFICIENT_DATA
("Unchecked: Initial alarm creation") as in AWS, and an updated alarm keeps its state.

Alarm actions (`ActionsEnabled` true): SNS topics get AWS's alarm notification JSON, Lambda functions the
alarm payload (`source: aws.cloudwatch`, `alarmData`). Other action types (EC2, Auto Scaling, SSM) are
recorded in `AlarmEvaluator.action_log` as not run locally.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from failsafe_tools.local import eventbridge
from failsafe_tools.local.clock import ClockTicker, get_clock
from failsafe_tools.local.eventbridge import MotoInternalsChanged

log = logging.getLogger(__name__)

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
STATIC_OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
ANOMALY_OPERATORS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
TREAT_MISSING = ("missing", "ignore", "breaching", "notBreaching")
EXTRA_RANGE_PERIODS = 2
_PERCENTILE = re.compile(r"^p(\d{1,3}(?:\.\d{1,10})?)$")
INITIAL_REASON = "Unchecked: Initial alarm creation"


class UnsupportedAlarmError(ValueError):
    """An alarm uses a CloudWatch feature the local evaluator does not implement."""


# --------------------------------------------------------------------------------------------------------
# time helpers


def _naive_utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC).replace(tzinfo=None)


def _epoch(value: datetime) -> float:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.timestamp()


def _ms_stamp(epoch: float) -> str:
    """AWS's alarm timestamp format: 2019-10-02T17:04:40.989+0000."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _event_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason_stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%d/%m/%y %H:%M:%S")


def _compact(data: dict[str, Any]) -> str:
    """reasonData is compact JSON in AWS's events."""
    return json.dumps(data, separators=(",", ":"))


def _fmt(value: float) -> str:
    return repr(float(value))


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
    if stat and (match := _PERCENTILE.match(stat)) and 0.0 <= float(match.group(1)) <= 100.0:
        return stat
    raise UnsupportedAlarmError(
        f"statistic {stat!r}: the local evaluator supports {', '.join(STATISTICS)} and percentiles pNN "
        "(0 <= NN <= 100); trimmed/winsorized/rank statistics and IQM are not evaluated locally"
    )


def _dims(dimensions: Iterable[Any]) -> frozenset[tuple[str, str]]:
    out = set()
    for dimension in dimensions:
        if isinstance(dimension, dict):
            out.add((str(dimension["Name"]), str(dimension["Value"])))
        else:
            out.add((str(dimension.name), str(dimension.value)))
    return frozenset(out)


def _aggregate(stat: str, raws: list[float], sets: list[Any]) -> tuple[float | None, float]:
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
        if _dims(datum.dimensions) != spec.dimensions:
            continue
        moment = _epoch(datum.timestamp)
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
        value, count = _aggregate(spec.stat, raws, sets)
        points.append(Datapoint(start=start, value=value, sample_count=count))
    return points


# --------------------------------------------------------------------------------------------------------
# metric math (arithmetic subset)

_ALLOWED_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
_ALLOWED_NODES = (
    ast.BinOp,
    ast.UnaryOp,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.USub,
    ast.UAdd,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
)


def _compile_expression(query_id: str, expression: str) -> ast.expr:
    if expression.strip().upper().startswith("SELECT"):
        raise UnsupportedAlarmError(
            f"metric query {query_id}: Metrics Insights (SELECT) alarms are not evaluated"
        )
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as exc:
        raise UnsupportedAlarmError(
            f"metric query {query_id}: cannot parse expression {expression!r}"
        ) from exc
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise UnsupportedAlarmError(
                f"metric query {query_id}: metric math function {name}() in {expression!r} is not evaluated "
                "locally; only + - * / over query ids and numbers are"
            )
        if not isinstance(node, _ALLOWED_NODES):
            raise UnsupportedAlarmError(
                f"metric query {query_id}: {type(node).__name__} in {expression!r} is not supported locally"
            )
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise UnsupportedAlarmError(f"metric query {query_id}: constant {node.value!r} is not a number")
    return tree


def _evaluate_expression(node: ast.expr, values: dict[str, float | None]) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise UnsupportedAlarmError(f"metric math references unknown query id {node.id!r}")
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate_expression(node.operand, values)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _evaluate_expression(node.left, values), _evaluate_expression(node.right, values)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div) and right == 0:
            return None
        return _ALLOWED_BINOPS[type(node.op)](left, right)
    raise UnsupportedAlarmError(f"metric math node {type(node).__name__} is not supported locally")


# --------------------------------------------------------------------------------------------------------
# composite rules

_RULE_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<fn>ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:\"(?P<q>[^\"]*)\"|(?P<n>[^)\s]+))\s*\)"
    r"|(?P<kw>AND|OR|NOT|TRUE|FALSE)\b)"
)


RuleNode = tuple[Any, ...]
StateOf = Callable[[str], str | None]


class _RuleParser:
    """Recursive descent: or := and (OR and)*; and := not (AND not)*; not := NOT not | atom."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.tokens = self._tokenize(rule)
        self.index = 0

    def _tokenize(self, rule: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        text = rule.strip()
        position = 0
        while position < len(text):
            match = _RULE_TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise UnsupportedAlarmError(f"AlarmRule {rule!r}: cannot parse at {text[position:][:40]!r}")
            if match.group("lp"):
                tokens.append(("(", "("))
            elif match.group("rp"):
                tokens.append((")", ")"))
            elif match.group("fn"):
                tokens.append((match.group("fn"), _rule_target(match)))
            else:
                tokens.append((match.group("kw"), match.group("kw")))
            position = match.end()
            while position < len(text) and text[position].isspace():
                position += 1
        if not tokens:
            raise UnsupportedAlarmError("AlarmRule is empty")
        return tokens

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise UnsupportedAlarmError(f"AlarmRule {self.rule!r}: unexpected end")
        self.index += 1
        return self.tokens[self.index - 1]

    def parse(self) -> RuleNode:
        tree = self.expr_or()
        if self.index != len(self.tokens):
            raise UnsupportedAlarmError(f"AlarmRule {self.rule!r}: unexpected {self.tokens[self.index][1]!r}")
        return tree

    def expr_or(self) -> RuleNode:
        left = self.expr_and()
        while self.peek() == "OR":
            self.take()
            left = ("or", left, self.expr_and())
        return left

    def expr_and(self) -> RuleNode:
        left = self.expr_not()
        while self.peek() == "AND":
            self.take()
            left = ("and", left, self.expr_not())
        return left

    def expr_not(self) -> RuleNode:
        if self.peek() == "NOT":
            self.take()
            return ("not", self.expr_not())
        return self.atom()

    def atom(self) -> RuleNode:
        kind, value = self.take()
        if kind == "(":
            inner = self.expr_or()
            if self.take()[0] != ")":
                raise UnsupportedAlarmError(f"AlarmRule {self.rule!r}: missing ')'")
            return inner
        if kind in ("TRUE", "FALSE"):
            return ("const", kind == "TRUE")
        if kind in STATES:
            return ("state", kind, value)
        raise UnsupportedAlarmError(f"AlarmRule {self.rule!r}: unexpected {value!r}")


def _rule_target(match: re.Match[str]) -> str:
    target = match.group("q") if match.group("q") is not None else match.group("n")
    return target.split(":alarm:", 1)[-1] if target.startswith("arn:") else target


def parse_alarm_rule(rule: str) -> RuleNode:
    """Parse an AlarmRule into a tree for `evaluate_rule` (`UnsupportedAlarmError` names the position)."""
    return _RuleParser(rule).parse()


def evaluate_rule(node: RuleNode, state_of: StateOf) -> bool | None:
    """True/False, or None when the rule depends on an alarm that does not exist."""
    kind = node[0]
    if kind == "const":
        return bool(node[1])
    if kind == "state":
        got = state_of(node[2])
        return None if got is None else got == node[1]
    if kind == "not":
        inner = evaluate_rule(node[1], state_of)
        return None if inner is None else not inner
    left, right = evaluate_rule(node[1], state_of), evaluate_rule(node[2], state_of)
    return _and(left, right) if kind == "and" else _or(left, right)


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def rule_alarm_names(rule: str) -> list[str]:
    return [_rule_target(match) for match in _RULE_TOKEN.finditer(rule) if match.group("fn")]


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
        _math_plan(alarm)
        return
    if alarm.statistic and alarm.extended_statistic:
        raise UnsupportedAlarmError(f"alarm {alarm.name}: set Statistic or ExtendedStatistic, not both")
    check_statistic(alarm.statistic or alarm.extended_statistic)
    if not alarm.period or int(alarm.period) <= 0:
        raise UnsupportedAlarmError(f"alarm {alarm.name}: Period is required")


@dataclass
class _MathPlan:
    period: int
    specs: dict[str, MetricSpec]
    expressions: list[tuple[str, ast.expr]]
    returned: str
    queries: list[Any]


def _truthy(value: Any) -> bool:
    return value is None or value is True or str(value).lower() == "true"


def _math_plan(alarm: Any) -> _MathPlan:
    specs: dict[str, MetricSpec] = {}
    expressions: list[tuple[str, ast.expr]] = []
    periods = set()
    for query in alarm.metric_data_queries:
        if query.metric_stat is not None:
            stat = query.metric_stat
            period = int(stat.period or query.period or alarm.period or 0)
            if period <= 0:
                raise UnsupportedAlarmError(f"alarm {alarm.name}: metric query {query.id} has no Period")
            periods.add(period)
            specs[query.id] = MetricSpec(
                namespace=stat.metric.namespace,
                name=stat.metric.metric_name,
                dimensions=_dims(stat.metric.dimensions),
                stat=check_statistic(stat.stat),
                period=period,
                unit=stat.unit,
            )
        elif query.expression:
            expressions.append((query.id, _compile_expression(query.id, query.expression)))
        else:
            raise UnsupportedAlarmError(
                f"alarm {alarm.name}: metric query {query.id} has neither MetricStat nor Expression"
            )
    returned = [q.id for q in alarm.metric_data_queries if _truthy(q.return_data)]
    if len(returned) != 1:
        raise UnsupportedAlarmError(
            f"alarm {alarm.name}: exactly one metric query must have ReturnData true, found {returned}"
        )
    if len(periods) > 1:
        raise UnsupportedAlarmError(
            f"alarm {alarm.name}: metric queries with different periods {sorted(periods)}"
        )
    if not periods:
        raise UnsupportedAlarmError(f"alarm {alarm.name}: metric math needs at least one MetricStat query")
    known = set(specs) | {query_id for query_id, _ in expressions}
    for query_id, tree in expressions:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in known:
                raise UnsupportedAlarmError(
                    f"alarm {alarm.name}: expression {query_id} references unknown id {node.id!r}"
                )
    return _MathPlan(periods.pop(), specs, expressions, returned[0], list(alarm.metric_data_queries))


# --------------------------------------------------------------------------------------------------------
# evaluation of one metric alarm


@dataclass
class Evaluation:
    state: str | None  # None: keep the current state
    reason: str
    reason_data: dict[str, Any]


def _windows(period: int, count: int, now: float) -> list[float]:
    granularity = 60 if period >= 60 else period
    end = math.floor(now / granularity) * granularity
    return [end - (count - i) * period for i in range(count)]


def _alarm_points(backend: Any, alarm: Any, now: float) -> tuple[list[Datapoint], int, str]:
    n = int(alarm.evaluation_periods)
    if alarm.metric_data_queries:
        plan = _math_plan(alarm)
        starts = _windows(plan.period, n + EXTRA_RANGE_PERIODS, now)
        per_id = {query_id: series(backend, spec, starts) for query_id, spec in plan.specs.items()}
        values: list[dict[str, float | None]] = [
            {query_id: points[i].value for query_id, points in per_id.items()} for i in range(len(starts))
        ]
        for query_id, tree in plan.expressions:
            for row in values:
                row[query_id] = _evaluate_expression(tree, row)
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
        dimensions=_dims(alarm.dimensions),
        stat=stat,
        period=period,
        unit=alarm.unit,
    )
    starts = _windows(period, n + EXTRA_RANGE_PERIODS, now)
    return series(backend, spec, starts), period, stat


def evaluate_metric_alarm(backend: Any, alarm: Any, now: float) -> Evaluation:
    """What `alarm` should be at `now` (CloudWatch's M-of-N with TreatMissingData; see the module doc)."""
    check_supported(alarm)
    points, period, stat = _alarm_points(backend, alarm, now)
    n = int(alarm.evaluation_periods)
    m = int(alarm.datapoints_to_alarm or n)
    threshold = float(alarm.threshold)
    compare, wording = STATIC_OPERATORS[alarm.comparison_operator]
    treat = alarm.treat_missing_data or "missing"
    real = [p for p in points if p.value is not None]
    newest_first = list(reversed(points))

    base: dict[str, Any] = {"version": "1.0", "queryDate": _ms_stamp(now)}

    def reason_data(evaluated: list[Datapoint]) -> dict[str, Any]:
        data = dict(base)
        if evaluated:
            data["startDate"] = _ms_stamp(min(p.start for p in evaluated))
        data["statistic"] = stat
        data["period"] = period
        data["recentDatapoints"] = [
            p.value for p in sorted(evaluated, key=lambda p: p.start) if p.value is not None
        ]
        data["threshold"] = threshold
        data["evaluatedDatapoints"] = [
            {"timestamp": _ms_stamp(p.start), "sampleCount": p.sample_count, "value": p.value}
            if p.value is not None
            else {"timestamp": _ms_stamp(p.start)}
            for p in newest_first
            if p in evaluated
        ]
        return data

    if (
        alarm.extended_statistic
        and (alarm.evaluate_low_sample_count_percentile or "evaluate") == "ignore"
        and real
        and any(p.sample_count < _low_sample_floor(alarm.extended_statistic) for p in real[-n:])
    ):
        return Evaluation(None, "Low sample count for percentile: state kept", reason_data(real[-n:]))

    def decide(
        evaluated: list[Datapoint], breaching: list[Datapoint], needed: int, out_of: int, filled: int = 0
    ) -> Evaluation:
        return _threshold_evaluation(
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


def _low_sample_floor(extended_statistic: str) -> float:
    percentile = float(extended_statistic[1:])
    return math.inf if percentile >= 100 else 10.0 / (1.0 - percentile / 100.0)


def _threshold_evaluation(
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
        f"{_fmt(p.value)} ({_reason_stamp(p.start)})"
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
        f"threshold ({_fmt(threshold)}) (minimum {minimum} datapoint{plural} for {transition} transition)."
    )
    if missing_filled:
        kind = "Breaching" if treat == "breaching" else "NonBreaching"
        were = "s were" if missing_filled != 1 else " was"
        reason = f"{reason[:-1]} {missing_filled} missing datapoint{were} treated as [{kind}]."
    return Evaluation(ALARM if is_alarm else OK, reason, data)


# --------------------------------------------------------------------------------------------------------
# events


def _metric_stat_block(
    namespace: str, name: str, dimensions: Iterable[Any], period: int, stat: str
) -> dict[str, Any]:
    return {
        "metric": {"namespace": namespace, "name": name, "dimensions": dict(sorted(_dims(dimensions)))},
        "period": int(period),
        "stat": stat,
    }


def alarm_configuration(alarm: Any) -> dict[str, Any]:
    """`detail.configuration` of the state-change event."""
    configuration: dict[str, Any] = {}
    if alarm.description is not None:
        configuration["description"] = alarm.description
    if alarm.rule is not None:
        configuration["alarmRule"] = alarm.rule
        return configuration
    metrics: list[dict[str, Any]] = []
    if alarm.metric_data_queries:
        for query in alarm.metric_data_queries:
            entry: dict[str, Any] = {"id": query.id}
            if query.metric_stat is not None:
                stat = query.metric_stat
                entry["metricStat"] = _metric_stat_block(
                    stat.metric.namespace,
                    stat.metric.metric_name,
                    stat.metric.dimensions,
                    int(stat.period or query.period or 0),
                    stat.stat,
                )
            else:
                entry["expression"] = query.expression
                if query.label:
                    entry["label"] = query.label
            entry["returnData"] = _truthy(query.return_data)
            metrics.append(entry)
    else:
        metrics.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                "metricStat": _metric_stat_block(
                    alarm.namespace,
                    alarm.metric_name,
                    alarm.dimensions,
                    int(alarm.period),
                    alarm.statistic or alarm.extended_statistic,
                ),
                "returnData": True,
            }
        )
    configuration["metrics"] = metrics
    return configuration


def _state_block(value: str, reason: str, reason_data: str | None, timestamp: float) -> dict[str, Any]:
    block: dict[str, Any] = {"value": value, "reason": reason}
    if reason_data:
        block["reasonData"] = reason_data
    block["timestamp"] = _ms_stamp(timestamp)
    return block


def state_change_event(
    alarm: Any,
    account_id: str,
    region: str,
    previous: tuple[str, str, str | None, float],
    now: float,
) -> dict[str, Any]:
    """The "CloudWatch Alarm State Change" event, in the shape of AWS's documented samples."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account_id,
        "time": _event_time(now),
        "region": region,
        "resources": [alarm.alarm_arn],
        "detail": {
            "alarmName": alarm.name,
            "state": _state_block(alarm.state_value, alarm.state_reason, alarm.state_reason_data, now),
            "previousState": _state_block(*previous),
            "configuration": alarm_configuration(alarm),
        },
    }


# --------------------------------------------------------------------------------------------------------
# the evaluator


@dataclass
class StateChange:
    alarm_name: str
    account_id: str
    region: str
    previous: str
    current: str
    event: dict[str, Any]


@dataclass
class ActionRecord:
    alarm_name: str
    action_arn: str
    state: str
    ok: bool
    detail: str = ""


@dataclass
class AlarmEvaluator:
    """Evaluates every alarm of every moto CloudWatch backend; see the module docstring for the rules."""

    changes: list[StateChange] = field(default_factory=list)
    action_log: list[ActionRecord] = field(default_factory=list)
    _lock: Any = field(default_factory=threading.RLock, repr=False)

    def evaluate_all(self) -> list[StateChange]:
        """Evaluate all alarms at the clock's now; return the state changes this call made (events sent)."""
        from moto.cloudwatch.models import cloudwatch_backends

        now = get_clock().time()
        made: list[StateChange] = []
        problems: list[str] = []
        with self._lock:
            for account_id, regions in list(cloudwatch_backends.items()):
                for region, backend in list(regions.items()):
                    for alarm in list(backend.alarms.values()):
                        if alarm.rule is not None:
                            continue
                        try:
                            evaluation = evaluate_metric_alarm(backend, alarm, now)
                        except UnsupportedAlarmError as exc:
                            problems.append(f"{account_id}/{region}/{alarm.name}: {exc}")
                            continue
                        if evaluation.state is None or evaluation.state == alarm.state_value:
                            continue
                        change = self.transition(
                            backend,
                            alarm,
                            evaluation.state,
                            reason=evaluation.reason,
                            reason_data=_compact(evaluation.reason_data),
                            now=now,
                        )
                        made.append(change)
                    made.extend(self._evaluate_composites(backend, now, problems))
        if problems:
            raise UnsupportedAlarmError("alarms not evaluated locally:\n  " + "\n  ".join(problems))
        return made

    tick = evaluate_all

    def _evaluate_composites(
        self, backend: Any, now: float, problems: list[str] | None = None
    ) -> list[StateChange]:
        made: list[StateChange] = []
        for _ in range(max(1, len(backend.alarms))):
            changed = False
            for alarm in list(backend.alarms.values()):
                if alarm.rule is None:
                    continue
                try:
                    change = self._evaluate_composite(backend, alarm, now)
                except UnsupportedAlarmError as exc:
                    if problems is None:
                        raise
                    problems.append(f"{backend.account_id}/{backend.region_name}/{alarm.name}: {exc}")
                    continue
                if change is not None:
                    made.append(change)
                    changed = True
            if not changed:
                break
        return made

    def _evaluate_composite(self, backend: Any, alarm: Any, now: float) -> StateChange | None:
        tree = parse_alarm_rule(alarm.rule)
        alarms = backend.alarms

        def state_of(name: str) -> str | None:
            child = alarms.get(name)
            return None if child is None else str(child.state_value)

        result = evaluate_rule(tree, state_of)
        names = rule_alarm_names(alarm.rule)
        if result is None:
            unknown = sorted({name for name in names if name not in alarms})
            new_state = INSUFFICIENT_DATA
            reason = f"Insufficient Data: AlarmRule references alarms that do not exist: {', '.join(unknown)}"
            reason_data: dict[str, Any] = {"triggeringAlarms": []}
        else:
            new_state = ALARM if result else OK
            children = [alarms[name] for name in dict.fromkeys(names) if name in alarms]
            trigger = max(children, key=lambda a: _epoch(a.state_updated_timestamp), default=None)
            if trigger is not None:
                stamp = datetime.fromtimestamp(_epoch(trigger.state_updated_timestamp), tz=UTC)
                reason = (
                    f"{trigger.alarm_arn} transitioned to {trigger.state_value} at "
                    f"{stamp.strftime('%A %d %B, %Y %H:%M:%S')} UTC"
                )
            else:
                reason = f"AlarmRule evaluated to {str(bool(result)).upper()}"
            reason_data = {
                "triggeringAlarms": [
                    {
                        "arn": child.alarm_arn,
                        "state": {
                            "value": child.state_value,
                            "timestamp": _ms_stamp(_epoch(child.state_updated_timestamp)),
                        },
                    }
                    for child in children
                    if (child.state_value == ALARM) == bool(result)
                ]
            }
        if new_state == alarm.state_value:
            return None
        return self.transition(
            backend, alarm, new_state, reason=reason, reason_data=_compact(reason_data), now=now
        )

    def transition(
        self, backend: Any, alarm: Any, state: str, *, reason: str, reason_data: str | None, now: float
    ) -> StateChange:
        """Store the new state in moto, run actions, emit the event."""
        previous = (
            str(alarm.state_value),
            str(alarm.state_reason),
            alarm.state_reason_data,
            _epoch(alarm.state_updated_timestamp),
        )
        alarm.update_state(reason, reason_data, state)
        alarm.state_updated_timestamp = _naive_utc(now)
        return self._announce(backend, alarm, previous, now)

    def _announce(
        self, backend: Any, alarm: Any, previous: tuple[str, str, str | None, float], now: float
    ) -> StateChange:
        event = state_change_event(alarm, backend.account_id, backend.region_name, previous, now)
        change = StateChange(
            alarm.name, backend.account_id, backend.region_name, previous[0], alarm.state_value, event
        )
        with self._lock:
            self.changes.append(change)
        if alarm.actions_enabled:
            self._run_actions(backend, alarm, event)
        try:
            eventbridge.deliver_event(event, backend.account_id, backend.region_name)
        except Exception:
            log.exception("delivering the state change of alarm %s to EventBridge failed", alarm.name)
        return change

    def _run_actions(self, backend: Any, alarm: Any, event: dict[str, Any]) -> None:
        from moto.utilities.arns import parse_arn

        actions = {
            ALARM: alarm.alarm_actions,
            OK: alarm.ok_actions,
            INSUFFICIENT_DATA: alarm.insufficient_data_actions,
        }
        for action in actions.get(alarm.state_value) or []:
            try:
                arn = parse_arn(action)
                if arn.service == "sns":
                    from moto.sns.models import sns_backends

                    sns_backends[arn.account][arn.region].publish(
                        message=json.dumps(_sns_alarm_message(alarm, event)),
                        arn=action,
                        subject=f'{alarm.state_value}: "{alarm.name}" in {event["region"]}'[:99],
                    )
                    self.action_log.append(
                        ActionRecord(alarm.name, action, alarm.state_value, True, "published")
                    )
                elif arn.service == "lambda":
                    invoke = eventbridge.current_lambda_invoker()
                    response = invoke(
                        action, json.dumps(_lambda_alarm_payload(alarm, event)).encode(), "Event"
                    )
                    self.action_log.append(
                        ActionRecord(alarm.name, action, alarm.state_value, True, repr(response)[:200])
                    )
                else:
                    self.action_log.append(
                        ActionRecord(
                            alarm.name,
                            action,
                            alarm.state_value,
                            False,
                            "action type not run by the local stack",
                        )
                    )
                    log.warning("alarm %s action %s: not run by the local stack", alarm.name, action)
            except Exception as exc:
                self.action_log.append(
                    ActionRecord(alarm.name, action, alarm.state_value, False, f"{type(exc).__name__}: {exc}")
                )
                log.warning("alarm %s action %s failed: %s", alarm.name, action, exc)


def _sns_alarm_message(alarm: Any, event: dict[str, Any]) -> dict[str, Any]:
    detail = event["detail"]
    message: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": event["account"],
        "AlarmConfigurationUpdatedTimestamp": _ms_stamp(_epoch(alarm.configuration_updated_timestamp)),
        "NewStateValue": detail["state"]["value"],
        "NewStateReason": detail["state"]["reason"],
        "StateChangeTime": detail["state"]["timestamp"],
        "Region": event["region"],
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": detail["previousState"]["value"],
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
    }
    if alarm.rule is None and not alarm.metric_data_queries:
        message["Trigger"] = {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
            "Statistic": (alarm.statistic or "").upper() or None,
            "ExtendedStatistic": alarm.extended_statistic,
            "Unit": alarm.unit,
            "Dimensions": [{"name": n, "value": v} for n, v in sorted(_dims(alarm.dimensions))],
            "Period": int(alarm.period),
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        }
    return message


def _lambda_alarm_payload(alarm: Any, event: dict[str, Any]) -> dict[str, Any]:
    detail = event["detail"]
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm.alarm_arn,
        "accountId": event["account"],
        "time": detail["state"]["timestamp"],
        "region": event["region"],
        "alarmData": {
            "alarmName": alarm.name,
            "state": detail["state"],
            "previousState": detail["previousState"],
            "configuration": detail["configuration"],
        },
    }


# --------------------------------------------------------------------------------------------------------
# background ticker


class AlarmTicker(ClockTicker):
    """Runs `evaluator.evaluate_all()` every `interval` simulated seconds of the local clock."""

    def __init__(self, evaluator: AlarmEvaluator, interval: float = 60.0, poll: float = 0.02) -> None:
        super().__init__(evaluator.evaluate_all, interval, name="failsafe-alarm-ticker", poll=poll)
        self.evaluator = evaluator


# --------------------------------------------------------------------------------------------------------
# install: hook moto's CloudWatch backend

_installed: dict[str, Any] = {}
_install_lock = threading.RLock()
_shared: dict[str, AlarmEvaluator] = {}


def get_evaluator() -> AlarmEvaluator:
    """The process-wide evaluator that the `SetAlarmState` hook and `PutCompositeAlarm` report through."""
    with _install_lock:
        if "evaluator" not in _shared:
            _shared["evaluator"] = AlarmEvaluator()
        return _shared["evaluator"]


def _put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
    from moto.cloudwatch.exceptions import ValidationError

    name = kwargs.get("name", args[0] if args else None)
    existing = self.alarms.get(name)
    alarm = _installed["put_metric_alarm"](self, *args, **kwargs)
    try:
        check_supported(alarm)
    except UnsupportedAlarmError as exc:
        if existing is not None:
            self.alarms[name] = existing
        else:
            self.alarms.pop(name, None)
        raise ValidationError(f"failsafe local CloudWatch: {exc}") from exc
    now = get_clock().time()
    alarm.configuration_updated_timestamp = _naive_utc(now)
    if existing is not None:
        alarm.state_value = existing.state_value
        alarm.state_reason = existing.state_reason
        alarm.state_reason_data = existing.state_reason_data
        alarm.state_updated_timestamp = existing.state_updated_timestamp
        alarm.history = existing.history
    else:
        alarm.state_value = INSUFFICIENT_DATA
        alarm.state_reason = INITIAL_REASON
        alarm.state_reason_data = None
        alarm.state_updated_timestamp = _naive_utc(now)
    return alarm


def _put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    stamp = _naive_utc(get_clock().time())
    stamped = [
        member if member.get("Timestamp") else {**member, "Timestamp": stamp} for member in metric_data
    ]
    _installed["put_metric_data"](self, namespace, stamped)


def _set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None:
    alarm = self.alarms.get(alarm_name)
    previous = None
    if alarm is not None:
        previous = (
            str(alarm.state_value),
            str(alarm.state_reason),
            alarm.state_reason_data,
            _epoch(alarm.state_updated_timestamp),
        )
    _installed["set_alarm_state"](self, alarm_name, reason, reason_data, state_value)
    if alarm is None or previous is None:
        return
    now = get_clock().time()
    alarm.state_updated_timestamp = _naive_utc(now)
    if previous[0] == alarm.state_value:
        return
    evaluator = get_evaluator()
    evaluator._announce(self, alarm, previous, now)
    evaluator._evaluate_composites(self, now)


def _get_metric_statistics(self: Any) -> Any:
    """GetMetricStatistics as AWS answers it: exact dimension match (moto matches supersets, so a query on
    [Service, Environment] also counted the per-region copies), Statistics and ExtendedStatistics (pNN,
    which moto ignores), one datapoint per period that has data."""
    from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
    from moto.core.responses import ActionResult

    namespace = self._get_param("Namespace")
    metric_name = self._get_param("MetricName")
    start, end = _epoch(self._get_param("StartTime")), _epoch(self._get_param("EndTime"))
    period = self._get_int_param("Period")
    statistics = list(self._get_param("Statistics", []))
    extended = list(self._get_param("ExtendedStatistics", []))
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    for stat in extended:
        check_statistic(stat)
    dimensions = _dims(self._get_param("Dimensions", []))
    unit = self._get_param("Unit")
    starts = [start + i * period for i in range(math.ceil((end - start) / period))]
    datapoints: list[dict[str, Any]] = []
    series_by_stat = {
        stat: series(
            self.cloudwatch_backend,
            MetricSpec(namespace, metric_name, dimensions, stat, period, unit),
            starts,
        )
        for stat in [*statistics, *extended]
    }
    for index, window in enumerate(starts):
        points = {stat: values[index] for stat, values in series_by_stat.items()}
        if all(point.value is None for point in points.values()):
            continue
        datapoint: dict[str, Any] = {"Timestamp": _naive_utc(window), "Unit": unit or "None"}
        for stat in statistics:
            datapoint[stat] = points[stat].value
        if extended:
            datapoint["ExtendedStatistics"] = {stat: points[stat].value for stat in extended}
        datapoints.append(datapoint)
    return ActionResult({"Label": metric_name, "Datapoints": datapoints})


def _put_composite_alarm(self: Any) -> Any:
    """moto 5.2.5 lacks PutCompositeAlarm; its put_metric_alarm handler already reads AlarmRule."""
    from moto.cloudwatch.exceptions import ValidationError

    rule = self._get_param("AlarmRule")
    if not rule:
        raise ValidationError("AlarmRule is required")
    try:
        parse_alarm_rule(rule)
    except UnsupportedAlarmError as exc:
        raise ValidationError(f"failsafe local CloudWatch: {exc}") from exc
    result = self.put_metric_alarm()
    backend = self.cloudwatch_backend
    get_evaluator()._evaluate_composites(backend, get_clock().time())
    return result


def _require(owner: Any, attribute: str, what: str) -> Any:
    value = getattr(owner, attribute, None)
    if value is None:
        import moto

        raise MotoInternalsChanged(
            f"moto {moto.__version__}: {owner.__module__}.{owner.__name__}.{attribute} is missing; "
            f"failsafe_tools.local.alarms hooks it to {what}. The local stack supports moto >=5.2.5,<5.3."
        )
    return value


def assert_moto_internals() -> None:
    """Fail loudly if any moto CloudWatch internal this module relies on has changed."""
    import inspect

    from moto.cloudwatch import models, responses

    def params(function: Callable[..., Any]) -> list[str]:
        return list(inspect.signature(function).parameters)

    checks: list[tuple[Any, str, str, list[str]]] = [
        (
            models.CloudWatchBackend,
            "set_alarm_state",
            "emit events on SetAlarmState",
            ["self", "alarm_name", "reason", "reason_data", "state_value"],
        ),
        (models.CloudWatchBackend, "put_metric_alarm", "start alarms in INSUFFICIENT_DATA", ["self", "name"]),
        (
            models.CloudWatchBackend,
            "put_metric_data",
            "stamp datapoints from the local clock",
            ["self", "namespace", "metric_data"],
        ),
        (models.CloudWatchBackend, "get_all_metrics", "read stored datapoints", ["self"]),
        (
            responses.CloudWatchResponse,
            "get_metric_statistics",
            "answer GetMetricStatistics with exact dimensions and percentiles",
            ["self"],
        ),
        (
            models.Alarm,
            "update_state",
            "store state changes",
            ["self", "reason", "reason_data", "state_value"],
        ),
        (responses.CloudWatchResponse, "put_metric_alarm", "serve PutCompositeAlarm", ["self"]),
    ]
    for owner, attribute, what, expected in checks:
        function = (
            _installed.get(attribute)
            if attribute in _installed and owner is models.CloudWatchBackend
            else None
        )
        function = function or _require(owner, attribute, what)
        got = params(function)
        if got[: len(expected)] != expected:
            raise MotoInternalsChanged(
                f"moto {owner.__name__}.{attribute} signature changed: {got}, expected {expected}"
            )
    alarm_params = params(models.Alarm.__init__)
    for name in (
        "metric_data_queries",
        "comparison_operator",
        "evaluation_periods",
        "datapoints_to_alarm",
        "period",
        "threshold",
        "statistic",
        "extended_statistic",
        "dimensions",
        "treat_missing_data",
        "evaluate_low_sample_count_percentile",
        "threshold_metric_id",
        "rule",
        "unit",
        "actions_enabled",
    ):
        if name not in alarm_params:
            raise MotoInternalsChanged(f"moto Alarm.__init__ lost parameter {name!r}: {alarm_params}")
    source = inspect.getsource(models.Alarm.__init__)
    for attribute in (
        "self.state_value",
        "self.state_reason_data",
        "self.state_updated_timestamp",
        "self.alarm_arn",
    ):
        if attribute not in source:
            raise MotoInternalsChanged(f"moto Alarm no longer sets {attribute}")
    for cls, names in (
        (models.MetricDatum, ("value", "timestamp", "dimensions", "unit")),
        (models.MetricAggregatedDatum, ("min_stat", "max_stat", "sample_count", "sum_stat")),
    ):
        got = params(cls.__init__)
        missing = [
            name for name in names if name not in got and name not in params(models.MetricDatumBase.__init__)
        ]
        if missing:
            raise MotoInternalsChanged(f"moto {cls.__name__} lost {missing}")
    if "self.alarms" not in inspect.getsource(models.CloudWatchBackend.__init__):
        raise MotoInternalsChanged("moto CloudWatchBackend no longer keeps alarms in `self.alarms`")
    _require(models, "cloudwatch_backends", "find every CloudWatch backend")


def install() -> None:
    """Hook moto's CloudWatch (and, through `eventbridge.install`, EventBridge). Idempotent."""
    from moto.cloudwatch import models, responses

    eventbridge.install()
    with _install_lock:
        if _installed:
            return
        assert_moto_internals()
        backend = models.CloudWatchBackend
        _installed["set_alarm_state"] = backend.set_alarm_state
        _installed["put_metric_alarm"] = backend.put_metric_alarm
        _installed["put_metric_data"] = backend.put_metric_data
        _installed["put_composite_alarm"] = getattr(responses.CloudWatchResponse, "put_composite_alarm", None)
        _installed["get_metric_statistics"] = responses.CloudWatchResponse.get_metric_statistics
        responses.CloudWatchResponse.get_metric_statistics = _get_metric_statistics  # type: ignore[method-assign]
        backend.set_alarm_state = _set_alarm_state  # type: ignore[method-assign]
        backend.put_metric_alarm = _put_metric_alarm  # type: ignore[method-assign]
        backend.put_metric_data = _put_metric_data  # type: ignore[method-assign]
        if _installed["put_composite_alarm"] is None:
            responses.CloudWatchResponse.put_composite_alarm = _put_composite_alarm  # type: ignore[attr-defined]


def uninstall() -> None:
    """Restore moto's originals (tests of `install()` itself)."""
    from moto.cloudwatch import models, responses

    with _install_lock:
        if not _installed:
            eventbridge.uninstall()
            return
        backend = models.CloudWatchBackend
        backend.set_alarm_state = _installed["set_alarm_state"]  # type: ignore[method-assign]
        backend.put_metric_alarm = _installed["put_metric_alarm"]  # type: ignore[method-assign]
        backend.put_metric_data = _installed["put_metric_data"]  # type: ignore[method-assign]
        responses.CloudWatchResponse.get_metric_statistics = _installed["get_metric_statistics"]  # type: ignore[method-assign]
        if _installed["put_composite_alarm"] is None:
            delattr(responses.CloudWatchResponse, "put_composite_alarm")
        _installed.clear()
    eventbridge.uninstall()


def installed() -> bool:
    return bool(_installed)


def iter_alarms() -> Iterator[tuple[str, str, Any]]:
    """(account, region, moto Alarm) for every alarm in every backend."""
    from moto.cloudwatch.models import cloudwatch_backends

    for account_id, regions in list(cloudwatch_backends.items()):
        for region, backend in list(regions.items()):
            for alarm in list(backend.alarms.values()):
                yield account_id, region, alarm
