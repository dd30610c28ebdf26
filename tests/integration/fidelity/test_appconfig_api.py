"""Issue 13 items 3 and 4: AppConfig's data plane enforces the poll interval; the control plane answers
ListApplications and ListHostedConfigurationVersions, deploys a hosted version by its label, honours
LatestVersionNumber, leaves absent fields absent, reports profile Type and ValidatorTypes; the agent
endpoint sends Configuration-Version. All through boto3 (and plain HTTP for the agent) against the server."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failsafe.aws.appconfig_deployer import AppConfigDeployer, AppConfigTarget, DeploymentConflictError
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack

from .conftest import Remote


@pytest.fixture
def fresh_profile(server: LocalStack, remote: Remote) -> dict[str, str]:
    """A new hosted profile and environment in the stack's application (so no deployment is in flight)."""
    appconfig = remote("appconfig")
    app_id = server.outputs["AppConfigApplicationId"]
    count = len(appconfig.list_configuration_profiles(ApplicationId=app_id)["Items"])
    profile_id = appconfig.create_configuration_profile(
        ApplicationId=app_id, Name=f"fidelity-{count}", LocationUri="hosted"
    )["Id"]
    env_id = appconfig.create_environment(ApplicationId=app_id, Name=f"fidelity-{count}")["Id"]
    return {"ApplicationId": app_id, "ConfigurationProfileId": profile_id, "EnvironmentId": env_id}


def host(appconfig: Any, ids: dict[str, str], document: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = appconfig.create_hosted_configuration_version(
        ApplicationId=ids["ApplicationId"],
        ConfigurationProfileId=ids["ConfigurationProfileId"],
        Content=json.dumps(document).encode(),
        ContentType="application/json",
        **extra,
    )
    return response


# -- item 3: the poll interval ----------------------------------------------------------------------------


def test_polling_before_the_interval_is_bad_request_and_the_token_still_works_after(
    server: LocalStack, remote: Remote, clock: ManualClock
) -> None:
    # Given a session on the provisioned toggles with a 15 s poll interval, polled once
    data = remote("appconfigdata")
    out = server.outputs
    token = data.start_configuration_session(
        ApplicationIdentifier=out["AppConfigApplicationId"],
        EnvironmentIdentifier=out["AppConfigEnvironmentId"],
        ConfigurationProfileIdentifier=out["AppConfigProfileId"],
        RequiredMinimumPollIntervalInSeconds=15,
    )["InitialConfigurationToken"]
    first = data.get_latest_configuration(ConfigurationToken=token)
    next_token = first["NextPollConfigurationToken"]

    # When it polls again at once, and then once 15 s have passed on the stack's clock
    with pytest.raises(ClientError) as early:
        data.get_latest_configuration(ConfigurationToken=next_token)
    clock.advance(15)
    on_time = data.get_latest_configuration(ConfigurationToken=next_token)

    # Then the early poll is AWS's BadRequestException (PollIntervalNotSatisfied), the same token works once
    # the interval has passed, and its empty body ("unchanged") is typed as a blob, not text/html
    error = early.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "BadRequestException"
    assert error["Reason"] == "InvalidParameters"
    assert error["Details"] == {
        "InvalidParameters": {"ConfigurationToken": {"Problem": "PollIntervalNotSatisfied"}}
    }
    assert first["Configuration"].read()
    assert on_time["Configuration"].read() == b""
    assert on_time["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/octet-stream"


# -- item 4: the control plane ----------------------------------------------------------------------------


def test_list_applications_and_hosted_versions(server: LocalStack, remote: Remote) -> None:
    # Given the provisioned application and its toggles profile with its hosted version
    appconfig = remote("appconfig")
    out = server.outputs

    # When they are listed
    apps = appconfig.list_applications()["Items"]
    versions = appconfig.list_hosted_configuration_versions(
        ApplicationId=out["AppConfigApplicationId"], ConfigurationProfileId=out["AppConfigProfileId"]
    )["Items"]

    # Then the application and the version are there, in AWS's summary shapes
    assert out["AppConfigApplicationId"] in [a["Id"] for a in apps]
    assert versions
    assert {"ApplicationId", "ConfigurationProfileId", "VersionNumber", "ContentType"} <= set(versions[0])


def test_start_deployment_by_version_label(
    remote: Remote, fresh_profile: dict[str, str], server: LocalStack
) -> None:
    # Given two hosted versions, the first labelled "toggles-v1"
    appconfig = remote("appconfig")
    first = host(appconfig, fresh_profile, {"kill_switch": False}, VersionLabel="toggles-v1")
    host(appconfig, fresh_profile, {"kill_switch": True})

    # When a deployment names the label instead of a number
    deployment = appconfig.start_deployment(
        **fresh_profile,
        DeploymentStrategyId=server.outputs["AppConfigImmediateStrategyId"],
        ConfigurationVersion="toggles-v1",
    )

    # Then the labelled version is deployed, as on AWS
    assert deployment["ConfigurationVersion"] == str(first["VersionNumber"])
    assert deployment["VersionLabel"] == "toggles-v1"


def test_latest_version_number_is_an_optimistic_lock(remote: Remote, fresh_profile: dict[str, str]) -> None:
    # Given a profile whose latest hosted version is 2
    appconfig = remote("appconfig")
    host(appconfig, fresh_profile, {"v": 1})
    host(appconfig, fresh_profile, {"v": 2})

    # When a writer who read version 1 creates a version, and one who read version 2 does
    with pytest.raises(ClientError) as stale:
        host(appconfig, fresh_profile, {"v": "stale"}, LatestVersionNumber=1)
    fresh = host(appconfig, fresh_profile, {"v": 3}, LatestVersionNumber=2)
    listed = appconfig.list_hosted_configuration_versions(
        ApplicationId=fresh_profile["ApplicationId"],
        ConfigurationProfileId=fresh_profile["ConfigurationProfileId"],
    )["Items"]

    # Then the stale one is a ConflictException and stores nothing; the current one is version 3
    assert stale.value.response["Error"]["Code"] == "ConflictException"
    assert fresh["VersionNumber"] == 3
    assert sorted(v["VersionNumber"] for v in listed) == [1, 2, 3]


def test_absent_description_and_label_are_absent(remote: Remote, fresh_profile: dict[str, str]) -> None:
    # Given a hosted version created without Description and VersionLabel
    appconfig = remote("appconfig")
    created = host(appconfig, fresh_profile, {"plain": True})

    # When it is read back
    read = appconfig.get_hosted_configuration_version(
        ApplicationId=fresh_profile["ApplicationId"],
        ConfigurationProfileId=fresh_profile["ConfigurationProfileId"],
        VersionNumber=created["VersionNumber"],
    )

    # Then neither field is there (moto sent the string "None")
    for response in (created, read):
        assert "Description" not in response
        assert "VersionLabel" not in response


def test_profiles_report_type_and_validator_types(server: LocalStack, remote: Remote) -> None:
    # Given the template's toggles profile (two validators) and a profile created without a Type
    appconfig = remote("appconfig")
    app_id = server.outputs["AppConfigApplicationId"]
    bare = appconfig.create_configuration_profile(
        ApplicationId=app_id, Name="fidelity-bare", LocationUri="hosted"
    )

    # When they are read and listed
    got = appconfig.get_configuration_profile(ApplicationId=app_id, ConfigurationProfileId=bare["Id"])
    items = {p["Id"]: p for p in appconfig.list_configuration_profiles(ApplicationId=app_id)["Items"]}

    # Then Type defaults to AWS.Freeform and list summaries carry ValidatorTypes
    assert got["Type"] == "AWS.Freeform"
    assert items[bare["Id"]]["ValidatorTypes"] == []
    toggles = items[server.outputs["AppConfigProfileId"]]
    assert toggles["Type"] == "AWS.Freeform"
    assert sorted(toggles["ValidatorTypes"]) == ["JSON_SCHEMA", "LAMBDA"]


def test_the_agent_endpoint_sends_configuration_version(server: LocalStack, remote: Remote) -> None:
    # Given the toggles deployed by the template (deployment 1 of the provisioned environment)
    out = server.outputs
    deployed = remote("appconfig").get_deployment(
        ApplicationId=out["AppConfigApplicationId"],
        EnvironmentId=out["AppConfigEnvironmentId"],
        DeploymentNumber=1,
    )

    # When the agent endpoint is asked for them, as the AppConfig agent is
    url = (
        f"{server.agent_url}/applications/{out['AppConfigApplicationId']}/environments/"
        f"{out['AppConfigEnvironmentId']}/configurations/{out['AppConfigProfileId']}"
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        headers = response.headers
        body = response.read()

    # Then it answers the content with the Configuration-Version header of the agent API
    assert json.loads(body)
    assert headers["Configuration-Version"] == deployed["ConfigurationVersion"]


def test_the_deployer_creates_versions_under_the_latest_version_lock(
    server: LocalStack, remote: Remote, fresh_profile: dict[str, str]
) -> None:
    # Given the deployer on a profile with one version, which it reads before computing a change
    appconfig = remote("appconfig")
    out = server.outputs
    deployer = AppConfigDeployer(
        appconfig,
        AppConfigTarget(
            application_id=fresh_profile["ApplicationId"],
            environment_id=fresh_profile["EnvironmentId"],
            profile_id=fresh_profile["ConfigurationProfileId"],
            immediate_strategy_id=out["AppConfigImmediateStrategyId"],
            gradual_strategy_id=out["AppConfigGradualStrategyId"],
        ),
    )
    host(appconfig, fresh_profile, {"v": 1})
    read = deployer.latest_hosted_version()

    # When another writer creates a version before the deployer writes its change, and the deployer then
    # computes again from the new latest version
    host(appconfig, fresh_profile, {"v": "other writer"})
    with pytest.raises(DeploymentConflictError) as conflict:
        deployer.create_version({"v": "computed from 1"}, "stale change", expect_latest=read)
    again = deployer.latest_hosted_version()
    created = deployer.create_version({"v": "computed from 2"}, "fresh change", expect_latest=again)

    # Then the stale write is refused by AppConfig itself (a real compare-and-set) and the fresh one lands
    assert read == 1
    assert "computed again" in str(conflict.value)
    assert (again, created) == (2, 3)
