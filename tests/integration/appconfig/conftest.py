"""Fixtures for the local AppConfig: a ManualClock, moto with failsafe's AppConfig installed, a world."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from failsafe_tools.local.appconfig import install
from failsafe_tools.local.clock import ManualClock

REGION = "us-east-1"
ACCOUNT = "123456789012"
TOGGLES_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["kill_switch", "exposure_percent"],
    "properties": {
        "kill_switch": {"type": "boolean"},
        "exposure_percent": {"type": "integer", "minimum": 0, "maximum": 100},
    },
}


def error_fields(error: ClientError) -> dict[str, Any]:
    """The whole parsed error response, including members beyond Error (Reason, Details, ResourceType)."""
    return dict(error.response)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    install()
    with mock_aws():
        yield


@pytest.fixture
def appconfig(aws: None) -> Any:
    return boto3.client("appconfig", region_name=REGION)


@pytest.fixture
def appconfigdata(aws: None) -> Any:
    return boto3.client("appconfigdata", region_name=REGION)


@pytest.fixture
def cloudwatch(aws: None) -> Any:
    return boto3.client("cloudwatch", region_name=REGION)


@dataclass
class World:
    """Application `recommender`, environment `prod` (monitored by alarm `p1-errors`), profile `toggles`."""

    client: Any
    app_id: str
    env_id: str
    profile_id: str
    alarm_arn: str

    def host(self, document: dict[str, Any] | str, label: str | None = None) -> str:
        body = document if isinstance(document, str) else json.dumps(document)
        kwargs: dict[str, Any] = {"VersionLabel": label} if label else {}
        version = self.client.create_hosted_configuration_version(
            ApplicationId=self.app_id,
            ConfigurationProfileId=self.profile_id,
            Content=body.encode(),
            ContentType="application/json",
            **kwargs,
        )
        return str(version["VersionNumber"])

    def deploy(self, version: str, strategy: str = "AppConfig.AllAtOnce") -> dict[str, Any]:
        response: dict[str, Any] = self.client.start_deployment(
            ApplicationId=self.app_id,
            EnvironmentId=self.env_id,
            DeploymentStrategyId=strategy,
            ConfigurationProfileId=self.profile_id,
            ConfigurationVersion=version,
        )
        return response

    def deployment(self, number: int) -> dict[str, Any]:
        response: dict[str, Any] = self.client.get_deployment(
            ApplicationId=self.app_id, EnvironmentId=self.env_id, DeploymentNumber=number
        )
        return response

    def strategy(self, duration: int, growth: float, bake: int, growth_type: str = "LINEAR") -> str:
        return str(
            self.client.create_deployment_strategy(
                Name=f"s-{growth_type}-{duration}-{growth}-{bake}",
                DeploymentDurationInMinutes=duration,
                GrowthFactor=growth,
                GrowthType=growth_type,
                FinalBakeTimeInMinutes=bake,
                ReplicateTo="NONE",
            )["Id"]
        )


@pytest.fixture
def world(appconfig: Any, cloudwatch: Any) -> World:
    cloudwatch.put_metric_alarm(
        AlarmName="p1-errors",
        MetricName="Errors",
        Namespace="Recommender",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    alarm_arn = cloudwatch.describe_alarms(AlarmNames=["p1-errors"])["MetricAlarms"][0]["AlarmArn"]
    app_id = appconfig.create_application(Name="recommender")["Id"]
    env_id = appconfig.create_environment(
        ApplicationId=app_id,
        Name="prod",
        Monitors=[{"AlarmArn": alarm_arn, "AlarmRoleArn": f"arn:aws:iam::{ACCOUNT}:role/appconfig-monitor"}],
    )["Id"]
    profile_id = appconfig.create_configuration_profile(
        ApplicationId=app_id,
        Name="toggles",
        LocationUri="hosted",
        Type="AWS.Freeform",
        Validators=[{"Type": "JSON_SCHEMA", "Content": json.dumps(TOGGLES_SCHEMA)}],
    )["Id"]
    return World(appconfig, app_id, env_id, profile_id, alarm_arn)
