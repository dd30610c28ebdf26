"""Real clients nobody here wrote, against the local AppConfig: Powertools and the agent endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.feature_flags import AppConfigStore, FeatureFlags
from moto.server import ThreadedMotoServer
from tests.integration.appconfig.appconfig_world import World

from failsafe_tools.local.appconfig import AppConfigAgent, install, start_agent
from failsafe_tools.local.clock import ManualClock


@pytest.fixture
def powertools_caches() -> Iterator[None]:
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    yield
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def test_powertools_get_app_config(world: World, powertools_caches: None, clock: ManualClock) -> None:
    # Given toggles deployed to recommender/prod
    world.deploy(world.host({"kill_switch": True, "exposure_percent": 0}))

    # When Powertools reads them, by names, with its own AppConfig provider, and again once the session's
    # poll interval (60 s by default) has passed, as AWS requires
    value = parameters.get_app_config(
        name="toggles", environment="prod", application="recommender", transform="json"
    )
    clock.advance(60)
    again = parameters.get_app_config(
        name="toggles", environment="prod", application="recommender", transform="json", force_fetch=True
    )

    # Then it gets the document, and the second (empty-body) poll keeps its last value
    assert value == {"kill_switch": True, "exposure_percent": 0}
    assert again == value


def test_powertools_feature_flags(appconfig: Any, powertools_caches: None) -> None:
    # Given a feature-flags document deployed to recommender/prod
    app_id = appconfig.create_application(Name="recommender")["Id"]
    env_id = appconfig.create_environment(ApplicationId=app_id, Name="prod")["Id"]
    profile_id = appconfig.create_configuration_profile(
        ApplicationId=app_id, Name="flags", LocationUri="hosted"
    )["Id"]
    flags = {
        "kill_switch": {"default": False},
        "content_only": {
            "default": False,
            "rules": {
                "region eu": {
                    "when_match": True,
                    "conditions": [{"action": "EQUALS", "key": "region", "value": "eu-west-1"}],
                }
            },
        },
    }
    version = appconfig.create_hosted_configuration_version(
        ApplicationId=app_id,
        ConfigurationProfileId=profile_id,
        Content=json.dumps(flags).encode(),
        ContentType="application/json",
    )["VersionNumber"]
    appconfig.start_deployment(
        ApplicationId=app_id,
        EnvironmentId=env_id,
        DeploymentStrategyId="AppConfig.AllAtOnce",
        ConfigurationProfileId=profile_id,
        ConfigurationVersion=str(version),
    )

    # When Powertools FeatureFlags evaluates them through AppConfigStore
    store = AppConfigStore(environment="prod", application="recommender", name="flags")
    feature_flags = FeatureFlags(store=store)

    # Then rules and defaults evaluate as on AWS
    assert feature_flags.evaluate(name="kill_switch", default=True) is False
    assert feature_flags.evaluate(name="content_only", context={"region": "eu-west-1"}, default=False) is True
    assert feature_flags.evaluate(name="content_only", context={"region": "us-east-1"}, default=True) is False


def _get(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_agent_endpoint_serves_polls_and_caches(world: World, clock: ManualClock) -> None:
    # Given v1 deployed and an agent polling every 45 s of local time
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 100}, label="v1"))
    agent = start_agent(poll_interval_seconds=45)
    try:
        path = "/applications/recommender/environments/prod/configurations/toggles"

        # When it is asked by names, by ids, before and after v2 is deployed and the poll interval passes
        first = _get(agent.url + path)
        by_ids = _get(
            f"{agent.url}/applications/{world.app_id}/environments/{world.env_id}/configurations/{world.profile_id}"
        )
        clock.advance(600)
        unchanged = _get(agent.url + path)
        world.deploy(world.host({"kill_switch": True, "exposure_percent": 0}, label="v2"))
        cached = _get(agent.url + path)
        clock.advance(45)
        fresh = _get(agent.url + path)
        unknown = _get(agent.url + "/applications/recommender/environments/prod/configurations/nope")
        bad_path = _get(agent.url + "/nothing")
    finally:
        agent.stop()

    # Then it serves the deployed content, caches between polls, and 404s unknown names with a message
    assert first[0] == 200
    assert json.loads(first[1]) == {"kill_switch": False, "exposure_percent": 100}
    assert first[2]["Content-Type"] == "application/json"
    assert first[2]["Version-Label"] == "v1"
    assert by_ids[1] == first[1]
    assert unchanged[1] == first[1]
    assert cached[2]["Version-Label"] == "v1"
    assert fresh[2]["Version-Label"] == "v2"
    assert unknown[0] == 404
    assert "nope" in json.loads(unknown[1])["message"]
    assert bad_path[0] == 404


def test_agent_url_and_lifecycle(aws: None) -> None:
    # Given an agent on an ephemeral port; When it starts and stops
    agent = AppConfigAgent()
    url = agent.start()
    same = agent.start()
    agent.stop()

    # Then its URL is on 127.0.0.1 and it refuses to report a URL once stopped
    assert url.startswith("http://127.0.0.1:")
    assert same == url
    with pytest.raises(RuntimeError):
        _ = agent.url


def test_moto_server_mode_serves_the_same_api(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    # Given moto in server mode with the local AppConfig installed
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        appconfig = boto3.client("appconfig", region_name="eu-west-1", endpoint_url=endpoint)
        data = boto3.client("appconfigdata", region_name="eu-west-1", endpoint_url=endpoint)

        # When a configuration is deployed and read over HTTP, also through an agent using that client
        app_id = appconfig.create_application(Name="srv")["Id"]
        env_id = appconfig.create_environment(ApplicationId=app_id, Name="prod")["Id"]
        profile_id = appconfig.create_configuration_profile(
            ApplicationId=app_id, Name="t", LocationUri="hosted"
        )["Id"]
        appconfig.create_hosted_configuration_version(
            ApplicationId=app_id,
            ConfigurationProfileId=profile_id,
            Content=b'{"a": 1}',
            ContentType="application/json",
        )
        deployment = appconfig.start_deployment(
            ApplicationId=app_id,
            EnvironmentId=env_id,
            DeploymentStrategyId="AppConfig.AllAtOnce",
            ConfigurationProfileId=profile_id,
            ConfigurationVersion="1",
        )
        token = data.start_configuration_session(
            ApplicationIdentifier="srv", EnvironmentIdentifier="prod", ConfigurationProfileIdentifier="t"
        )["InitialConfigurationToken"]
        latest = data.get_latest_configuration(ConfigurationToken=token)
        with AppConfigAgent(client=data) as agent:
            via_agent = _get(agent.url + "/applications/srv/environments/prod/configurations/t")
    finally:
        server.stop()

    # Then the server answers exactly as the in-process mock does
    assert deployment["State"] == "BAKING"
    assert latest["Configuration"].read() == b'{"a": 1}'
    assert via_agent[0] == 200
    assert via_agent[1] == b'{"a": 1}'
