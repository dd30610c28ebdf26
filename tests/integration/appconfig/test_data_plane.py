"""AppConfig Data on the local stack: sessions, single-use tokens, empty bodies, rollout percentages."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.integration.appconfig.appconfig_world import World, error_fields

from failsafe_tools.local.appconfig import session_bucket
from failsafe_tools.local.clock import ManualClock


def _session(
    data: Any, app: str = "recommender", env: str = "prod", profile: str = "toggles", **kw: Any
) -> str:
    return str(
        data.start_configuration_session(
            ApplicationIdentifier=app, EnvironmentIdentifier=env, ConfigurationProfileIdentifier=profile, **kw
        )["InitialConfigurationToken"]
    )


def test_session_sees_a_new_version_then_an_empty_body(
    world: World, appconfigdata: Any, clock: ManualClock
) -> None:
    # Given version 1 deployed and a session opened by ids with a 30 s poll interval
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 100}, label="v1"))
    token = _session(
        appconfigdata, world.app_id, world.env_id, world.profile_id, RequiredMinimumPollIntervalInSeconds=30
    )

    # When the session polls twice, then again after version 2 is deployed (each poll waits the interval)
    first = appconfigdata.get_latest_configuration(ConfigurationToken=token)
    clock.advance(30)
    second = appconfigdata.get_latest_configuration(ConfigurationToken=first["NextPollConfigurationToken"])
    world.client.stop_deployment(ApplicationId=world.app_id, EnvironmentId=world.env_id, DeploymentNumber=1)
    world.deploy(world.host({"kill_switch": True, "exposure_percent": 0}, label="v2"))
    clock.advance(30)
    third = appconfigdata.get_latest_configuration(ConfigurationToken=second["NextPollConfigurationToken"])

    # Then it gets v1, an empty body (unchanged), then v2 - with AWS's headers
    assert first["Configuration"].read() == b'{"kill_switch": false, "exposure_percent": 100}'
    assert first["ContentType"] == "application/json"
    assert first["VersionLabel"] == "v1"
    assert first["NextPollIntervalInSeconds"] == 30
    assert second["Configuration"].read() == b""
    assert "VersionLabel" not in second
    assert third["Configuration"].read() == b'{"kill_switch": true, "exposure_percent": 0}'
    assert third["VersionLabel"] == "v2"


def test_reusing_a_token_is_rejected(world: World, appconfigdata: Any) -> None:
    # Given a session whose initial token was already used
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 1}))
    token = _session(appconfigdata)
    appconfigdata.get_latest_configuration(ConfigurationToken=token)

    # When the same token is used again, and when a made-up token is used
    with pytest.raises(ClientError) as reused:
        appconfigdata.get_latest_configuration(ConfigurationToken=token)
    with pytest.raises(ClientError) as corrupted:
        appconfigdata.get_latest_configuration(ConfigurationToken="bm90LWEtdG9rZW4=")

    # Then both are BadRequestException with AWS's InvalidParameters details
    assert reused.value.response["Error"]["Code"] == "BadRequestException"
    assert error_fields(reused.value)["Details"] == {
        "InvalidParameters": {"ConfigurationToken": {"Problem": "Expired"}}
    }
    assert error_fields(corrupted.value)["Details"] == {
        "InvalidParameters": {"ConfigurationToken": {"Problem": "Corrupted"}}
    }


def test_tokens_expire_after_24_hours(world: World, appconfigdata: Any, clock: ManualClock) -> None:
    # Given a token left unused for more than a day
    token = _session(appconfigdata)
    clock.advance(24 * 3600 + 1)

    # When it is used
    with pytest.raises(ClientError) as expired:
        appconfigdata.get_latest_configuration(ConfigurationToken=token)

    # Then it has expired
    assert (
        error_fields(expired.value)["Details"]["InvalidParameters"]["ConfigurationToken"]["Problem"]
        == "Expired"
    )


def test_during_a_rollout_sessions_get_the_new_version_by_percentage(
    world: World, appconfigdata: Any, clock: ManualClock
) -> None:
    # Given v1 complete, then v2 rolling out linearly (20% steps over 10 minutes), and ten sessions
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 100}, label="v1"))
    clock.advance(600)
    world.deploy(
        world.host({"kill_switch": False, "exposure_percent": 50}, label="v2"), world.strategy(10, 20, 0)
    )
    tokens = [_session(appconfigdata) for _ in range(10)]

    # When every session polls at 20% and again at 60%
    def poll_labels() -> list[str]:
        labels = []
        for i, token in enumerate(tokens):
            response = appconfigdata.get_latest_configuration(ConfigurationToken=token)
            tokens[i] = response["NextPollConfigurationToken"]
            response["Configuration"].read()
            labels.append(response.get("VersionLabel", "unchanged"))
        return labels

    at_20 = poll_labels()
    clock.advance(240)
    at_60 = poll_labels()

    # Then exactly the sessions whose bucket is below the percentage receive v2 (deterministic rule)
    assert world.deployment(2)["PercentageComplete"] == 60.0
    assert at_20 == ["v2" if session_bucket(n) < 20 else "v1" for n in range(10)]
    assert at_60 == [
        ("unchanged" if session_bucket(n) < 20 else "v2") if session_bucket(n) < 60 else "unchanged"
        for n in range(10)
    ]
    assert at_20.count("v2") == 2


def test_rollback_serves_the_previous_version_again(
    world: World, appconfigdata: Any, cloudwatch: Any, clock: ManualClock
) -> None:
    # Given v1 complete and a session that has seen v2 at the first step of a rollout
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 100}, label="v1"))
    clock.advance(600)
    world.deploy(
        world.host({"kill_switch": False, "exposure_percent": 5}, label="v2"), world.strategy(10, 50, 0)
    )
    token = _session(appconfigdata)
    saw = appconfigdata.get_latest_configuration(ConfigurationToken=token)

    # When the monitor alarm rolls v2 back
    cloudwatch.set_alarm_state(AlarmName="p1-errors", StateValue="ALARM", StateReason="errors")
    clock.advance(60)  # the session's poll interval
    after = appconfigdata.get_latest_configuration(ConfigurationToken=saw["NextPollConfigurationToken"])

    # Then the session is handed v1 again
    assert saw["VersionLabel"] == "v2"
    assert after["VersionLabel"] == "v1"
    assert after["Configuration"].read() == b'{"kill_switch": false, "exposure_percent": 100}'


def test_unknown_identifiers_and_bad_poll_interval(world: World, appconfigdata: Any) -> None:
    # Given the world; When sessions are requested for unknown names or a poll interval above a day
    with pytest.raises(ClientError) as no_env:
        _session(appconfigdata, env="nope")
    with pytest.raises(ClientError) as no_profile:
        _session(appconfigdata, profile="nope")
    with pytest.raises(ClientError) as too_fast:
        _session(appconfigdata, RequiredMinimumPollIntervalInSeconds=86401)

    # Then AWS's error codes come back
    assert no_env.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error_fields(no_env.value)["ResourceType"] == "Environment"
    assert error_fields(no_profile.value)["ResourceType"] == "ConfigurationProfile"
    assert too_fast.value.response["Error"]["Code"] == "BadRequestException"


def test_nothing_deployed_yet_gives_an_empty_body(world: World, appconfigdata: Any) -> None:
    # Given a session on an environment with no deployment; When it polls
    response = appconfigdata.get_latest_configuration(ConfigurationToken=_session(appconfigdata))

    # Then the configuration is empty and a next token is issued
    assert response["Configuration"].read() == b""
    assert response["NextPollConfigurationToken"]
