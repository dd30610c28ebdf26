"""Metric alarms: M of N, statistics, percentiles, dimensions, metric math, actions; events to targets."""

from __future__ import annotations

import json

import pytest
from alarm_support import ACCOUNT, LocalAws

from failsafe_tools.local import eventbridge


def alarm_events(received: list[dict[str, object]]) -> list[dict[str, object]]:
    return [event for event in received if event.get("detail-type") == "CloudWatch Alarm State Change"]


def test_m_of_n_breach_delivers_one_alarm_event_to_lambda_and_step_functions(aws: LocalAws) -> None:
    # Given an alarm (2 of 3 minutes above 100 ms) whose rule targets a Lambda and a state machine
    function_arn = aws.function("alarm-ingest")
    machine_arn = aws.state_machine()
    aws.rule(
        "alarms-to-controller", [{"Id": "ingest", "Arn": function_arn}, {"Id": "sfn", "Arn": machine_arn}]
    )
    aws.alarm("p1-latency")
    aws.minute(50.0)
    assert [c.current for c in aws.evaluator.evaluate_all()] == ["OK"]
    aws.received.clear()

    # When two of the next three minutes breach and the alarm is evaluated
    aws.minute(150.0)
    aws.minute(90.0)
    aws.minute(180.0)
    changes = aws.evaluator.evaluate_all()

    # Then exactly one ALARM event reached the Lambda, and the state machine started with the same event
    assert [(c.alarm_name, c.previous, c.current) for c in changes] == [("p1-latency", "OK", "ALARM")]
    events = alarm_events(aws.received)
    assert len(events) == 1
    event = events[0]
    assert event["detail"]["state"]["value"] == "ALARM"  # type: ignore[index]
    assert event["resources"] == [f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:p1-latency"]
    executions = aws.sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    inputs = [
        json.loads(aws.sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions
    ]
    alarm_inputs = [i for i in inputs if i["detail"]["state"]["value"] == "ALARM"]
    assert alarm_inputs == [event]
    assert len(inputs) == 2  # the INSUFFICIENT_DATA -> OK change of the Given step started one too
    assert aws.state("p1-latency") == "ALARM"
    described = aws.cloudwatch.describe_alarms(AlarmNames=["p1-latency"])["MetricAlarms"][0]
    assert described["StateReason"].startswith("Threshold Crossed: 2 out of the last 3 datapoints")
    assert json.loads(described["StateReasonData"])["recentDatapoints"] == [150.0, 90.0, 180.0]
    assert described["StateUpdatedTimestamp"].timestamp() == aws.clock.time()
    assert all(record.ok for record in eventbridge.delivery_log())


def test_second_evaluation_without_change_emits_nothing(aws: LocalAws) -> None:
    # Given an alarm already moved to ALARM and its event delivered
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])
    aws.alarm("p1-latency", EvaluationPeriods=1, DatapointsToAlarm=1)
    aws.minute(500.0)
    assert [c.current for c in aws.evaluator.evaluate_all()] == ["ALARM"]
    delivered = len(aws.received)

    # When it is evaluated again, at the same time and one breaching minute later
    again = aws.evaluator.evaluate_all()
    aws.minute(600.0)
    later = aws.evaluator.evaluate_all()

    # Then nothing changes and nothing is delivered
    assert again == []
    assert later == []
    assert len(aws.received) == delivered


def test_recovery_emits_ok_event_with_previous_state_alarm(aws: LocalAws) -> None:
    # Given an alarm in ALARM
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])
    aws.alarm("p1-latency", EvaluationPeriods=2, DatapointsToAlarm=2)
    aws.minute(300.0)
    aws.minute(300.0)
    aws.evaluator.evaluate_all()
    aws.received.clear()

    # When one healthy minute arrives (2 of 2 no longer breach)
    aws.minute(20.0)
    changes = aws.evaluator.evaluate_all()

    # Then one OK event whose previousState is ALARM
    assert [(c.previous, c.current) for c in changes] == [("ALARM", "OK")]
    (event,) = alarm_events(aws.received)
    detail = event["detail"]
    assert detail["state"]["value"] == "OK"  # type: ignore[index]
    assert detail["previousState"]["value"] == "ALARM"  # type: ignore[index]
    assert "was not greater than the threshold (100.0)" in detail["state"]["reason"]  # type: ignore[index]


def test_fewer_than_m_breaching_points_stay_ok(aws: LocalAws) -> None:
    # Given a 2-of-3 alarm that is OK
    aws.alarm("p1-latency")
    aws.minute(10.0)
    aws.minute(10.0)
    aws.minute(10.0)
    aws.evaluator.evaluate_all()

    # When only one of the last three minutes breaches
    aws.minute(999.0)
    changes = aws.evaluator.evaluate_all()

    # Then the alarm stays OK
    assert changes == []
    assert aws.state("p1-latency") == "OK"


def test_dimensions_must_match_exactly(aws: LocalAws) -> None:
    # Given an alarm on Service=recs
    aws.alarm("p1-latency", EvaluationPeriods=1, DatapointsToAlarm=1)

    # When breaching data arrives only for another service and for Service=recs plus an extra dimension
    aws.put(999.0, dimensions=[{"Name": "Service", "Value": "search"}])
    aws.put(
        999.0, dimensions=[{"Name": "Service", "Value": "recs"}, {"Name": "Region", "Value": "eu-west-1"}]
    )
    aws.put(999.0, dimensions=[])
    aws.minute()
    changes = aws.evaluator.evaluate_all()

    # Then the alarm has no data (missing → INSUFFICIENT_DATA stays) and never alarms
    assert changes == []
    assert aws.state("p1-latency") == "INSUFFICIENT_DATA"


@pytest.mark.parametrize(
    ("statistic", "threshold", "expected"),
    [
        ("SampleCount", 2.0, "ALARM"),
        ("SampleCount", 3.0, "OK"),
        ("Sum", 59.0, "ALARM"),
        ("Sum", 60.0, "OK"),
        ("Average", 19.0, "ALARM"),
        ("Average", 20.0, "OK"),
        ("Minimum", 9.0, "ALARM"),
        ("Minimum", 10.0, "OK"),
        ("Maximum", 29.0, "ALARM"),
        ("Maximum", 30.0, "OK"),
    ],
)
def test_statistics_over_one_period(aws: LocalAws, statistic: str, threshold: float, expected: str) -> None:
    # Given a 1-of-1 GreaterThanThreshold alarm on the statistic, its threshold just below or at the value
    aws.alarm(
        "stat",
        Statistic=statistic,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
    )

    # When one minute holds the raw values 10 and 30 and a statistic set of one sample of 20
    aws.put(10.0, 30.0)
    aws.cloudwatch.put_metric_data(
        Namespace="Failsafe/Test",
        MetricData=[
            {
                "MetricName": "LatencyMs",
                "Dimensions": [{"Name": "Service", "Value": "recs"}],
                "StatisticValues": {"SampleCount": 1, "Sum": 20.0, "Minimum": 20.0, "Maximum": 20.0},
            }
        ],
    )
    aws.minute()
    aws.evaluator.evaluate_all()

    # Then: SampleCount 3, Sum 60, Average 20, Minimum 10, Maximum 30 decide the state
    assert aws.state("stat") == expected


@pytest.mark.parametrize(
    ("operator", "threshold", "expected"),
    [
        ("GreaterThanOrEqualToThreshold", 50.0, "ALARM"),
        ("GreaterThanThreshold", 50.0, "OK"),
        ("LessThanThreshold", 50.0, "OK"),
        ("LessThanOrEqualToThreshold", 50.0, "ALARM"),
        ("LessThanThreshold", 51.0, "ALARM"),
    ],
)
def test_static_comparison_operators(aws: LocalAws, operator: str, threshold: float, expected: str) -> None:
    # Given a 1-of-1 alarm with the operator
    aws.alarm(
        "op", ComparisonOperator=operator, Threshold=threshold, EvaluationPeriods=1, DatapointsToAlarm=1
    )

    # When the minute's average is exactly 50
    aws.minute(50.0)
    aws.evaluator.evaluate_all()

    # Then the operator decides
    assert aws.state("op") == expected


def test_p95_extended_statistic(aws: LocalAws) -> None:
    # Given a p95 alarm at 94 ms and one at 95 ms
    for name, threshold in (("p95-94", 94.0), ("p95-95", 95.0)):
        aws.alarm(
            name,
            Statistic=None,
            ExtendedStatistic="p95",
            Threshold=threshold,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
        )
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])

    # When one minute holds the latencies 1..100 (nearest-rank p95 = 95; the average is only 50.5)
    aws.put(*[float(v) for v in range(1, 51)])
    aws.put(*[float(v) for v in range(51, 101)])
    aws.minute()
    aws.evaluator.evaluate_all()

    # Then p95 > 94 alarms and p95 > 95 does not; the event names the percentile as the stat
    assert aws.state("p95-94") == "ALARM"
    assert aws.state("p95-95") == "OK"
    by_name = {e["detail"]["alarmName"]: e for e in alarm_events(aws.received)}  # type: ignore[index]
    metric_stat = by_name["p95-94"]["detail"]["configuration"]["metrics"][0]["metricStat"]  # type: ignore[index]
    assert metric_stat["stat"] == "p95"
    reason_data = json.loads(by_name["p95-94"]["detail"]["state"]["reasonData"])  # type: ignore[index]
    assert reason_data["recentDatapoints"] == [95.0]
    assert reason_data["evaluatedDatapoints"][0]["sampleCount"] == 100.0


def test_percentile_low_sample_count_ignore_keeps_state(aws: LocalAws) -> None:
    # Given p99 alarms with EvaluateLowSampleCountPercentile ignore and evaluate
    for name, mode in (("ignore", "ignore"), ("evaluate", "evaluate")):
        aws.alarm(
            name,
            Statistic=None,
            ExtendedStatistic="p99",
            Threshold=100.0,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            EvaluateLowSampleCountPercentile=mode,
        )

    # When one minute has only 5 samples (p99 needs 10 / (1 - 0.99) = 1000 to be significant)
    aws.minute(500.0, 500.0, 500.0, 500.0, 500.0)
    aws.evaluator.evaluate_all()

    # Then "ignore" keeps its state and "evaluate" alarms
    assert aws.state("ignore") == "INSUFFICIENT_DATA"
    assert aws.state("evaluate") == "ALARM"


def test_metric_math_error_rate_alarm(aws: LocalAws) -> None:
    # Given an alarm on 100 * errors / requests > 5 %
    def stat(metric: str) -> dict[str, object]:
        return {
            "Metric": {
                "Namespace": "Failsafe/Test",
                "MetricName": metric,
                "Dimensions": [{"Name": "Service", "Value": "recs"}],
            },
            "Period": 60,
            "Stat": "Sum",
        }

    aws.cloudwatch.put_metric_alarm(
        AlarmName="error-rate",
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[
            {"Id": "errors", "MetricStat": stat("Errors"), "ReturnData": False},
            {"Id": "requests", "MetricStat": stat("Requests"), "ReturnData": False},
            {"Id": "rate", "Expression": "100 * errors / requests", "Label": "ErrorRate", "ReturnData": True},
        ],
    )
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])

    # When a minute has 8 errors in 100 requests
    aws.put(8.0, metric="Errors")
    aws.put(100.0, metric="Requests")
    aws.minute()
    aws.evaluator.evaluate_all()

    # Then the alarm is in ALARM and the event lists the three queries as AWS does
    assert aws.state("error-rate") == "ALARM"
    (event,) = alarm_events(aws.received)
    metrics = event["detail"]["configuration"]["metrics"]  # type: ignore[index]
    assert [m["id"] for m in metrics] == ["errors", "requests", "rate"]
    assert metrics[2] == {
        "id": "rate",
        "expression": "100 * errors / requests",
        "label": "ErrorRate",
        "returnData": True,
    }
    assert metrics[0]["metricStat"]["stat"] == "Sum"
    assert metrics[0]["returnData"] is False


def test_actions_enabled_controls_actions_but_the_event_is_always_emitted(aws: LocalAws) -> None:
    # Given two identical alarms paging an SNS topic (subscribed by a queue), one with actions disabled
    topic = aws.sns.create_topic(Name="pages")["TopicArn"]
    url, queue_arn = aws.queue("pages")
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])
    for name, enabled in (("enabled", True), ("disabled", False)):
        aws.alarm(
            name, EvaluationPeriods=1, DatapointsToAlarm=1, AlarmActions=[topic], ActionsEnabled=enabled
        )

    # When both breach
    aws.minute(500.0)
    aws.evaluator.evaluate_all()

    # Then both events reach EventBridge, but only the enabled alarm pages
    assert sorted(e["detail"]["alarmName"] for e in alarm_events(aws.received)) == ["disabled", "enabled"]  # type: ignore[index]
    messages = aws.messages(url)
    assert len(messages) == 1
    notification = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert notification["AlarmName"] == "enabled"
    assert notification["NewStateValue"] == "ALARM"
    assert notification["OldStateValue"] == "INSUFFICIENT_DATA"
    assert [(r.alarm_name, r.ok) for r in aws.evaluator.action_log] == [("enabled", True)]


def test_put_metric_data_without_timestamp_uses_the_local_clock(aws: LocalAws) -> None:
    # Given the local clock at 2026-01-01T00:00:00Z plus 90 s
    aws.clock.advance(90)

    # When a datapoint is stored without a Timestamp
    aws.put(42.0)

    # Then it is stamped with the clock's time, not the wall clock
    stats = aws.cloudwatch.get_metric_statistics(
        Namespace="Failsafe/Test",
        MetricName="LatencyMs",
        Dimensions=[{"Name": "Service", "Value": "recs"}],
        StartTime=aws.clock.now().replace(second=0),
        EndTime=aws.clock.now().replace(second=59),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [point["Maximum"] for point in stats["Datapoints"]] == [42.0]
