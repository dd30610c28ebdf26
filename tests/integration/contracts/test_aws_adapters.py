"""The contract suites against the AWS adapters, on moto (the same suites the fakes pass)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from tests.contracts.ports import (
    AuditLogContract,
    ExecutionsContract,
    ReportStoreContract,
    StateStoreContract,
)

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.executions import Executions
from failsafe.aws.reports import ReportWriter
from failsafe.aws.state_store import StateStore
from failsafe.domain.plan_defaults import DEFAULT_PLAN

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _table(name: str, keys: list[tuple[str, str, str]]) -> Any:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": n, "KeyType": k} for n, _, k in keys],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


class TestDynamoDbStateStore(StateStoreContract):
    @pytest.fixture
    def state(self, aws: None) -> StateStore:
        return StateStore(_table("state", [("pk", "S", "HASH")]), "state", DEFAULT_PLAN)


class TestDynamoDbAuditLog(AuditLogContract):
    @pytest.fixture
    def audit(self, aws: None) -> AuditLog:
        return AuditLog(_table("audit", [("chain", "S", "HASH"), ("seq", "N", "RANGE")]), "audit")


class TestS3ReportStore(ReportStoreContract):
    @pytest.fixture
    def reports(self, aws: None) -> ReportWriter:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="reports")
        return ReportWriter(s3, "reports")


DEFINITION = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}


class TestStepFunctionsExecutions(ExecutionsContract):
    @pytest.fixture
    def executions(self, aws: None) -> Executions:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="rollback",
            definition=json.dumps(DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )
        return Executions(sfn, machine["stateMachineArn"])
