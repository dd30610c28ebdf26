"""`failsafe validate`'s PagerDuty secret check on a deployed stack, against moto's Secrets Manager."""

from __future__ import annotations

import io

import boto3
import pytest
from moto import mock_aws
from rich.console import Console

from failsafe_tools.cli import status as status_module
from failsafe_tools.cli.validate import check_pagerduty
from failsafe_tools.target import Target


def _target(outputs: dict[str, str]) -> Target:
    return Target(
        kind="stack",
        description="stack failsafe (us-east-1)",
        region="us-east-1",
        outputs=outputs,
        factory=lambda service: boto3.client(service, region_name="us-east-1"),
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_on_aws_a_pagerduty_secret_without_a_value_still_fails_with_a_pasteable_fix(aws: None) -> None:
    # Given a deployed stack whose PagerDuty secret was created without a value
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="pd")["ARN"]
        target = _target({"PagerDutySecretArn": arn})

        # When checked
        [check] = check_pagerduty(target)

    # Then it fails, and the fix is the command with the ARN as it is (`:secret:` included)
    assert check.status == "fail"
    assert check.fix.startswith(f"aws secretsmanager put-secret-value --secret-id {arn} ")
    assert ":secret:" in arn
    buffer = io.StringIO()
    Console(file=buffer, emoji=False, width=400).print(status_module.safe(check.fix))
    assert arn in buffer.getvalue()
