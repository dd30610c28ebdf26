"""Provisioning failures: unsupported types and properties, cycles, bad references; nothing is
half-created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failsafe_tools.local.provision import (
    DependencyCycleError,
    IntrinsicError,
    TemplateError,
    UnsupportedResourceError,
    provision,
)

REGION = "us-east-1"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def topic(name: str = "t") -> dict[str, Any]:
    return {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}


def test_an_unsupported_type_fails_naming_the_type_and_the_logical_id(client: Any) -> None:
    # Given a template with a topic and a VPC, which the local stack does not model
    template = {"Resources": {"Alerts": topic(), "Network": {"Type": "AWS::EC2::VPC", "Properties": {}}}}

    # When it is provisioned
    with pytest.raises(UnsupportedResourceError) as err:
        provision(template, client=client, register_stack=False)

    # Then the error names both, and nothing was created before the check
    assert err.value.logical_id == "Network"
    assert err.value.resource_type == "AWS::EC2::VPC"
    assert "resource 'Network' has type 'AWS::EC2::VPC', which the local stack does not support" in str(
        err.value
    )
    assert client("sns").list_topics()["Topics"] == []


def test_an_unsupported_sam_type_fails_after_expansion_with_the_generated_type(
    client: Any, tmp_path: Path
) -> None:
    # Given a SAM API, which expands to API Gateway resources
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "v1", "DefinitionBody": {}}}
        },
    }

    # When it is provisioned
    # Then the generated API Gateway type and its logical id are named
    with pytest.raises(UnsupportedResourceError, match="'Api' has type 'AWS::ApiGateway::RestApi'"):
        provision(template, client=client, base_dir=tmp_path, register_stack=False)


def test_an_unsupported_property_fails_naming_it(client: Any) -> None:
    # Given a bucket with a property the local stack does not apply
    template = {
        "Resources": {
            "Site": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"WebsiteConfiguration": {"IndexDocument": "i"}},
            }
        }
    }

    # When it is provisioned
    # Then the property is named rather than silently dropped
    with pytest.raises(UnsupportedResourceError, match="property WebsiteConfiguration not supported"):
        provision(template, client=client, register_stack=False)


def test_a_cycle_between_resources_fails_before_creating_anything(client: Any) -> None:
    # Given two topics whose names reference each other
    template = {
        "Resources": {
            "A": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::GetAtt": ["B", "TopicName"]}}},
            "B": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${A.TopicName}-b"}}},
        }
    }

    # When it is provisioned
    # Then the cycle is named
    with pytest.raises(DependencyCycleError, match="A -> B -> A"):
        provision(template, client=client, register_stack=False)
    assert client("sns").list_topics()["Topics"] == []


def test_an_unresolved_reference_names_the_property(client: Any) -> None:
    # Given a topic whose name references a parameter that does not exist
    template = {
        "Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Missing"}}}}
    }

    # When it is provisioned
    # Then the error points at the property and the name
    with pytest.raises(
        IntrinsicError, match=r"Resources\.A\.Properties\.TopicName: unresolved Ref 'Missing'"
    ):
        provision(template, client=client, register_stack=False)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"Transform": "AWS::Include", "Resources": {"A": topic()}},
            "Transform AWS::Include is not supported",
        ),
        (
            {"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {}}}},
            "lacks 'Transform: AWS::Serverless-2016-10-31'",
        ),
        ({"Resources": {"A": {"Properties": {}}}}, "resource 'A' has no Type"),
        ({"Resources": {"A": {**topic(), "Bogus": 1}}}, "unknown attribute"),
        ({"Rules": {}, "Resources": {"A": topic()}}, "Rules"),
    ],
)
def test_malformed_or_unsupported_template_features_fail_clearly(
    client: Any, template: dict[str, Any], message: str
) -> None:
    # Given a template with a problem
    # When it is provisioned
    # Then the error says which
    with pytest.raises(TemplateError, match=message):
        provision(template, client=client, register_stack=False)


def test_a_missing_code_uri_directory_is_named(client: Any, tmp_path: Path) -> None:
    # Given a SAM function whose CodeUri does not exist
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "F": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "nowhere/", "Handler": "m.h", "Runtime": "python3.12"},
            }
        },
    }

    # When it is provisioned
    # Then the error names the function, the property and the path
    with pytest.raises(TemplateError, match=r"F\.CodeUri: 'nowhere/' does not exist"):
        provision(template, client=client, base_dir=tmp_path, register_stack=False)


def test_a_failing_create_call_names_the_resource(client: Any) -> None:
    # Given two tables with the same explicit name
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "TableName": "same",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        },
    }
    template = {"Resources": {"First": table, "Second": table}}

    # When it is provisioned
    # Then the second create fails with its logical id, type and AWS's error
    with pytest.raises(
        Exception, match=r"creating 'Second' \(AWS::DynamoDB::Table\) failed: ResourceInUseException"
    ):
        provision(template, client=client, register_stack=False)
