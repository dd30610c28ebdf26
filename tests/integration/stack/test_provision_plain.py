"""Provisioning plain CloudFormation (no SAM): order, progress, conditions, outputs, the stack record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failsafe_tools.local.provision import IntrinsicError, ProgressEvent, provision

REGION = "us-east-1"

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
    "Resources": {
        "Subscriber": {
            "Type": "AWS::SQS::Queue",
            "DependsOn": "Topic",
            "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-${Env}-inbox"}},
        },
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": {"Fn::Sub": "${AWS::StackName}-alerts"},
                "DisplayName": {"Fn::If": ["IsProd", "prod alerts", {"Ref": "AWS::NoValue"}]},
            },
        },
        "ProdOnly": {"Type": "AWS::SNS::Topic", "Condition": "IsProd", "Properties": {}},
    },
    "Outputs": {
        "QueueArn": {"Value": {"Fn::GetAtt": ["Subscriber", "Arn"]}, "Description": "inbox"},
        "TopicName": {"Value": {"Fn::GetAtt": ["Topic", "TopicName"]}},
        "ProdTopic": {"Condition": "IsProd", "Value": {"Ref": "ProdOnly"}},
    },
}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def test_resources_are_created_in_dependency_order_with_progress_and_outputs(client: Any) -> None:
    # Given a plain CloudFormation template whose first resource depends on the second
    events: list[ProgressEvent] = []

    # When it is provisioned as stack "demo"
    stack = provision(TEMPLATE, client=client, stack_name="demo", progress=events.append)

    # Then the topic is created before the queue, the prod-only topic is skipped, and progress says so
    assert [(e.logical_id, e.phase) for e in events] == [
        ("Topic", "creating"),
        ("Topic", "created"),
        ("Subscriber", "creating"),
        ("Subscriber", "created"),
    ]
    assert {e.total for e in events} == {2}
    assert set(stack.resources) == {"Topic", "Subscriber"}
    attributes = client("sns").get_topic_attributes(TopicArn=stack.physical_id("Topic"))["Attributes"]
    assert attributes["DisplayName"] == ""  # AWS::NoValue removed the property
    assert stack.outputs == {
        "QueueArn": "arn:aws:sqs:us-east-1:123456789012:demo-dev-inbox",
        "TopicName": "demo-alerts",
    }
    # And the stack is registered in the local CloudFormation as describe_stacks shows a deployed one
    described = client("cloudformation").describe_stacks(StackName="demo")["Stacks"][0]
    assert described["StackId"] == stack.stack_id
    assert described["Outputs"][0] == {
        "OutputKey": "QueueArn",
        "OutputValue": stack.outputs["QueueArn"],
        "Description": "inbox",
    }
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]} == {"Env": "dev"}
    summaries = {s["LogicalResourceId"]: s["ResourceType"] for s in stack.resource_summaries()}
    assert summaries == {"Topic": "AWS::SNS::Topic", "Subscriber": "AWS::SQS::Queue"}


def test_parameter_overrides_switch_conditions(client: Any) -> None:
    # Given the same template
    # When it is provisioned with Env=prod
    stack = provision(TEMPLATE, client=client, parameters={"Env": "prod"}, register_stack=False)

    # Then the prod-only topic and its output exist, and the display name is set
    assert "ProdOnly" in stack.resources
    assert stack.outputs["ProdTopic"] == stack.physical_id("ProdOnly")
    attributes = client("sns").get_topic_attributes(TopicArn=stack.physical_id("Topic"))["Attributes"]
    assert attributes["DisplayName"] == "prod alerts"


def test_a_reference_to_a_conditioned_out_resource_is_an_error(client: Any) -> None:
    # Given an output that references the prod-only topic without the condition
    template = {**TEMPLATE, "Outputs": {"Bad": {"Value": {"Ref": "ProdOnly"}}}}

    # When it is provisioned in dev
    # Then the error says the resource is not created
    with pytest.raises(
        IntrinsicError, match=r"Outputs\.Bad\.Value: Ref to resource 'ProdOnly', which is not created"
    ):
        provision(template, client=client, register_stack=False)


def test_a_kms_key_is_created_with_its_policy_and_rotation(client: Any) -> None:
    # Given a customer managed key with a key policy and rotation, and a topic encrypted with it
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            }
        ],
    }
    template = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {"Description": "alarms", "EnableKeyRotation": True, "KeyPolicy": policy},
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Ref": "Key"}}},
        },
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
    }
    # When it is provisioned
    stack = provision(template, client=client, stack_name="demo")
    # Then the key exists with that policy and rotation, Ref is its id and the topic names it
    kms = client("kms")
    key_id = stack.physical_id("Key")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"] == stack.outputs["KeyArn"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert (
        json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])["Statement"]
        == (policy["Statement"])
    )
    topic = client("sns").get_topic_attributes(TopicArn=stack.physical_id("Topic"))["Attributes"]
    assert topic["KmsMasterKeyId"] == key_id
