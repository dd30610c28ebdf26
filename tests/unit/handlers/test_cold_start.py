"""`cold_start()` is the public way to return the process to a fresh Lambda container's state."""

from __future__ import annotations

import pytest

from failsafe.controller import runtime as runtime_module
from failsafe.controller.runtime import cold_start, runtime_for, shared_client
from failsafe.controller.settings import Settings


def test_cold_start_forgets_every_runtime_and_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a handler runtime and a shared client built for one environment
    monkeypatch.setenv("FAILSAFE_SERVICE", "svc")
    monkeypatch.setenv("FAILSAFE_ENVIRONMENT", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    first = runtime_for(Settings)
    client = shared_client("sqs", "eu-west-1")
    assert runtime_for(Settings) is first

    # When the process is returned to a cold start
    cold_start()

    # Then the next handler builds a new runtime and a new client, as a fresh container would
    assert runtime_for(Settings) is not first
    assert shared_client("sqs", "eu-west-1") is not client
    cold_start()
    assert runtime_module._runtimes == {}
