"""An alarm event runs the real ASL interpreter (moto execute_state_machine) via an EventBridge rule."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from alarm_support import REGION
from moto import mock_aws

from failsafe_tools.local import alarms, eventbridge, stepfunctions
from failsafe_tools.local.clock import ManualClock


@pytest.fixture
def parser_aws(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    alarms_were_installed, sfn_was_installed = alarms.installed(), stepfunctions.is_installed()
    config: Any = stepfunctions.PARSER_CONFIG  # moto types it as its DefaultConfig TypedDict
    with mock_aws(config=config):
        stepfunctions.install()
        alarms.install()
        eventbridge.clear_delivery_log()
        try:
            yield
        finally:
            if not alarms_were_installed:
                alarms.uninstall()
            if not sfn_was_installed:
                stepfunctions.uninstall()


def test_alarm_event_runs_a_state_machine_target_to_completion(parser_aws: None) -> None:
    # Given a state machine (Pass: output = input) targeted by a rule for ALARM transitions only
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(name="controller", definition=json.dumps(definition), roleArn=role)
    events = boto3.client("events", region_name=REGION)
    pattern = {"source": ["aws.cloudwatch"], "detail": {"state": {"value": ["ALARM"]}}}
    events.put_rule(Name="alarm-only", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="alarm-only", Targets=[{"Id": "sfn", "Arn": machine["stateMachineArn"]}])
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="kill-switch",
        Namespace="N",
        MetricName="M",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )

    # When the alarm goes OK (not matched) and then ALARM (matched)
    cloudwatch.set_alarm_state(AlarmName="kill-switch", StateValue="OK", StateReason="fine")
    cloudwatch.set_alarm_state(AlarmName="kill-switch", StateValue="ALARM", StateReason="breached")

    # Then one execution ran to SUCCEEDED with the ALARM event as its input and output
    (execution,) = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    waiter_budget = 200
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    while described["status"] == "RUNNING" and waiter_budget:
        time.sleep(0.01)
        waiter_budget -= 1
        described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["detail"]["alarmName"] == "kill-switch"
    assert output["detail"]["state"]["value"] == "ALARM"
    assert output["detail"]["previousState"]["value"] == "OK"
    assert [(r.target_id, r.ok) for r in eventbridge.delivery_log()] == [("sfn", True)]
