"""The issue's end-to-end check: EMF metrics printed by a handler breach an alarm; its Lambda target runs."""

from __future__ import annotations

import json

from alarm_support import LocalAws

from failsafe_tools.local import emf_logs as emf


def test_emf_metrics_from_a_handler_produce_exactly_one_event_and_the_target_runs(aws: LocalAws) -> None:
    # Given a recommender-like handler printing EMF latency lines, a p95 alarm on its metric, and a rule
    # sending the alarm's state changes to the alarm-ingest Lambda
    aws.function("recommender", handler="alarm_handlers.emf_emitter")
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])
    aws.alarm(
        "recs-p95-latency",
        Namespace="Failsafe/Recommender",
        MetricName="LatencyMs",
        Dimensions=[{"Name": "Service", "Value": "recs"}, {"Name": "Environment", "Value": "prod"}],
        Statistic=None,
        ExtendedStatistic="p95",
        Unit="Milliseconds",
        Threshold=250.0,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        TreatMissingData="notBreaching",
    )

    # When the handler runs twice a minute for two minutes with slow responses, and the alarm is evaluated
    for _ in range(2):
        for _ in range(2):
            response = aws.lambda_.invoke(
                FunctionName="recommender",
                Payload=json.dumps(
                    {"service": "recs", "environment": "prod", "latencies_ms": [120, 300, 410, 520, 640]}
                ),
            )
            assert "FunctionError" not in response
        aws.clock.advance(60)
    changes = aws.evaluator.evaluate_all()
    aws.clock.advance(60)
    later = aws.evaluator.evaluate_all()

    # Then exactly one state-change event (INSUFFICIENT_DATA → ALARM) reached the alarm-ingest handler
    assert [(c.alarm_name, c.previous, c.current) for c in changes] == [
        ("recs-p95-latency", "INSUFFICIENT_DATA", "ALARM")
    ]
    assert later == []
    (event,) = aws.received
    assert event["detail"]["alarmName"] == "recs-p95-latency"
    assert event["detail"]["state"]["value"] == "ALARM"
    reason_data = json.loads(event["detail"]["state"]["reasonData"])
    assert reason_data["recentDatapoints"] == [640.0, 640.0]
    assert [point["sampleCount"] for point in reason_data["evaluatedDatapoints"]] == [10.0, 10.0]


def test_emf_line_published_directly_feeds_the_evaluator(aws: LocalAws) -> None:
    # Given a 1-of-1 alarm on an EMF metric
    aws.alarm(
        "errors",
        Namespace="Failsafe/Recommender",
        MetricName="Errors",
        Dimensions=[{"Name": "Service", "Value": "recs"}],
        Statistic="Sum",
        Threshold=3.0,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
    )
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": int(aws.clock.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": "Failsafe/Recommender",
                        "Dimensions": [["Service"]],
                        "Metrics": [{"Name": "Errors"}],
                    }
                ],
            },
            "Service": "recs",
            "Errors": [1, 2, 3],
        }
    )

    # When CloudWatch Logs' extraction (failsafe_tools.local.emf_logs) stores the line and the minute passes
    assert emf.publish_emf_lines([line], "123456789012", "us-east-1") == 3
    aws.clock.advance(60)
    (change,) = aws.evaluator.evaluate_all()

    # Then the Sum (6) breaches the threshold (3)
    assert change.current == "ALARM"
    assert json.loads(change.event["detail"]["state"]["reasonData"])["recentDatapoints"] == [6.0]
