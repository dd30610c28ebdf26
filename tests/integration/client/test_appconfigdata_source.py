"""AppConfigDataSource against boto3's real appconfigdata service model (botocore Stubber).

The Stubber validates every request against the service model and fails on any call that was not
expected, so these tests also prove which calls the source does *not* make (no token reuse, no poll
before NextPollIntervalInSeconds).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from failsafe.client import AppConfigDataSource, RefreshOutcome, SourceUnavailable, ToggleClient
from failsafe.domain.decision import DecisionReason, RequestContext
from failsafe_tools.local.appconfig import install as install_local_appconfig

IDS = {
    "ApplicationIdentifier": "recommender",
    "EnvironmentIdentifier": "prod",
    "ConfigurationProfileIdentifier": "toggles",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def document(version: int, **toggles: Any) -> bytes:
    return json.dumps(
        {
            "metadata": {"version": version, "environment": "prod", "author": "t", "reason": "r"},
            "toggles": toggles,
        }
    ).encode()


def latest(payload: bytes, next_token: str, interval: int = 15, label: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "NextPollConfigurationToken": next_token,
        "NextPollIntervalInSeconds": interval,
        "ContentType": "application/json",
        "Configuration": StreamingBody(io.BytesIO(payload), len(payload)),
    }
    if label:
        response["VersionLabel"] = label
    return response


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "appconfigdata", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_session_is_started_once_and_each_token_is_used_once(stubbed: tuple[Any, Stubber]) -> None:
    # Given a session whose first poll returns version 1 and whose next polls return empty bodies
    client, stubber = stubbed
    clock = FakeClock()
    stubber.add_response(
        "start_configuration_session",
        {"InitialConfigurationToken": "token-0"},
        {**IDS, "RequiredMinimumPollIntervalInSeconds": 15},
    )
    stubber.add_response(
        "get_latest_configuration",
        latest(document(1), "token-1", label="v1"),
        {"ConfigurationToken": "token-0"},
    )
    stubber.add_response(
        "get_latest_configuration", latest(b"", "token-2"), {"ConfigurationToken": "token-1"}
    )
    stubber.add_response(
        "get_latest_configuration", latest(b"", "token-3"), {"ConfigurationToken": "token-2"}
    )
    source = AppConfigDataSource(
        client, "recommender", "prod", "toggles", required_minimum_poll_interval=15, clock=clock
    )

    # When it is polled three times, 15 s apart
    first = source.fetch()
    clock.now += 15
    second = source.fetch()
    clock.now += 15
    third = source.fetch()

    # Then it got the document, then "unchanged" twice, chaining the tokens
    assert first.body == document(1)
    assert first.version_label == "v1"
    assert first.content_type == "application/json"
    assert first.next_poll_seconds == 15
    assert second.body is None
    assert third.body is None
    assert source.sessions_started == 1


def test_polls_before_the_next_poll_interval_are_answered_locally(stubbed: tuple[Any, Stubber]) -> None:
    # Given a session that asked for 60 s between polls
    client, stubber = stubbed
    clock = FakeClock()
    stubber.add_response("start_configuration_session", {"InitialConfigurationToken": "t0"}, IDS)
    stubber.add_response(
        "get_latest_configuration", latest(document(1), "t1", interval=60), {"ConfigurationToken": "t0"}
    )
    stubber.add_response(
        "get_latest_configuration", latest(b"", "t2", interval=60), {"ConfigurationToken": "t1"}
    )
    source = AppConfigDataSource(client, "recommender", "prod", "toggles", clock=clock)
    source.fetch()

    # When the client polls again after 15 s and after 60 s
    clock.now += 15
    early = source.fetch()
    clock.now += 45
    on_time = source.fetch()

    # Then the early poll makes no API call and says how long to wait; the on-time poll calls the API
    assert early.body is None
    assert early.next_poll_seconds == pytest.approx(45)
    assert on_time.body is None
    assert on_time.next_poll_seconds == 60


def test_an_error_drops_the_session_and_the_next_poll_starts_a_new_one(stubbed: tuple[Any, Stubber]) -> None:
    # Given a session whose token has expired
    client, stubber = stubbed
    clock = FakeClock()
    stubber.add_response("start_configuration_session", {"InitialConfigurationToken": "t0"}, IDS)
    stubber.add_response("get_latest_configuration", latest(document(1), "t1"), {"ConfigurationToken": "t0"})
    stubber.add_client_error(
        "get_latest_configuration",
        service_error_code="BadRequestException",
        service_message="Token expired",
        http_status_code=400,
        expected_params={"ConfigurationToken": "t1"},
    )
    stubber.add_response("start_configuration_session", {"InitialConfigurationToken": "fresh-0"}, IDS)
    stubber.add_response(
        "get_latest_configuration", latest(document(2), "fresh-1"), {"ConfigurationToken": "fresh-0"}
    )
    source = AppConfigDataSource(client, "recommender", "prod", "toggles", clock=clock)
    source.fetch()

    # When the next poll fails, and the one after runs
    clock.now += 15
    with pytest.raises(SourceUnavailable, match="BadRequestException"):
        source.fetch()
    clock.now += 15
    recovered = source.fetch()

    # Then a new session answered with the full latest configuration
    assert recovered.body == document(2)
    assert source.sessions_started == 2


def test_a_client_on_appconfigdata_picks_up_a_kill_switch_and_keeps_it_through_an_outage(
    stubbed: tuple[Any, Stubber],
) -> None:
    # Given a ToggleClient on appconfigdata: version 1, then a kill switch, then the service throttles
    client, stubber = stubbed
    clock = FakeClock()
    stubber.add_response("start_configuration_session", {"InitialConfigurationToken": "t0"}, IDS)
    stubber.add_response("get_latest_configuration", latest(document(1), "t1"), {"ConfigurationToken": "t0"})
    stubber.add_response(
        "get_latest_configuration",
        latest(document(2, kill_switch=True, candidate_fallback_level="D"), "t2"),
        {"ConfigurationToken": "t1"},
    )
    stubber.add_client_error("get_latest_configuration", "ThrottlingException", "Rate exceeded", 429)
    source = AppConfigDataSource(client, "recommender", "prod", "toggles", clock=clock)
    toggles = ToggleClient(source, environment="prod", clock=clock, wall_clock=clock)

    # When it polls three times, one interval apart
    outcomes = []
    for _ in range(3):
        outcomes.append(toggles.refresh())
        clock.now += 15

    # Then the kill switch arrived on the next poll and stayed through the outage
    assert outcomes == [RefreshOutcome.APPLIED, RefreshOutcome.APPLIED, RefreshOutcome.UNAVAILABLE]
    assert toggles.config_version == 2
    assert toggles.decide(RequestContext("user-1")).reason is DecisionReason.KILL_SWITCH


def test_the_source_works_against_the_local_appconfig_data_plane(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the embedded local AppConfig with version 1 of the toggles deployed
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    install_local_appconfig()
    with mock_aws():
        control = boto3.client("appconfig", region_name="us-east-1")
        app = control.create_application(Name="recommender")["Id"]
        env = control.create_environment(ApplicationId=app, Name="prod")["Id"]
        profile = control.create_configuration_profile(
            ApplicationId=app, Name="toggles", LocationUri="hosted", Type="AWS.Freeform"
        )["Id"]

        def deploy(payload: bytes) -> None:
            version = control.create_hosted_configuration_version(
                ApplicationId=app,
                ConfigurationProfileId=profile,
                Content=payload,
                ContentType="application/json",
            )["VersionNumber"]
            control.start_deployment(
                ApplicationId=app,
                EnvironmentId=env,
                DeploymentStrategyId="AppConfig.AllAtOnce",
                ConfigurationProfileId=profile,
                ConfigurationVersion=str(version),
            )

        deploy(document(1))
        clock = FakeClock()
        data = boto3.client("appconfigdata", region_name="us-east-1")
        toggles = ToggleClient(
            AppConfigDataSource(data, "recommender", "prod", "toggles", clock=clock),
            environment="prod",
            clock=clock,
        )

        # When the client polls, then polls again after nothing changed
        first = toggles.refresh()
        clock.now += 15
        second = toggles.refresh()

        # Then it applied version 1 and then saw an empty body (unchanged)
        assert (first, second) == (RefreshOutcome.APPLIED, RefreshOutcome.UNCHANGED)
        assert toggles.config_version == 1


class BrokenBody:
    """A response body whose read fails mid-stream (a dropped connection)."""

    def read(self, amount: int | None = None) -> bytes:
        raise ConnectionResetError("connection reset while reading the body")


def test_a_body_that_cannot_be_read_never_turns_into_a_silent_unchanged(stubbed: tuple[Any, Stubber]) -> None:
    # Given a poll whose response arrives but whose body cannot be read
    client, stubber = stubbed
    clock = FakeClock()
    stubber.add_response("start_configuration_session", {"InitialConfigurationToken": "t0"}, IDS)
    stubber.add_response("get_latest_configuration", latest(document(1), "t1"), {"ConfigurationToken": "t0"})
    source = AppConfigDataSource(client, "recommender", "prod", "toggles", clock=clock)
    real_call = client.get_latest_configuration

    def broken_once(**kwargs: Any) -> dict[str, Any]:
        response = dict(real_call(**kwargs))
        response["Configuration"] = BrokenBody()
        return response

    client.get_latest_configuration = broken_once
    # When it is fetched (and fails), and fetched again
    with pytest.raises(SourceUnavailable, match="connection reset"):
        source.fetch()
    client.get_latest_configuration = real_call
    stubber.add_response("start_configuration_session", {"InitialConfigurationToken": "s2-0"}, IDS)
    stubber.add_response(
        "get_latest_configuration", latest(document(1), "s2-1"), {"ConfigurationToken": "s2-0"}
    )
    clock.now += 15
    again = source.fetch()
    # Then the second fetch used a new session and got the full document, not an empty "unchanged"
    assert again.body == document(1)
    assert source.sessions_started == 2
