"""The "CloudWatch Alarm State Change" event and its `configuration` block, in AWS's documented shape."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from failsafe_tools.local.alarms.common import event_time, ms_stamp
from failsafe_tools.local.alarms.metric_math import truthy
from failsafe_tools.local.alarms.metrics import dims

# --------------------------------------------------------------------------------------------------------
# events


def metric_stat_block(
    namespace: str, name: str, dimensions: Iterable[Any], period: int, stat: str
) -> dict[str, Any]:
    return {
        "metric": {"namespace": namespace, "name": name, "dimensions": dict(sorted(dims(dimensions)))},
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
                entry["metricStat"] = metric_stat_block(
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
            entry["returnData"] = truthy(query.return_data)
            metrics.append(entry)
    else:
        metrics.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                "metricStat": metric_stat_block(
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


def state_block(value: str, reason: str, reason_data: str | None, timestamp: float) -> dict[str, Any]:
    block: dict[str, Any] = {"value": value, "reason": reason}
    if reason_data:
        block["reasonData"] = reason_data
    block["timestamp"] = ms_stamp(timestamp)
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
        "time": event_time(now),
        "region": region,
        "resources": [alarm.alarm_arn],
        "detail": {
            "alarmName": alarm.name,
            "state": state_block(alarm.state_value, alarm.state_reason, alarm.state_reason_data, now),
            "previousState": state_block(*previous),
            "configuration": alarm_configuration(alarm),
        },
    }
