"""Metric math alarms: the arithmetic subset (+ - * /, unary minus, numbers, query ids) and the plan of
an alarm's `Metrics` queries."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from failsafe_tools.local.alarms.common import UnsupportedAlarmError
from failsafe_tools.local.alarms.metrics import MetricSpec, check_statistic, dims

# --------------------------------------------------------------------------------------------------------
# metric math (arithmetic subset)

ALLOWED_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
ALLOWED_NODES = (
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


def compile_expression(query_id: str, expression: str) -> ast.expr:
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
        if not isinstance(node, ALLOWED_NODES):
            raise UnsupportedAlarmError(
                f"metric query {query_id}: {type(node).__name__} in {expression!r} is not supported locally"
            )
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise UnsupportedAlarmError(f"metric query {query_id}: constant {node.value!r} is not a number")
    return tree


def evaluate_expression(node: ast.expr, values: dict[str, float | None]) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise UnsupportedAlarmError(f"metric math references unknown query id {node.id!r}")
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = evaluate_expression(node.operand, values)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = evaluate_expression(node.left, values), evaluate_expression(node.right, values)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div) and right == 0:
            return None
        return ALLOWED_BINOPS[type(node.op)](left, right)
    raise UnsupportedAlarmError(f"metric math node {type(node).__name__} is not supported locally")


@dataclass
class MathPlan:
    period: int
    specs: dict[str, MetricSpec]
    expressions: list[tuple[str, ast.expr]]
    returned: str
    queries: list[Any]


def truthy(value: Any) -> bool:
    return value is None or value is True or str(value).lower() == "true"


def math_plan(alarm: Any) -> MathPlan:
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
                dimensions=dims(stat.metric.dimensions),
                stat=check_statistic(stat.stat),
                period=period,
                unit=stat.unit,
            )
        elif query.expression:
            expressions.append((query.id, compile_expression(query.id, query.expression)))
        else:
            raise UnsupportedAlarmError(
                f"alarm {alarm.name}: metric query {query.id} has neither MetricStat nor Expression"
            )
    returned = [q.id for q in alarm.metric_data_queries if truthy(q.return_data)]
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
    return MathPlan(periods.pop(), specs, expressions, returned[0], list(alarm.metric_data_queries))
