"""A moto world for the controller's handlers and adapters: the resources template.yaml declares, created
directly with boto3 (DynamoDB tables, SNS topic with an SQS subscriber to read messages back, the PagerDuty
secret, the report bucket, a state machine, guardrail alarms, and AppConfig through failsafe's local
AppConfig), the handlers' environment variables, a ManualClock, and a PagerDuty Events v2 server on
127.0.0.1 that checks every payload against the v2 schema."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws
from tests.integration.handlers.world import (
    PREFIX,
    REGION,
    ROUTING_KEY,
    WORLD_ALARMS,
    WORLD_START,
    PagerDutyServer,
    World,
    create_table,
    pagerduty_server,
)

from failsafe.controller.runtime import cold_start, shared_client
from failsafe.domain.catalog import DEFAULT_CATALOG
from failsafe.domain.metrics import NAMESPACE
from failsafe_tools.local.appconfig import install
from failsafe_tools.local.clock import ManualClock


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyServer]:
    with pagerduty_server() as server:
        yield server


@pytest.fixture
def clock_start() -> float:
    return WORLD_START


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, clock: ManualClock, pagerduty: PagerDutyServer) -> Iterator[World]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "failsafe",
        "POWERTOOLS_METRICS_NAMESPACE": "Failsafe/Controller",
    }.items():
        monkeypatch.setenv(name, value)
    install()
    cold_start()
    with mock_aws():
        ddb = shared_client("dynamodb", REGION)
        create_table(ddb, "state", [("pk", "S", "HASH")])
        create_table(ddb, "audit", [("chain", "S", "HASH"), ("seq", "N", "RANGE")])
        create_table(ddb, "idempotency", [("id", "S", "HASH")], ttl="expiration")
        sns = shared_client("sns", REGION)
        topic = sns.create_topic(Name="failsafe")["TopicArn"]
        sqs = shared_client("sqs", REGION)
        queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        secret = shared_client("secretsmanager", REGION).create_secret(
            Name="pagerduty", SecretString=ROUTING_KEY
        )["ARN"]
        shared_client("s3", REGION).create_bucket(Bucket="reports")
        iam = shared_client("iam", REGION)
        role = iam.create_role(
            RoleName="sfn",
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
        machine = shared_client("stepfunctions", REGION).create_state_machine(
            name="failsafe-rollback",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=role,
        )["stateMachineArn"]
        cw = shared_client("cloudwatch", REGION)
        for rule in (r for r in DEFAULT_CATALOG.rules if r.name in WORLD_ALARMS):
            cw.put_metric_alarm(
                AlarmName=PREFIX + rule.name,
                Namespace=NAMESPACE,
                MetricName=rule.metric,
                Dimensions=[
                    {"Name": "Service", "Value": "recommender"},
                    {"Name": "Environment", "Value": "prod"},
                ],
                Statistic="Average",
                Period=60,
                EvaluationPeriods=1,
                Threshold=DEFAULT_CATALOG.threshold_of(rule),
                ComparisonOperator=rule.comparison.cloudwatch_operator,
                TreatMissingData="notBreaching",
            )
            cw.set_alarm_state(AlarmName=PREFIX + rule.name, StateValue="OK", StateReason="init")
        appconfig = shared_client("appconfig", REGION)
        app = appconfig.create_application(Name="failsafe-recommender")["Id"]
        env_id = appconfig.create_environment(ApplicationId=app, Name="prod")["Id"]
        profile = appconfig.create_configuration_profile(
            ApplicationId=app, Name="toggles", LocationUri="hosted", Type="AWS.Freeform"
        )["Id"]
        immediate = appconfig.create_deployment_strategy(
            Name="immediate",
            DeploymentDurationInMinutes=0,
            FinalBakeTimeInMinutes=0,
            GrowthFactor=100,
            GrowthType="LINEAR",
            ReplicateTo="NONE",
        )["Id"]
        gradual = appconfig.create_deployment_strategy(
            Name="gradual",
            DeploymentDurationInMinutes=10,
            FinalBakeTimeInMinutes=5,
            GrowthFactor=20,
            GrowthType="LINEAR",
            ReplicateTo="NONE",
        )["Id"]
        env = {
            "FAILSAFE_SERVICE": "recommender",
            "FAILSAFE_ENVIRONMENT": "prod",
            "STATE_TABLE_NAME": "state",
            "AUDIT_TABLE_NAME": "audit",
            "IDEMPOTENCY_TABLE_NAME": "idempotency",
            "STATE_MACHINE_ARN": machine,
            "ALARM_NAME_PREFIX": PREFIX,
            "TOPIC_ARN": topic,
            "PAGERDUTY_SECRET_ARN": secret,
            "PAGERDUTY_BASE_URL": pagerduty.url,
            "REPORT_BUCKET": "reports",
            "APPCONFIG_APPLICATION_ID": app,
            "APPCONFIG_ENVIRONMENT_ID": env_id,
            "APPCONFIG_PROFILE_ID": profile,
            "APPCONFIG_IMMEDIATE_STRATEGY_ID": immediate,
            "APPCONFIG_GRADUAL_STRATEGY_ID": gradual,
            "HEALTH_CHECK_INTERVAL_SECONDS": "30",
            "DEPLOYMENT_POLL_SECONDS": "5",
            "APPROVAL_TIMEOUT_SECONDS": "600",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield World(env=env, queue_url=queue_url, clock=clock, pagerduty=pagerduty)
    cold_start()
