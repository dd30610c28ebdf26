"""`--stack NAME`: a deployed stack's outputs and errors, against moto's CloudFormation."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from tests.support import STACK_TEMPLATE
from typer.testing import CliRunner

from failsafe_tools.cli.app import build_app
from failsafe_tools.target import TargetError, resolve


def test_stack_outputs_come_from_cloudformation(fake_credentials: None) -> None:
    # Given a deployed stack with outputs
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="failsafe-prod", TemplateBody=json.dumps(STACK_TEMPLATE)
        )

        # When the CLI resolves --stack failsafe-prod --region eu-west-1
        target = resolve(stack="failsafe-prod", region="eu-west-1")

        # Then it has the stack's outputs and clients in that region
        assert target.kind == "stack"
        assert target.outputs["ServiceName"] == "recommender"
        assert target.outputs["NotificationTopicArn"].startswith("arn:aws:sns:eu-west-1:")
        assert target.client("sns").meta.region_name == "eu-west-1"
        with pytest.raises(TargetError, match="has no output 'StateTableName'; deploy the current template"):
            target.output("StateTableName")


def test_unknown_stack_names_the_fix(fake_credentials: None) -> None:
    # Given no such stack / When resolved / Then the error says how to find the right one
    with mock_aws(), pytest.raises(TargetError, match="no such stack in us-east-1; check the name"):
        resolve(stack="nope", region="us-east-1")


def test_cli_prints_one_line_for_an_unreachable_stack(fake_credentials: None) -> None:
    # Given no such stack
    with mock_aws():
        # When `failsafe status --stack nope` runs
        result = CliRunner().invoke(build_app(), ["status", "--stack", "nope", "--region", "us-east-1"])

    # Then it exits 2 with one line and no traceback
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error: --stack nope: no such stack")
    assert "Traceback" not in result.output
