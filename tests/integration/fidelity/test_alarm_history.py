"""Issue 13 item 2: DescribeAlarmHistory (HistoryItemType, StartDate/EndDate, ScanBy, pagination) and
StateTransitionedTimestamp in DescribeAlarms, through boto3 against the server; and the incident timeline
(`failsafe.reporting.timeline.alarm_history`, used by the drill and `failsafe report`) reads the history
through that API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failsafe.reporting.timeline import alarm_history
from failsafe_tools.local.clock import ManualClock

from .conftest import Remote


def put_alarm(cloudwatch: Any, name: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="Fidelity",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def set_state(cloudwatch: Any, name: str, state: str, reason: str) -> None:
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def test_history_records_creation_and_state_changes_with_filters_and_order(
    remote: Remote, clock: ManualClock
) -> None:
    # Given an alarm created, then set to ALARM and back to OK a minute apart each
    cloudwatch = remote("cloudwatch")
    name = "fidelity-history-basic"
    created_at = clock.now()
    put_alarm(cloudwatch, name)
    clock.advance(60)
    set_state(cloudwatch, name, "ALARM", "errors above 1")
    clock.advance(60)
    set_state(cloudwatch, name, "OK", "errors back to 0")

    # When the history is read as boto3 reads it
    everything = cloudwatch.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    states = cloudwatch.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")[
        "AlarmHistoryItems"
    ]
    ascending = cloudwatch.describe_alarm_history(
        AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    window = cloudwatch.describe_alarm_history(
        AlarmName=name,
        StartDate=created_at + timedelta(seconds=30),
        EndDate=created_at + timedelta(seconds=90),
    )["AlarmHistoryItems"]

    # Then it holds the creation and both transitions, newest first by default, in AWS's item shape
    assert [i["HistoryItemType"] for i in everything] == ["StateUpdate", "StateUpdate", "ConfigurationUpdate"]
    assert everything[-1]["HistorySummary"] == f'Alarm "{name}" created'
    assert [i["HistorySummary"] for i in states] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]
    data = json.loads(states[0]["HistoryData"])
    assert data["oldState"]["stateValue"] == "ALARM"
    assert data["newState"] == {"stateValue": "OK", "stateReason": "errors back to 0"}
    assert states[0]["AlarmType"] == "MetricAlarm"
    assert states[0]["Timestamp"] == created_at + timedelta(seconds=120)
    assert [i["Timestamp"] for i in ascending] == [i["Timestamp"] for i in reversed(states)]
    assert [i["HistorySummary"] for i in window] == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]


def test_history_pages_with_next_token_and_rejects_a_bad_token(remote: Remote, clock: ManualClock) -> None:
    # Given an alarm with three state changes
    cloudwatch = remote("cloudwatch")
    name = "fidelity-history-pages"
    put_alarm(cloudwatch, name)
    for state in ("ALARM", "OK", "ALARM"):
        clock.advance(60)
        set_state(cloudwatch, name, state, f"now {state}")

    # When it is read one record at a time, by boto3's paginator and by hand
    pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
        AlarmName=name, HistoryItemType="StateUpdate", PaginationConfig={"PageSize": 1}
    )
    sizes = [len(page["AlarmHistoryItems"]) for page in pages]
    first = cloudwatch.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate", MaxRecords=1)
    with pytest.raises(ClientError) as bad:
        cloudwatch.describe_alarm_history(AlarmName=name, NextToken="not-a-token")

    # Then each page holds one item and carries a NextToken until the last; a made-up token is
    # InvalidNextToken, as the service model declares
    assert sizes == [1, 1, 1]
    assert "NextToken" in first
    assert bad.value.response["Error"]["Code"] == "InvalidNextToken"


def test_composite_alarms_are_listed_only_when_asked(remote: Remote) -> None:
    # Given a composite alarm over a metric alarm
    cloudwatch = remote("cloudwatch")
    put_alarm(cloudwatch, "fidelity-history-child")
    cloudwatch.put_composite_alarm(
        AlarmName="fidelity-history-composite", AlarmRule='ALARM("fidelity-history-child")'
    )

    # When the history is read without and with AlarmTypes
    default = cloudwatch.describe_alarm_history(AlarmName="fidelity-history-composite")["AlarmHistoryItems"]
    composite = cloudwatch.describe_alarm_history(
        AlarmName="fidelity-history-composite", AlarmTypes=["CompositeAlarm"]
    )["AlarmHistoryItems"]

    # Then, as AWS documents, only metric alarms are returned when AlarmTypes is absent
    assert default == []
    assert composite
    assert {i["AlarmType"] for i in composite} == {"CompositeAlarm"}


def test_describe_alarms_reports_state_transitioned_timestamp(remote: Remote, clock: ManualClock) -> None:
    # Given an alarm that went to ALARM, then got a new reason without changing state a minute later
    cloudwatch = remote("cloudwatch")
    name = "fidelity-transitioned"
    put_alarm(cloudwatch, name)
    clock.advance(60)
    transitioned = clock.now()
    set_state(cloudwatch, name, "ALARM", "first")
    clock.advance(60)
    set_state(cloudwatch, name, "ALARM", "same state, new reason")

    # When DescribeAlarms is read
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]

    # Then StateTransitionedTimestamp is the last change of StateValue; StateUpdatedTimestamp the last update
    assert alarm["StateTransitionedTimestamp"] == transitioned
    assert alarm["StateUpdatedTimestamp"] == transitioned + timedelta(seconds=60)


def test_the_incident_timeline_reads_alarm_history_through_the_api(
    remote: Remote, clock: ManualClock
) -> None:
    # Given two alarms of one prefix and one of another that changed state
    cloudwatch = remote("cloudwatch")
    for name in ("fidelity-tl-a", "fidelity-tl-b", "other-tl-c"):
        put_alarm(cloudwatch, name)
    start = clock.now().astimezone(UTC)
    clock.advance(60)
    set_state(cloudwatch, "fidelity-tl-a", "ALARM", "a fires")
    clock.advance(60)
    set_state(cloudwatch, "fidelity-tl-b", "ALARM", "b fires")
    set_state(cloudwatch, "other-tl-c", "ALARM", "c fires")

    # When the timeline collects alarm events (as the drill and `failsafe report` do)
    events = alarm_history(cloudwatch, "fidelity-tl-", since=start)

    # Then it has the prefix's state changes, oldest first, at the history's timestamps
    assert [(e.data["alarm"], e.kind) for e in events] == [
        ("fidelity-tl-a", "alarm:ALARM"),
        ("fidelity-tl-b", "alarm:ALARM"),
    ]
    assert events[0].at == datetime.fromtimestamp(start.timestamp() + 60, tz=UTC)
