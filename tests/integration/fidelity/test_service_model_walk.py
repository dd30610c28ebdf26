"""Issue 13 item 1: every List*/Describe*/Get* operation of every service the stack provisions answers as
AWS does, or with AWS's own error shape naming the operation; never an HTTP 500 and never an HTML page.

The walk takes the operations from botocore's service models (what boto3 and the AWS CLI send), calls each
one whose required parameters are all ids of the provisioned stack (or that has none), and records what
came back.
"""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from failsafe_tools.local.stack import LocalStack

from .conftest import Remote

READ_OPERATION = re.compile(r"^(List|Describe|Get)[A-Z]")
# Services of the resource types in template.yaml, plus the stack itself and AppConfig's data plane.
EXTRA_SERVICES = ("cloudformation", "appconfigdata")
SERVICE_OF_NAMESPACE = {
    "AppConfig": "appconfig",
    "CloudWatch": "cloudwatch",
    "Events": "events",
    "KinesisFirehose": "firehose",
}


def provisioned_services(server: LocalStack) -> list[str]:
    namespaces = {r["ResourceType"].split("::")[1] for r in server.provisioned.resource_summaries()}
    return sorted({SERVICE_OF_NAMESPACE.get(n, n.lower()) for n in namespaces} | set(EXTRA_SERVICES))


def known_ids(server: LocalStack) -> dict[str, Any]:
    out = server.outputs
    function = out["AlarmIngestFunctionName"]
    return {
        "ApplicationId": out["AppConfigApplicationId"],
        "EnvironmentId": out["AppConfigEnvironmentId"],
        "ConfigurationProfileId": out["AppConfigProfileId"],
        "DeploymentStrategyId": out["AppConfigImmediateStrategyId"],
        "stateMachineArn": out["StateMachineArn"],
        "FunctionName": function,
        "TableName": out["StateTableName"],
        "TopicArn": out["NotificationTopicArn"],
        "SecretId": out["PagerDutySecretArn"],
        "Bucket": out["ReportBucketName"],
        "StackName": server.provisioned.stack_name,
    }


def calls(server: LocalStack) -> list[tuple[str, str, dict[str, Any]]]:
    session = botocore.session.get_session()
    ids = known_ids(server)
    out = []
    for service in provisioned_services(server):
        model = session.get_service_model(service)
        for name in model.operation_names:
            if not READ_OPERATION.match(name):
                continue
            shape = model.operation_model(name).input_shape
            required = list(shape.required_members) if shape is not None else []
            if all(member in ids for member in required):
                out.append((service, name, {member: ids[member] for member in required}))
    return out


def test_the_walk_covers_every_provisioned_service(server: LocalStack) -> None:
    # Given the provisioned stack; When the walk is planned
    services = provisioned_services(server)
    planned = {service for service, _, _ in calls(server)}

    # Then it covers every provisioned service with at least one operation
    assert {"appconfig", "appconfigdata", "cloudwatch", "events", "lambda", "stepfunctions"} <= set(services)
    assert set(services) - planned <= {"appconfigdata"}  # its only reads need a session token


def test_no_read_operation_answers_500_or_html(server: LocalStack, remote: Remote) -> None:
    # Given every read operation a real client can call with the stack's ids
    failures: list[str] = []
    not_served: list[str] = []
    for service, operation, params in calls(server):
        # When boto3 calls it through the endpoint
        try:
            getattr(remote(service), xform_name(operation))(**params)
            continue
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        except Exception as exc:  # an unparseable body: botocore could not read it as the service's shape
            failures.append(f"{service} {operation}: {type(exc).__name__}: {str(exc)[:160]}")
            continue
        # Then an error is AWS's shape (a code botocore parsed), never a 5xx or an HTML page
        if status >= 500 or "<html" in message.lower() or not code or code.isdigit():
            failures.append(f"{service} {operation}: HTTP {status} {code}: {message[:160]}")
        if code == "InvalidAction":
            not_served.append(f"{service} {operation}")
            if operation not in message:
                failures.append(f"{service} {operation}: InvalidAction without the operation: {message}")
    assert failures == []
    # and what is out of scope says so in AWS's own words (the list documents the current scope)
    assert "appconfig ListApplications" not in not_served
    assert "cloudwatch DescribeAlarmHistory" not in not_served


@pytest.mark.parametrize("protocol_service", ["appconfig", "cloudwatch", "sns", "lambda"])
def test_an_operation_out_of_scope_answers_invalid_action_naming_it(
    remote: Remote, protocol_service: str
) -> None:
    # Given an operation the local AWS does not serve, one per wire protocol (rest-json, cbor/json, query,
    # rest-json with an unknown route)
    client = remote(protocol_service)
    operation = {
        "appconfig": ("ListExtensions", {}),
        "cloudwatch": ("ListMetricStreams", {}),
        "sns": ("ListOriginationNumbers", {}),
        "lambda": ("ListCodeSigningConfigs", {}),
    }[protocol_service]

    # When a real client calls it
    with pytest.raises(ClientError) as raised:
        getattr(client, xform_name(operation[0]))(**operation[1])

    # Then the answer is HTTP 400 InvalidAction in the service's own error shape, naming the operation
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "InvalidAction"
    assert operation[0] in response["Error"]["Message"]
