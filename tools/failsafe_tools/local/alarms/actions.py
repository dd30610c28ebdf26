"""Alarm actions: the SNS notification JSON and the Lambda alarm payload that AWS sends."""

from __future__ import annotations

from typing import Any

from failsafe_tools.local.alarms.common import epoch, ms_stamp
from failsafe_tools.local.alarms.metrics import dims


def sns_alarm_message(alarm: Any, event: dict[str, Any]) -> dict[str, Any]:
    detail = event["detail"]
    message: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": event["account"],
        "AlarmConfigurationUpdatedTimestamp": ms_stamp(epoch(alarm.configuration_updated_timestamp)),
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
            "Dimensions": [{"name": n, "value": v} for n, v in sorted(dims(alarm.dimensions))],
            "Period": int(alarm.period),
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        }
    return message


def lambda_alarm_payload(alarm: Any, event: dict[str, Any]) -> dict[str, Any]:
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
