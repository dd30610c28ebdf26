"""EventBridge delivery: one path for put_events and alarm events; input shaping; failures; modes; seam."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alarm_support import ACCOUNT, LocalAws

from failsafe_tools.local import eventbridge

CUSTOM = {"source": ["failsafe.test"]}


def put_custom(aws: LocalAws, detail: dict[str, Any]) -> None:
    response = aws.events.put_events(
        Entries=[{"Source": "failsafe.test", "DetailType": "Drill", "Detail": json.dumps(detail)}]
    )
    assert response["FailedEntryCount"] == 0


def test_put_events_reaches_a_lambda_target_exactly_once(aws: LocalAws) -> None:
    # Given a rule on the default bus with a Lambda target (moto alone raises NotImplementedError for it)
    aws.rule("custom", [{"Id": "ingest", "Arn": aws.function("ingest")}], pattern=CUSTOM)
    aws.clock.advance(5)

    # When boto3 puts one matching and one non-matching event
    put_custom(aws, {"level": 2})
    aws.events.put_events(Entries=[{"Source": "other", "DetailType": "Drill", "Detail": "{}"}])

    # Then the handler ran once, with AWS's envelope and the clock's time
    (event,) = aws.received
    assert event["source"] == "failsafe.test"
    assert event["detail-type"] == "Drill"
    assert event["detail"] == {"level": 2}
    assert event["account"] == ACCOUNT
    assert event["time"] == "2026-01-01T00:00:05Z"
    assert "ingestion-time" not in event
    assert [r.target_id for r in eventbridge.delivery_log()] == ["ingest"]


def test_disabled_rule_delivers_nothing(aws: LocalAws) -> None:
    # Given a disabled rule
    aws.rule("custom", [{"Id": "ingest", "Arn": aws.function("ingest")}], pattern=CUSTOM)
    aws.events.disable_rule(Name="custom")

    # When a matching event is put
    put_custom(aws, {"level": 1})

    # Then nothing is delivered
    assert aws.received == []
    assert eventbridge.delivery_log() == []


def test_input_inputpath_and_input_transformer(aws: LocalAws) -> None:
    # Given one rule with three SQS targets shaping their input three ways
    urls = {name: aws.queue(name) for name in ("constant", "path", "transformed", "text")}
    targets: list[dict[str, Any]] = [
        {"Id": "constant", "Arn": urls["constant"][1], "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": urls["path"][1], "InputPath": "$.detail.state"},
        {
            "Id": "transformed",
            "Arn": urls["transformed"][1],
            "InputTransformer": {
                "InputPathsMap": {"alarm": "$.detail.alarmName", "state": "$.detail.state"},
                "InputTemplate": '{"name": "<alarm>", "state": <state>, "rule": "<aws.events.rule-name>"}',
            },
        },
        {
            "Id": "text",
            "Arn": urls["text"][1],
            "InputTransformer": {
                "InputPathsMap": {"alarm": "$.detail.alarmName"},
                "InputTemplate": "Alarm <alarm> changed",
            },
        },
    ]
    aws.rule("shapes", targets)
    aws.alarm("shaped")

    # When the alarm changes state
    aws.cloudwatch.set_alarm_state(AlarmName="shaped", StateValue="ALARM", StateReason="r")

    # Then each queue got its shaped input
    def body(name: str) -> str:
        (message,) = aws.messages(urls[name][0])
        text: str = message["Body"]
        return text

    assert json.loads(body("constant")) == {"fixed": True}
    assert json.loads(body("path"))["value"] == "ALARM"
    transformed = json.loads(body("transformed"))
    assert transformed["name"] == "shaped"
    assert transformed["state"]["reason"] == "r"
    assert transformed["rule"] == "shapes"
    assert body("text") == "Alarm shaped changed"


def test_failed_target_is_recorded_and_dead_lettered_without_crashing_the_evaluator(aws: LocalAws) -> None:
    # Given a rule whose first target is a function that does not exist (with a DLQ) and whose second is fine
    dlq_url, dlq_arn = aws.queue("dlq")
    missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:does-not-exist"
    aws.rule(
        "alarms",
        [
            {"Id": "missing", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}},
            {"Id": "ok", "Arn": aws.function("ingest")},
        ],
    )
    aws.alarm("alarm", EvaluationPeriods=1, DatapointsToAlarm=1)

    # When the alarm changes state through the evaluator
    aws.minute(500.0)
    changes = aws.evaluator.evaluate_all()

    # Then the evaluator finished, the healthy target ran, the failure is recorded and dead-lettered
    assert [c.current for c in changes] == ["ALARM"]
    assert [e["detail"]["alarmName"] for e in aws.received] == ["alarm"]
    failed = [r for r in eventbridge.delivery_log() if not r.ok]
    assert [(r.target_id, r.dead_lettered_to) for r in failed] == [("missing", dlq_arn)]
    assert failed[0].error
    (message,) = aws.messages(dlq_url)
    assert json.loads(message["Body"])["id"] == changes[0].event["id"]
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"] == missing
    assert attributes["RULE_ARN"].endswith(":rule/alarms")
    assert attributes["ERROR_CODE"]


def test_input_setting_two_kinds_fails_only_that_target(aws: LocalAws) -> None:
    # Given a target with both Input and InputPath
    url, arn = aws.queue("q")
    aws.rule("custom", [{"Id": "both", "Arn": arn, "Input": "{}", "InputPath": "$.detail"}], pattern=CUSTOM)

    # When an event matches
    put_custom(aws, {})

    # Then the delivery failed with a message naming both settings
    (record,) = eventbridge.delivery_log()
    assert not record.ok
    assert "Input and InputPath" in (record.error or "")
    assert aws.messages(url) == []


def test_log_group_targets_stay_with_moto(aws: LocalAws) -> None:
    # Given a rule targeting a CloudWatch Logs group (moto's own delivery)
    import boto3

    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/failsafe/events")
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/failsafe/events"
    aws.rule("custom", [{"Id": "log", "Arn": group_arn}], pattern=CUSTOM)

    # When an event matches
    put_custom(aws, {"kept": "by moto"})

    # Then moto wrote it to the group, once, with an ISO time
    streams = logs.describe_log_streams(logGroupName="/failsafe/events")["logStreams"]
    assert len(streams) == 1
    events = logs.get_log_events(logGroupName="/failsafe/events", logStreamName=streams[0]["logStreamName"])
    (entry,) = events["events"]
    assert json.loads(entry["message"])["detail"] == {"kept": "by moto"}
    assert [r.ok for r in eventbridge.delivery_log()] == [True]


def test_thread_mode_delivers_on_the_worker(aws: LocalAws) -> None:
    # Given thread delivery mode
    aws.rule("custom", [{"Id": "ingest", "Arn": aws.function("ingest")}], pattern=CUSTOM)
    previous = eventbridge.set_delivery_mode("thread")
    assert previous == "inline"

    # When an event is put and the worker is flushed
    put_custom(aws, {"threaded": True})
    eventbridge.flush()

    # Then it was delivered
    assert [e["detail"] for e in aws.received] == [{"threaded": True}]


def test_lambda_invoker_seam_replaces_only_the_final_call(aws: LocalAws) -> None:
    # Given a Python callable in place of the final Lambda invoke call
    calls: list[tuple[str, Any, str]] = []

    def fake_invoke(function_arn: str, payload: bytes, invocation_type: str) -> dict[str, int]:
        calls.append((function_arn, json.loads(payload), invocation_type))
        return {"StatusCode": 202}

    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:not-created"
    aws.rule("alarms", [{"Id": "fn", "Arn": arn, "InputPath": "$.detail.alarmName"}])
    aws.alarm("seam")

    # When the alarm changes state
    with eventbridge.lambda_invoker(fake_invoke):
        aws.cloudwatch.set_alarm_state(AlarmName="seam", StateValue="ALARM", StateReason="r")

    # Then matching and input shaping ran, and the callable got an async (Event) invoke
    assert calls == [(arn, "seam", "Event")]
    assert eventbridge.current_lambda_invoker() is not fake_invoke


def test_unknown_delivery_mode_is_rejected() -> None:
    # Given / When / Then
    with pytest.raises(ValueError, match="expected 'inline' or 'thread'"):
        eventbridge.set_delivery_mode("later")  # type: ignore[arg-type]


def test_sns_target_publishes_the_event(aws: LocalAws) -> None:
    # Given a rule with an SNS topic target, the topic subscribed by a queue (raw delivery)
    topic = aws.sns.create_topic(Name="alarm-events")["TopicArn"]
    url, queue_arn = aws.queue("subscriber")
    aws.sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    aws.rule("custom", [{"Id": "topic", "Arn": topic}], pattern=CUSTOM)

    # When a matching event is put
    put_custom(aws, {"page": "on-call"})

    # Then the subscriber received the whole event as the message
    (message,) = aws.messages(url)
    assert json.loads(message["Body"])["detail"] == {"page": "on-call"}


def test_schedule_only_rule_never_receives_events(aws: LocalAws) -> None:
    # Given a scheduled rule (no event pattern) with a Lambda target
    aws.events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    aws.events.put_targets(Rule="every-minute", Targets=[{"Id": "fn", "Arn": aws.function("scheduled")}])

    # When an event is put
    put_custom(aws, {"any": "thing"})

    # Then the scheduled rule does not match it (moto on its own would deliver it)
    assert aws.received == []
