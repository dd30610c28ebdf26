"""SetAlarmState emits as in AWS; composite alarms evaluate their AlarmRule."""

from __future__ import annotations

import json

import pytest
from alarm_support import LocalAws
from botocore.exceptions import ClientError

from failsafe_tools.local.alarms import evaluate_rule, parse_alarm_rule


def alarm_events(aws: LocalAws) -> list[dict[str, object]]:
    return [e for e in aws.received if e.get("detail-type") == "CloudWatch Alarm State Change"]


def test_set_alarm_state_emits_one_event(aws: LocalAws) -> None:
    # Given an alarm in INSUFFICIENT_DATA and a rule to a Lambda
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])
    aws.alarm("manual")
    aws.clock.advance(42)

    # When SetAlarmState moves it to ALARM through boto3
    aws.cloudwatch.set_alarm_state(
        AlarmName="manual", StateValue="ALARM", StateReason="drill", StateReasonData='{"drill": true}'
    )

    # Then one event carries the reason, the reason data and the clock's time; moto stores the same
    (event,) = alarm_events(aws)
    detail = event["detail"]
    assert detail["state"] == {  # type: ignore[index]
        "value": "ALARM",
        "reason": "drill",
        "reasonData": '{"drill": true}',
        "timestamp": "2026-01-01T00:00:42.000+0000",
    }
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"  # type: ignore[index]
    assert detail["previousState"]["reason"] == "Unchecked: Initial alarm creation"  # type: ignore[index]
    described = aws.cloudwatch.describe_alarms(AlarmNames=["manual"])["MetricAlarms"][0]
    assert described["StateValue"] == "ALARM"
    assert described["StateUpdatedTimestamp"].timestamp() == aws.clock.time()


def test_set_alarm_state_to_the_same_state_emits_nothing(aws: LocalAws) -> None:
    # Given an alarm already set to ALARM
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])
    aws.alarm("manual")
    aws.cloudwatch.set_alarm_state(AlarmName="manual", StateValue="ALARM", StateReason="first")
    before = len(alarm_events(aws))

    # When it is set to ALARM again
    aws.cloudwatch.set_alarm_state(AlarmName="manual", StateValue="ALARM", StateReason="second")

    # Then no new event
    assert len(alarm_events(aws)) == before


def test_set_alarm_state_is_overridden_by_the_next_evaluation(aws: LocalAws) -> None:
    # Given an alarm forced to ALARM while its data is healthy
    aws.alarm("forced", EvaluationPeriods=1, DatapointsToAlarm=1)
    aws.minute(10.0)
    aws.evaluator.evaluate_all()
    aws.cloudwatch.set_alarm_state(AlarmName="forced", StateValue="ALARM", StateReason="test")

    # When the evaluator runs
    (change,) = aws.evaluator.evaluate_all()

    # Then it returns to OK, as AWS does at the next evaluation
    assert (change.previous, change.current) == ("ALARM", "OK")


def test_composite_alarm_follows_its_rule(aws: LocalAws) -> None:
    # Given latency and errors alarms and a composite "ALARM(latency) AND NOT OK(errors)"
    aws.rule("alarms", [{"Id": "ingest", "Arn": aws.function("alarm-ingest")}])
    aws.alarm("latency", EvaluationPeriods=1, DatapointsToAlarm=1)
    aws.alarm("errors", MetricName="Errors", EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=5.0)
    rule = 'ALARM(latency) AND NOT OK("errors")'
    aws.cloudwatch.put_composite_alarm(AlarmName="service-down", AlarmRule=rule, AlarmDescription="both bad")
    assert aws.state("service-down") == "OK"  # ALARM(latency) is false while latency is INSUFFICIENT_DATA

    # When both children breach
    aws.put(500.0)
    aws.put(50.0, metric="Errors")
    aws.minute()
    changes = aws.evaluator.evaluate_all()

    # Then the composite goes to ALARM after its children, with its rule in the event's configuration
    assert [(c.alarm_name, c.current) for c in changes] == [
        ("latency", "ALARM"),
        ("errors", "ALARM"),
        ("service-down", "ALARM"),
    ]
    composite_event = changes[-1].event
    assert composite_event["detail"]["configuration"] == {"description": "both bad", "alarmRule": rule}
    reason_data = json.loads(composite_event["detail"]["state"]["reasonData"])
    assert sorted(a["arn"].rsplit(":", 1)[-1] for a in reason_data["triggeringAlarms"]) == [
        "errors",
        "latency",
    ]
    assert (
        " transitioned to ALARM at Thursday 01 January, 2026 00:01:00 UTC"
        in composite_event["detail"]["state"]["reason"]
    )
    assert aws.state("service-down") == "ALARM"

    # When a child is set to OK through SetAlarmState
    aws.cloudwatch.set_alarm_state(AlarmName="errors", StateValue="OK", StateReason="manual")

    # Then the composite follows at once
    assert aws.state("service-down") == "OK"
    assert alarm_events(aws)[-1]["detail"]["alarmName"] == "service-down"  # type: ignore[index]


def test_composite_referencing_a_missing_alarm_is_insufficient_data(aws: LocalAws) -> None:
    # Given a composite in ALARM because its child is in ALARM
    aws.alarm("child")
    aws.cloudwatch.set_alarm_state(AlarmName="child", StateValue="ALARM", StateReason="test")
    aws.cloudwatch.put_composite_alarm(AlarmName="c", AlarmRule="ALARM(child) OR ALARM(other)")
    aws.alarm("other")
    assert aws.state("c") == "ALARM"

    # When both children are deleted and the alarms are evaluated
    aws.cloudwatch.delete_alarms(AlarmNames=["child", "other"])
    changes = aws.evaluator.evaluate_all()

    # Then the composite is INSUFFICIENT_DATA and the reason names the missing alarms
    assert [(c.alarm_name, c.current) for c in changes] == [("c", "INSUFFICIENT_DATA")]
    described = aws.cloudwatch.describe_alarms(AlarmNames=["c"])["CompositeAlarms"][0]
    assert described["StateValue"] == "INSUFFICIENT_DATA"
    assert described["StateReason"].endswith("do not exist: child, other")


@pytest.mark.parametrize(
    "rule",
    ["ALARM(a) AND", "ALARM(a) XOR ALARM(b)", "(ALARM(a)", "ALARM(a))", "MAYBE(a)", ""],
)
def test_malformed_composite_rule_is_rejected(aws: LocalAws, rule: str) -> None:
    # Given / When a composite alarm with a malformed rule is put
    with pytest.raises(ClientError) as caught:
        aws.cloudwatch.put_composite_alarm(AlarmName="bad", AlarmRule=rule or " ")

    # Then AWS-style ValidationError, and no alarm was stored
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert aws.cloudwatch.describe_alarms(AlarmNames=["bad"])["CompositeAlarms"] == []


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("TRUE", True),
        ("FALSE", False),
        ("NOT FALSE", True),
        ("ALARM(a) OR ALARM(b)", True),
        ("ALARM(a) AND ALARM(b)", False),
        ("ALARM(a) AND (OK(b) OR INSUFFICIENT_DATA(c))", True),
        ("NOT (ALARM(a) AND OK(b)) OR FALSE", False),
        ('ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:a") AND OK(b)', True),
        ("ALARM(a) OR ALARM(b) AND FALSE", True),
        ("INSUFFICIENT_DATA(c)", True),
    ],
)
def test_alarm_rule_grammar(rule: str, expected: bool) -> None:
    # Given alarm a in ALARM, b in OK, c in INSUFFICIENT_DATA
    states = {"a": "ALARM", "b": "OK", "c": "INSUFFICIENT_DATA"}

    # When the rule is parsed and evaluated
    result = evaluate_rule(parse_alarm_rule(rule), states.get)

    # Then AND binds tighter than OR, NOT tighter than AND, ARNs name alarms
    assert result is expected
