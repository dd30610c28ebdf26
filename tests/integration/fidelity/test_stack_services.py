"""Issue 13 items 5, 6 and 7 through boto3 against the server: CloudFormation reports the provisioned
resources and template; Step Functions refuses a second answer on a task token; EventBridge's
TestEventPattern answers with the matcher rule delivery uses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failsafe_tools.local.stack import LocalStack

from .conftest import TEMPLATE, Remote

# -- item 5: CloudFormation -------------------------------------------------------------------------------


def test_list_stack_resources_reports_every_provisioned_resource(server: LocalStack, remote: Remote) -> None:
    # Given the provisioned stack; When its resources are listed through CloudFormation
    summaries = remote("cloudformation").list_stack_resources(StackName="failsafe")["StackResourceSummaries"]

    # Then every resource is there with its logical id, physical id, type and status
    expected = {
        logical: (record.physical_id, record.resource_type)
        for logical, record in server.provisioned.resources.items()
    }
    assert len(expected) > 50
    assert {
        s["LogicalResourceId"]: (s["PhysicalResourceId"], s["ResourceType"]) for s in summaries
    } == expected
    assert {s["ResourceStatus"] for s in summaries} == {"CREATE_COMPLETE"}
    assert all("LastUpdatedTimestamp" in s for s in summaries)


def test_describe_stack_resource_and_resources(server: LocalStack, remote: Remote) -> None:
    # Given the state table of the stack
    cloudformation = remote("cloudformation")
    table = server.outputs["StateTableName"]

    # When it is described by logical id, and the stack is searched by the table's physical id
    detail = cloudformation.describe_stack_resource(StackName="failsafe", LogicalResourceId="StateTable")[
        "StackResourceDetail"
    ]
    by_physical = cloudformation.describe_stack_resources(PhysicalResourceId=table)["StackResources"]
    everything = cloudformation.describe_stack_resources(StackName="failsafe")["StackResources"]
    with pytest.raises(ClientError) as unknown:
        cloudformation.describe_stack_resource(StackName="failsafe", LogicalResourceId="NoSuchThing")

    # Then each answers in AWS's shapes, and an unknown logical id is AWS's ValidationError
    assert detail["PhysicalResourceId"] == table
    assert detail["ResourceType"] == "AWS::DynamoDB::Table"
    assert detail["StackName"] == "failsafe"
    assert [(r["LogicalResourceId"], r["StackName"]) for r in by_physical] == [("StateTable", "failsafe")]
    assert len(everything) == len(server.provisioned.resources)
    assert unknown.value.response["Error"]["Code"] == "ValidationError"
    assert "NoSuchThing" in unknown.value.response["Error"]["Message"]


def test_get_template_returns_the_template_the_stack_was_created_from(remote: Remote) -> None:
    # Given the stack created from template.yaml; When its template is read
    body = remote("cloudformation").get_template(StackName="failsafe")["TemplateBody"]

    # Then it is that template, not a placeholder
    assert body == TEMPLATE.read_text(encoding="utf-8")


# -- item 6: Step Functions task tokens -------------------------------------------------------------------


def _token_machine(server: LocalStack, remote: Remote) -> tuple[Any, str, str]:
    """A state machine that sends its task token to a new SQS queue and waits for it."""
    sqs, sfn, iam = remote("sqs"), remote("stepfunctions"), remote("iam")
    queue_url = sqs.create_queue(QueueName="fidelity-approvals")["QueueUrl"]
    role = iam.create_role(
        RoleName="fidelity-sfn",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    arn = sfn.create_state_machine(name="fidelity-approval", definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]
    return sqs, queue_url, arn


def test_a_second_answer_on_a_used_task_token_is_refused(server: LocalStack, remote: Remote) -> None:
    # Given an execution waiting on a task token, approved once
    sqs, queue_url, machine = _token_machine(server, remote)
    sfn = remote("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    messages: list[dict[str, Any]] = []
    for _ in range(50):
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            break
    assert messages, "the execution never sent its task token"
    token = json.loads(messages[0]["Body"])["token"]
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "first"}))

    # When the same approval is answered again, with success, failure and a heartbeat
    refused = []
    for call in (
        lambda: sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "second"})),
        lambda: sfn.send_task_failure(taskToken=token, error="Rejected"),
        lambda: sfn.send_task_heartbeat(taskToken=token),
    ):
        with pytest.raises(ClientError) as second:
            call()
        refused.append(second.value.response["Error"]["Code"])

    # Then each is refused with AWS's TaskTimedOut (the task is closed), and the first answer stands
    assert refused == ["TaskTimedOut", "TaskTimedOut", "TaskTimedOut"]
    history = sfn.get_execution_history(executionArn=execution)["events"]
    succeeded = [e for e in history if e["type"] == "TaskSucceeded"]
    assert len(succeeded) == 1
    assert json.loads(succeeded[0]["taskSucceededEventDetails"]["output"]) == {"approved_by": "first"}


def test_an_unknown_task_token_is_invalid(remote: Remote) -> None:
    # Given a token no task ever issued; When it is answered
    with pytest.raises(ClientError) as raised:
        remote("stepfunctions").send_task_success(taskToken="made-up-token", output="{}")

    # Then it is InvalidToken
    assert raised.value.response["Error"]["Code"] == "InvalidToken"


# -- item 7: EventBridge TestEventPattern -----------------------------------------------------------------

ALARM_EVENT = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": "123456789012",
    "time": "2026-12-07T23:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:failsafe-recommender-prod-coverage-p1"],
    "detail": {"alarmName": "failsafe-recommender-prod-coverage-p1", "state": {"value": "ALARM"}},
}


def test_test_event_pattern_answers_result_with_the_delivery_matcher(remote: Remote) -> None:
    # Given the pattern of the rule the template provisions for guardrail alarms (source, detail-type and an
    # alarmName prefix), and events it should and should not match
    events = remote("events")
    rules = events.list_rules()["Rules"]
    pattern = next(r["EventPattern"] for r in rules if "aws.cloudwatch" in r.get("EventPattern", ""))
    back_to_ok = {**ALARM_EVENT, "detail": {**ALARM_EVENT["detail"], "state": {"value": "OK"}}}
    other_source = {**ALARM_EVENT, "source": "aws.ec2"}
    foreign_alarm = {**ALARM_EVENT, "detail": {**ALARM_EVENT["detail"], "alarmName": "someone-elses-alarm"}}

    # When TestEventPattern is asked about each
    results = [
        events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"]
        for event in (ALARM_EVENT, back_to_ok, other_source, foreign_alarm)
    ]

    # Then it answers Result true for the guardrail's events in any state (prefix match included) and
    # false for another source or another alarm name
    assert results == [True, True, False, False]


def test_test_event_pattern_rejects_a_bad_pattern_or_event(remote: Remote) -> None:
    # Given a malformed pattern and an event without its envelope fields
    events = remote("events")
    codes = []
    for pattern, event in (
        ('{"source": "not-a-list"}', json.dumps(ALARM_EVENT)),
        ('{"source": ["aws.cloudwatch"]}', json.dumps({"source": "aws.cloudwatch"})),
    ):
        # When each is tested
        with pytest.raises(ClientError) as raised:
            events.test_event_pattern(EventPattern=pattern, Event=event)
        codes.append(raised.value.response["Error"]["Code"])

    # Then both are AWS's InvalidEventPatternException
    assert codes == ["InvalidEventPatternException", "InvalidEventPatternException"]
