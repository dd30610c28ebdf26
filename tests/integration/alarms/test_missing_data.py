"""TreatMissingData: missing, ignore, breaching, notBreaching, with AWS's evaluation range (N + 2 periods)."""

from __future__ import annotations

import json

import pytest
from alarm_support import LocalAws


def one_of_one(aws: LocalAws, treat: str) -> None:
    aws.alarm("alarm", EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData=treat)


@pytest.mark.parametrize(
    ("treat", "expected"),
    [("missing", "INSUFFICIENT_DATA"), ("ignore", "OK"), ("breaching", "ALARM"), ("notBreaching", "OK")],
)
def test_all_datapoints_missing_in_the_evaluation_range(aws: LocalAws, treat: str, expected: str) -> None:
    # Given a 1-of-1 alarm that was OK on real data
    one_of_one(aws, treat)
    aws.minute(10.0)
    aws.evaluator.evaluate_all()
    assert aws.state("alarm") == "OK"

    # When no data arrives for longer than the evaluation range (1 + 2 periods)
    for _ in range(3):
        aws.minute()
    aws.evaluator.evaluate_all()

    # Then the TreatMissingData mode decides
    assert aws.state("alarm") == expected


def test_missing_keeps_the_state_while_real_data_remains_in_the_range(aws: LocalAws) -> None:
    # Given a 1-of-1 alarm (missing) in ALARM on one breaching minute
    one_of_one(aws, "missing")
    aws.minute(500.0)
    aws.evaluator.evaluate_all()
    assert aws.state("alarm") == "ALARM"

    # When the metric goes quiet for two minutes (the breaching point is still inside the 3-period range)
    aws.minute()
    aws.minute()
    quiet = aws.evaluator.evaluate_all()

    # Then the alarm keeps ALARM; one more quiet minute empties the range → INSUFFICIENT_DATA
    assert quiet == []
    assert aws.state("alarm") == "ALARM"
    aws.minute()
    (change,) = aws.evaluator.evaluate_all()
    assert (change.previous, change.current) == ("ALARM", "INSUFFICIENT_DATA")
    assert change.event["detail"]["state"]["reason"] == "Insufficient Data: 3 datapoints were unknown."
    reason_data = json.loads(change.event["detail"]["state"]["reasonData"])
    assert reason_data["recentDatapoints"] == []
    assert len(reason_data["evaluatedDatapoints"]) == 3
    assert all(set(point) == {"timestamp"} for point in reason_data["evaluatedDatapoints"])


@pytest.mark.parametrize(
    ("treat", "expected"),
    [("missing", "ALARM"), ("ignore", "OK"), ("breaching", "ALARM"), ("notBreaching", "OK")],
)
def test_some_datapoints_missing_one_breaching(aws: LocalAws, treat: str, expected: str) -> None:
    # Given a 3-of-3 alarm that was OK on three healthy minutes
    aws.alarm("alarm", EvaluationPeriods=3, DatapointsToAlarm=3, TreatMissingData=treat)
    for _ in range(3):
        aws.minute(10.0)
    aws.evaluator.evaluate_all()
    assert aws.state("alarm") == "OK"

    # When the range (5 periods) ends "- - X - -": only one real, breaching datapoint
    aws.minute()
    aws.minute()
    aws.minute(500.0)
    aws.minute()
    aws.minute()
    aws.evaluator.evaluate_all()

    # Then (AWS's table) missing → ALARM, ignore → state kept, breaching → ALARM, notBreaching → OK
    assert aws.state("alarm") == expected


def test_breaching_fills_only_as_many_gaps_as_needed(aws: LocalAws) -> None:
    # Given a 2-of-3 alarm treating missing data as breaching
    aws.alarm("alarm", EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="breaching")

    # When the range holds two healthy minutes and otherwise nothing
    aws.minute()
    aws.minute()
    aws.minute(10.0)
    aws.minute()
    aws.minute(10.0)
    (change,) = aws.evaluator.evaluate_all()

    # Then one gap is filled as breaching: 1 of 3 breaching → OK, and the reason says so
    assert change.current == "OK"
    assert "1 missing datapoint was treated as [Breaching]" in change.event["detail"]["state"]["reason"]


def test_ignore_with_unreachable_alarm_goes_ok(aws: LocalAws) -> None:
    # Given a 3-of-3 alarm treating missing data as ignore, in INSUFFICIENT_DATA
    aws.alarm("alarm", EvaluationPeriods=3, DatapointsToAlarm=3, TreatMissingData="ignore")

    # When the only real datapoint in the range is healthy (ALARM is out of reach whatever the gaps are)
    aws.minute(10.0)
    changes = aws.evaluator.evaluate_all()

    # Then the alarm goes OK
    assert [(c.previous, c.current) for c in changes] == [("INSUFFICIENT_DATA", "OK")]
