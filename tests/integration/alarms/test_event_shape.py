"""The "CloudWatch Alarm State Change" event against AWS's documented sample, field by field."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from alarm_support import ACCOUNT, REGION, LocalAws

SAMPLE = json.loads((Path(__file__).parent / "fixtures" / "aws_alarm_state_change_sample.json").read_text())
EVENT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
STATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def public_keys(document: dict[str, Any]) -> set[str]:
    return {key for key in document if not key.startswith("_")}


def assert_same_shape(ours: Any, theirs: Any, where: str = "event") -> None:
    """Same keys at every level and the same JSON type at every leaf (lists: compare first elements)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{where}: expected an object, got {ours!r}"
        assert set(ours) == public_keys(theirs), (
            f"{where}: keys {sorted(ours)} != {sorted(public_keys(theirs))}"
        )
        for key in public_keys(theirs):
            if where.endswith("dimensions"):
                continue
            assert_same_shape(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), f"{where}: expected a list, got {ours!r}"
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items, sample has {len(theirs)}"
        for index, (mine, sample) in enumerate(zip(ours, theirs, strict=True)):
            assert_same_shape(mine, sample, f"{where}[{index}]")
    else:
        assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"


def test_ok_to_alarm_event_matches_the_aws_sample_field_by_field(aws: LocalAws) -> None:
    # Given the sample's alarm: CPUUtilization > 50 (Average, 300 s, 1 of 1) on one instance, OK on real data
    dims = [{"Name": "InstanceId", "Value": "i-12345678901234567"}]
    aws.alarm(
        "ServerCpuTooHigh",
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Dimensions=dims,
        Period=300,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=50.0,
        AlarmDescription="Goes into alarm when server CPU utilization is too high!",
    )
    aws.put(0.0666851903306472, metric="CPUUtilization", namespace="AWS/EC2", dimensions=dims)
    aws.clock.advance(300)
    aws.evaluator.evaluate_all()
    assert aws.state("ServerCpuTooHigh") == "OK"

    # When the next 5 minutes average 99.5 and the alarm is evaluated 40 s after they end
    aws.put(99.50160229693434, metric="CPUUtilization", namespace="AWS/EC2", dimensions=dims)
    aws.clock.advance(340)
    (change,) = aws.evaluator.evaluate_all()
    event = change.event

    # Then the event has the sample's shape, and every field has AWS's value or format
    assert_same_shape(event, SAMPLE)
    assert event["version"] == "0"
    assert uuid.UUID(event["id"])
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["source"] == "aws.cloudwatch"
    assert event["account"] == ACCOUNT
    assert event["region"] == REGION
    assert EVENT_TIME.match(event["time"])
    assert event["time"] == aws.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["resources"] == [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:ServerCpuTooHigh"]

    detail = event["detail"]
    assert detail["alarmName"] == "ServerCpuTooHigh"
    configuration = detail["configuration"]
    assert configuration["description"] == SAMPLE["detail"]["configuration"]["description"]
    (metric,) = configuration["metrics"]
    assert uuid.UUID(metric["id"])
    assert metric["returnData"] is True
    assert metric["metricStat"] == SAMPLE["detail"]["configuration"]["metrics"][0]["metricStat"]

    state, previous = detail["state"], detail["previousState"]
    assert state["value"] == "ALARM"
    assert previous["value"] == "OK"
    for block in (state, previous):
        assert STATE_TIME.match(block["timestamp"]), block["timestamp"]
    assert state["timestamp"] == aws.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    window = "(01/01/26 00:05:00)"
    assert state["reason"] == (
        f"Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434 {window}] was greater than "
        "the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    assert previous["reason"].endswith(
        "was not greater than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )

    ours = json.loads(state["reasonData"])
    theirs = json.loads(SAMPLE["detail"]["state"]["reasonData"])
    assert set(ours) == set(theirs)
    assert ours["version"] == "1.0"
    assert ours["statistic"] == "Average"
    assert ours["period"] == 300
    assert ours["threshold"] == 50.0
    assert ours["recentDatapoints"] == [99.50160229693434]
    assert ours["startDate"] == "2026-01-01T00:05:00.000+0000"
    assert STATE_TIME.match(ours["queryDate"])
    assert ours["evaluatedDatapoints"] == [
        {"timestamp": "2026-01-01T00:05:00.000+0000", "sampleCount": 1.0, "value": 99.50160229693434}
    ]
    assert state["reasonData"] == json.dumps(ours, separators=(",", ":"))


def test_stored_alarm_state_matches_the_event(aws: LocalAws) -> None:
    # Given an alarm that has just changed state
    aws.alarm("alarm", EvaluationPeriods=1, DatapointsToAlarm=1)
    aws.minute(500.0)
    (change,) = aws.evaluator.evaluate_all()

    # When DescribeAlarms is called through boto3
    described = aws.cloudwatch.describe_alarms(AlarmNames=["alarm"])["MetricAlarms"][0]

    # Then moto's stored state is the event's state
    state = change.event["detail"]["state"]
    assert described["StateValue"] == state["value"]
    assert described["StateReason"] == state["reason"]
    assert described["StateReasonData"] == state["reasonData"]
    assert described["StateUpdatedTimestamp"].timestamp() == aws.clock.time()
