"""LAMBDA validators: AppConfig invokes the function through moto's Lambda backend at StartDeployment.

Running Python handlers in-process is another piece of the local stack; here a test double replaces
only `LambdaBackend.invoke` (the function itself is really created in moto and looked up for real).
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaBackend
from tests.integration.appconfig.appconfig_world import REGION, error_fields

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def _validator_handler(event: dict[str, Any]) -> None:
    document = json.loads(base64.b64decode(event["content"]))
    if document.get("kill_switch") and document.get("exposure_percent", 0) > 0:
        raise ValueError("kill_switch=true requires exposure_percent=0")


@pytest.fixture
def lambda_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def invoke(  # noqa: PLR0917 - moto's LambdaBackend.invoke signature
        self: LambdaBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        self.get_function(function_name, qualifier)  # ResourceNotFound for unknown functions, as for real
        event = json.loads(body)
        calls.append(event)
        try:
            _validator_handler(event)
        except ValueError as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "ValueError", "errorMessage": str(exc)}).encode()
        return b"null"

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
    return calls


def _function_arn(aws: None) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="validator-role", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    fn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="toggles-validator",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    return str(fn["FunctionArn"])


def _profile_with_lambda_validator(appconfig: Any, validator: str) -> tuple[str, str, str]:
    app_id = appconfig.create_application(Name="rec")["Id"]
    env_id = appconfig.create_environment(ApplicationId=app_id, Name="prod")["Id"]
    profile_id = appconfig.create_configuration_profile(
        ApplicationId=app_id,
        Name="toggles",
        LocationUri="hosted",
        Validators=[{"Type": "LAMBDA", "Content": validator}],
    )["Id"]
    return app_id, env_id, profile_id


def _host_and_deploy(
    appconfig: Any, app_id: str, env_id: str, profile_id: str, document: dict[str, Any]
) -> Any:
    version = appconfig.create_hosted_configuration_version(
        ApplicationId=app_id,
        ConfigurationProfileId=profile_id,
        Content=json.dumps(document).encode(),
        ContentType="application/json",
    )["VersionNumber"]
    return appconfig.start_deployment(
        ApplicationId=app_id,
        EnvironmentId=env_id,
        DeploymentStrategyId="AppConfig.AllAtOnce",
        ConfigurationProfileId=profile_id,
        ConfigurationVersion=str(version),
    )


def test_lambda_validator_accepts_and_rejects_with_the_functions_message(
    aws: None, appconfig: Any, lambda_calls: list[dict[str, Any]]
) -> None:
    # Given a profile validated by a Lambda function
    app_id, env_id, profile_id = _profile_with_lambda_validator(appconfig, _function_arn(aws))

    # When a valid document and then an invalid one are deployed
    accepted = _host_and_deploy(
        appconfig, app_id, env_id, profile_id, {"kill_switch": True, "exposure_percent": 0}
    )
    appconfig.stop_deployment(ApplicationId=app_id, EnvironmentId=env_id, DeploymentNumber=1)
    with pytest.raises(ClientError) as rejected:
        _host_and_deploy(appconfig, app_id, env_id, profile_id, {"kill_switch": True, "exposure_percent": 30})

    # Then the function got AWS's validator event and its error message rejects the second deployment
    assert accepted["State"] == "BAKING"
    assert lambda_calls[0]["applicationId"] == app_id
    assert lambda_calls[0]["configurationProfileId"] == profile_id
    assert lambda_calls[0]["configurationVersion"] == "1"
    assert lambda_calls[0]["uri"] == "hosted"
    assert json.loads(base64.b64decode(lambda_calls[0]["content"])) == {
        "kill_switch": True,
        "exposure_percent": 0,
    }
    error = rejected.value.response
    assert error["Error"]["Code"] == "BadRequestException"
    assert "kill_switch=true requires exposure_percent=0" in error["Error"]["Message"]
    assert error_fields(rejected.value)["Details"]["InvalidConfiguration"][0]["Type"] == "LAMBDA"


def test_missing_validator_function_fails_the_deployment(
    aws: None, appconfig: Any, lambda_calls: list[dict[str, Any]]
) -> None:
    # Given a LAMBDA validator naming a function that does not exist
    app_id, env_id, profile_id = _profile_with_lambda_validator(
        appconfig, "arn:aws:lambda:us-east-1:123456789012:function:missing"
    )

    # When a deployment starts
    with pytest.raises(ClientError) as rejected:
        _host_and_deploy(appconfig, app_id, env_id, profile_id, {"kill_switch": False})

    # Then it is refused with a BadRequestException that names the validator
    assert rejected.value.response["Error"]["Code"] == "BadRequestException"
    assert "function:missing could not be invoked" in rejected.value.response["Error"]["Message"]
    assert lambda_calls == []
