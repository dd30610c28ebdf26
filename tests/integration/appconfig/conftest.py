"""Fixtures for the local AppConfig: a ManualClock, moto with failsafe's AppConfig installed, a world."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from tests.integration.appconfig.appconfig_world import (
    ACCOUNT,
    REGION,
    TOGGLES_SCHEMA,
    World,
)

from failsafe_tools.local.appconfig import install
from failsafe_tools.local.clock import ManualClock


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
