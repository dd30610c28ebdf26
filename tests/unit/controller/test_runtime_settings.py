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


def test_a_port_outside_the_handlers_model_is_refused_with_the_fix() -> None:
    # Given a runtime whose settings model has the state table but no report bucket
    from failsafe.controller.runtime import Runtime
    from failsafe.controller.settings import SettingsError, StateSettings

    settings = StateSettings.from_env(
        {"FAILSAFE_SERVICE": "svc", "FAILSAFE_ENVIRONMENT": "test", "STATE_TABLE_NAME": "state"}
    )
    rt = Runtime(settings)

    # When the code path asks for the report store / Then it names the missing mixin and the fix
    with pytest.raises(SettingsError, match=r"does not include ReportSettings.*template\.yaml"):
        _ = rt.reports


def test_service_and_environment_have_no_defaults() -> None:
    # Given an environment without FAILSAFE_SERVICE and FAILSAFE_ENVIRONMENT
    from failsafe.controller.settings import Settings, SettingsError

    # When the settings are read / Then both are named as missing, instead of "recommender"/"prod"
    with pytest.raises(SettingsError, match="FAILSAFE_SERVICE, FAILSAFE_ENVIRONMENT"):
        Settings.from_env({})
