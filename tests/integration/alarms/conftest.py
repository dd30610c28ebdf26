"""Fixtures for the local CloudWatch alarm evaluator and EventBridge delivery (failsafe_tools.local.alarms).

Test modules import their helpers from `fixtures/alarm_support.py` (put on sys.path here, since pytest runs
with --import-mode=importlib and conftest itself is not importable).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from failsafe_tools.local import alarms, eventbridge, lambda_runtime
from failsafe_tools.local.clock import EPOCH_START, ManualClock

_FIXTURES = str(Path(__file__).parent / "fixtures")
if _FIXTURES not in sys.path:
    sys.path.insert(0, _FIXTURES)

from alarm_support import REGION, LocalAws, handlers_module  # noqa: E402


@pytest.fixture
def clock_start() -> float:
    return EPOCH_START


@pytest.fixture
def aws(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    alarms_were_installed = alarms.installed()
    runtime_was_installed = lambda_runtime.is_installed()
    with mock_aws():
        alarms.install()
        lambda_runtime.install()
        previous_async = lambda_runtime.set_async_mode("inline")
        eventbridge.clear_delivery_log()
        handlers_module().RECEIVED.clear()
        try:
            yield LocalAws(clock=clock, evaluator=alarms.AlarmEvaluator())
        finally:
            lambda_runtime.set_async_mode(previous_async)
            eventbridge.set_delivery_mode("inline")
            eventbridge.set_lambda_invoker(None)
            if not runtime_was_installed:
                lambda_runtime.uninstall()
            if not alarms_were_installed:
                alarms.uninstall()
