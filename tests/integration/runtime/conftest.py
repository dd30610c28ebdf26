"""Fixtures for the in-process Lambda runtime and Step Functions tests: moto + ManualClock."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from moto import mock_aws

from failsafe_tools.local import lambda_runtime, stepfunctions
from failsafe_tools.local.clock import ManualClock

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

from tests.integration.runtime.functions_support import (
    FIXTURES,
    REGION,
    FunctionFactory,
    make_zip,
)


@pytest.fixture
def handlers() -> Iterator[ModuleType]:
    """The fixture handler module, as the in-process runtime imports it (so tests see its state)."""
    if str(FIXTURES) not in sys.path:
        sys.path.insert(0, str(FIXTURES))
    module = importlib.import_module("rt_handlers")
    module.ATTEMPTS.clear()
    module.TOKENS.clear()
    yield module
    module.ATTEMPTS.clear()
    module.TOKENS.clear()


@pytest.fixture
def aws(clock: ManualClock, handlers: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    lambda_was, sfn_was = lambda_runtime.is_installed(), stepfunctions.is_installed()
    lambda_runtime.install()
    stepfunctions.install()
    with mock_aws(config=cast("DefaultConfig", stepfunctions.PARSER_CONFIG)):
        yield
        lambda_runtime.drain_async()
    if not sfn_was:
        stepfunctions.uninstall()
    if not lambda_was:
        lambda_runtime.uninstall()


@pytest.fixture
def role_arn(aws: None) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="failsafe-test", AssumeRolePolicyDocument="{}")
    return str(role["Role"]["Arn"])


@pytest.fixture
def make_function(role_arn: str) -> Iterator[FunctionFactory]:
    """Create a python3.11 function whose handler lives in fixtures/rt_handlers.py; returns its ARN."""
    names: list[str] = []
    client = boto3.client("lambda", region_name=REGION)

    def make(
        name: str, handler: str, *, env: dict[str, str] | None = None, timeout: int = 3, **extra: Any
    ) -> str:
        lambda_runtime.register_code_root(name, FIXTURES)
        names.append(name)
        created = client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": make_zip()},
            Timeout=timeout,
            Environment={"Variables": env or {}},
            **extra,
        )
        return str(created["FunctionArn"])

    yield make
    for name in names:
        lambda_runtime.unregister_code_root(name)
