"""Alarm kinds the local evaluator cannot evaluate are rejected with a message naming the feature."""

from __future__ import annotations

import pytest
from alarm_support import LocalAws
from botocore.exceptions import ClientError

from failsafe_tools.local.alarms import UnsupportedAlarmError


def rejected(aws: LocalAws, **params: object) -> str:
    with pytest.raises(ClientError) as caught:
        aws.cloudwatch.put_metric_alarm(**params)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    name = params["AlarmName"]
    assert aws.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    message: str = caught.value.response["Error"]["Message"]
    return message


BASE: dict[str, object] = {
    "EvaluationPeriods": 1,
    "ComparisonOperator": "GreaterThanThreshold",
    "Threshold": 1.0,
}


def test_anomaly_detection_band_is_rejected(aws: LocalAws) -> None:
    # Given / When an anomaly detection alarm is put
    message = rejected(
        aws,
        AlarmName="band",
        EvaluationPeriods=1,
        ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold",
        ThresholdMetricId="ad1",
        Metrics=[
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {"Namespace": "N", "MetricName": "M"},
                    "Period": 60,
                    "Stat": "Average",
                },
                "ReturnData": True,
            },
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)"},
        ],
    )

    # Then the message says anomaly detection is not supported
    assert "anomaly detection" in message


def test_metric_math_function_is_rejected(aws: LocalAws) -> None:
    # Given / When a math alarm uses FILL()
    message = rejected(
        aws,
        AlarmName="fill",
        **BASE,
        Metrics=[
            {
                "Id": "m1",
                "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Sum"},
                "ReturnData": False,
            },
            {"Id": "e1", "Expression": "FILL(m1, 0)", "ReturnData": True},
        ],
    )

    # Then the message names the function
    assert "FILL()" in message


def test_metrics_insights_query_is_rejected(aws: LocalAws) -> None:
    # Given / When an alarm on a Metrics Insights query is put
    message = rejected(
        aws,
        AlarmName="insights",
        **BASE,
        Metrics=[{"Id": "q1", "Expression": "SELECT AVG(M) FROM N", "Period": 60, "ReturnData": True}],
    )

    # Then the message names Metrics Insights
    assert "Metrics Insights" in message


def test_unsupported_extended_statistic_is_rejected(aws: LocalAws) -> None:
    # Given / When a percentile-rank statistic is used
    message = rejected(
        aws, AlarmName="pr", **BASE, Namespace="N", MetricName="M", Period=60, ExtendedStatistic="pr(10:20)"
    )

    # Then the message lists what is supported
    assert "percentiles pNN" in message


def test_datapoints_to_alarm_above_evaluation_periods_is_rejected(aws: LocalAws) -> None:
    # Given / When M > N
    message = rejected(
        aws,
        AlarmName="m-gt-n",
        **{**BASE, "EvaluationPeriods": 2},
        DatapointsToAlarm=3,
        Namespace="N",
        MetricName="M",
        Period=60,
        Statistic="Average",
    )

    # Then the message names both settings
    assert "DatapointsToAlarm 3" in message
    assert "EvaluationPeriods 2" in message


def test_alarm_stored_behind_the_hook_fails_evaluate_all_after_the_others(aws: LocalAws) -> None:
    # Given a supported alarm, and an anomaly alarm written into moto's backend behind PutMetricAlarm's hook
    from moto.cloudwatch.models import Alarm, cloudwatch_backends

    aws.alarm("fine", EvaluationPeriods=1, DatapointsToAlarm=1)
    backend = cloudwatch_backends["123456789012"]["us-east-1"]
    sneaky = Alarm(
        account_id="123456789012",
        region_name="us-east-1",
        name="sneaky",
        namespace="N",
        metric_name="M",
        metric_data_queries=None,
        comparison_operator="GreaterThanUpperThreshold",
        evaluation_periods=1,
        datapoints_to_alarm=None,
        period=60,
        threshold=1.0,
        statistic="Average",
        extended_statistic=None,
        description="",
        dimensions=[],
        alarm_actions=[],
        ok_actions=None,
        insufficient_data_actions=None,
        unit=None,
        actions_enabled=True,
        treat_missing_data=None,
        evaluate_low_sample_count_percentile=None,
        threshold_metric_id="ad1",
        rule=None,
    )
    backend.alarms["sneaky"] = sneaky
    aws.minute(500.0)

    # When all alarms are evaluated
    with pytest.raises(UnsupportedAlarmError, match="sneaky: alarm sneaky: anomaly detection"):
        aws.evaluator.evaluate_all()

    # Then the supported alarm was still evaluated
    assert aws.state("fine") == "ALARM"
