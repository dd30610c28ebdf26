"""AppConfig control plane on the local stack: environments, strategies, deployments, validators."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.integration.appconfig.appconfig_world import World, error_fields

from failsafe_tools.local.appconfig import tick
from failsafe_tools.local.clock import ManualClock


def _events(deployment: dict[str, Any]) -> list[str]:
    return [event["EventType"] for event in deployment["EventLog"]]


def test_linear_deployment_progresses_on_the_clock_to_complete(world: World, clock: ManualClock) -> None:
    # Given a linear strategy: 25% steps over 4 minutes, then 2 minutes of bake
    strategy = world.strategy(duration=4, growth=25, bake=2)
    version = world.host({"kill_switch": False, "exposure_percent": 100}, label="v1")

    # When the deployment starts and the clock moves through the rollout
    started = world.deploy(version, strategy)
    seen = {}
    for minute in (1, 2, 3):
        clock.advance(60)
        seen[minute] = world.deployment(1)["PercentageComplete"]
    clock.advance(60)
    baking = world.deployment(1)
    env_while_baking = world.client.get_environment(ApplicationId=world.app_id, EnvironmentId=world.env_id)
    clock.advance(120)
    done = world.deployment(1)

    # Then each interval adds 25%, the bake follows 100%, and the deployment completes at 6 minutes
    assert started["State"] == "DEPLOYING"
    assert started["PercentageComplete"] == 25.0
    assert started["ConfigurationName"] == "toggles"
    assert started["VersionLabel"] == "v1"
    assert seen == {1: 50.0, 2: 75.0, 3: 100.0}
    assert baking["State"] == "BAKING"
    assert env_while_baking["State"] == "DEPLOYING"
    assert done["State"] == "COMPLETE"
    assert (done["CompletedAt"] - done["StartedAt"]).total_seconds() == 360
    assert _events(done) == [
        "DEPLOYMENT_COMPLETED",
        "BAKE_TIME_STARTED",
        "PERCENTAGE_UPDATED",
        "PERCENTAGE_UPDATED",
        "PERCENTAGE_UPDATED",
        "PERCENTAGE_UPDATED",
        "DEPLOYMENT_STARTED",
    ]
    env = world.client.get_environment(ApplicationId=world.app_id, EnvironmentId=world.env_id)
    assert env["State"] == "READY_FOR_DEPLOYMENT"


def test_exponential_strategy_doubles_the_growth_factor_each_interval(
    world: World, clock: ManualClock
) -> None:
    # Given an exponential strategy with growth factor 10 over 20 minutes (10, 20, 40, 80, 100 %)
    strategy = world.strategy(duration=20, growth=10, bake=0, growth_type="EXPONENTIAL")
    version = world.host({"kill_switch": False, "exposure_percent": 50})

    # When the clock passes each of the five 4-minute intervals
    world.deploy(version, strategy)
    percentages = [world.deployment(1)["PercentageComplete"]]
    for _ in range(4):
        clock.advance(240)
        percentages.append(world.deployment(1)["PercentageComplete"])
    clock.advance(240)

    # Then the percentage doubles each step, and with no bake the deployment is COMPLETE at 20 minutes
    assert percentages == [10.0, 20.0, 40.0, 80.0, 100.0]
    assert world.deployment(1)["State"] == "COMPLETE"


def test_tick_advances_deployments_without_a_read(world: World, clock: ManualClock) -> None:
    # Given an all-at-once deployment (10 minutes of bake)
    world.deploy(world.host({"kill_switch": True, "exposure_percent": 0}))

    # When the bake time passes and only tick() observes it
    clock.advance(600)
    changed = tick()

    # Then tick reports the completed deployment
    assert [(d.deployment_number, d.state) for d in changed] == [(1, "COMPLETE")]


@pytest.mark.parametrize("phase_seconds", [30, 90], ids=["during-rollout", "during-bake"])
def test_monitor_alarm_in_alarm_rolls_the_deployment_back(
    world: World, clock: ManualClock, cloudwatch: Any, phase_seconds: int
) -> None:
    # Given a deployment of Linear50PercentEvery30Seconds (1 minute rollout, 1 minute bake)
    world.deploy(
        world.host({"kill_switch": False, "exposure_percent": 10}), "AppConfig.Linear50PercentEvery30Seconds"
    )
    clock.advance(phase_seconds)

    # When the environment's monitor alarm goes into ALARM
    cloudwatch.set_alarm_state(AlarmName="p1-errors", StateValue="ALARM", StateReason="errors spiked")
    clock.advance(1)
    rolled = world.deployment(1)

    # Then the deployment is ROLLED_BACK, the event log names the alarm, and the environment says so
    assert rolled["State"] == "ROLLED_BACK"
    assert rolled["EventLog"][1]["EventType"] == "ROLLBACK_STARTED"
    assert rolled["EventLog"][1]["TriggeredBy"] == "CLOUDWATCH_ALARM"
    assert world.alarm_arn in rolled["EventLog"][1]["Description"]
    assert rolled["EventLog"][0]["EventType"] == "ROLLBACK_COMPLETED"
    env = world.client.get_environment(ApplicationId=world.app_id, EnvironmentId=world.env_id)
    assert env["State"] == "ROLLED_BACK"


def test_alarm_after_completion_does_not_roll_back(world: World, clock: ManualClock, cloudwatch: Any) -> None:
    # Given an all-at-once deployment that finished its bake
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 10}))
    clock.advance(600)
    assert world.deployment(1)["State"] == "COMPLETE"

    # When the monitor alarm fires afterwards
    cloudwatch.set_alarm_state(AlarmName="p1-errors", StateValue="ALARM", StateReason="late")

    # Then the completed deployment is no longer eligible for automatic rollback
    assert world.deployment(1)["State"] == "COMPLETE"


def test_second_deployment_while_one_is_in_progress_is_a_conflict(world: World, clock: ManualClock) -> None:
    # Given a deployment in its bake time
    version = world.host({"kill_switch": False, "exposure_percent": 10})
    world.deploy(version)

    # When a second deployment targets the same environment
    with pytest.raises(ClientError) as conflict:
        world.deploy(version)

    # Then AWS's ConflictException comes back, and after the bake a new deployment is accepted
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    clock.advance(600)
    assert world.deploy(version)["DeploymentNumber"] == 2


def test_json_schema_validator_rejects_a_bad_document_with_its_message(world: World) -> None:
    # Given a hosted version that breaks the profile's JSON Schema
    version = world.host({"kill_switch": "yes", "exposure_percent": 10})

    # When it is deployed
    with pytest.raises(ClientError) as rejected:
        world.deploy(version)

    # Then StartDeployment fails with BadRequestException carrying the validator's message
    error = rejected.value.response
    assert error["Error"]["Code"] == "BadRequestException"
    assert "'yes' is not of type 'boolean'" in error["Error"]["Message"]
    assert error_fields(rejected.value)["Reason"] == "InvalidConfiguration"
    detail = error_fields(rejected.value)["Details"]["InvalidConfiguration"][0]
    assert detail["Type"] == "JSON_SCHEMA"
    assert detail["Location"] == "$.kill_switch"
    listed = world.client.list_deployments(ApplicationId=world.app_id, EnvironmentId=world.env_id)
    assert listed["Items"] == []


def test_validate_configuration_runs_the_same_validators(world: World) -> None:
    # Given one valid and one invalid hosted version
    good = world.host({"kill_switch": False, "exposure_percent": 5})
    bad = world.host({"kill_switch": False})

    # When ValidateConfiguration checks both
    world.client.validate_configuration(
        ApplicationId=world.app_id, ConfigurationProfileId=world.profile_id, ConfigurationVersion=good
    )
    with pytest.raises(ClientError) as rejected:
        world.client.validate_configuration(
            ApplicationId=world.app_id, ConfigurationProfileId=world.profile_id, ConfigurationVersion=bad
        )

    # Then only the invalid one is rejected
    assert "'exposure_percent' is a required property" in rejected.value.response["Error"]["Message"]


def test_stop_deployment_in_progress_rolls_back(world: World, clock: ManualClock) -> None:
    # Given a deployment halfway through a linear rollout
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 10}), world.strategy(10, 20, 5))
    clock.advance(120)

    # When the operator stops it
    stopped = world.client.stop_deployment(
        ApplicationId=world.app_id, EnvironmentId=world.env_id, DeploymentNumber=1
    )

    # Then it is ROLLED_BACK by the user (202, as AWS answers StopDeployment)
    assert stopped["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert stopped["State"] == "ROLLED_BACK"
    assert stopped["PercentageComplete"] == 40.0
    assert stopped["EventLog"][1]["TriggeredBy"] == "USER"


def test_stop_completed_deployment_with_allow_revert_reverts(world: World, clock: ManualClock) -> None:
    # Given a completed deployment
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 10}))
    clock.advance(600)

    # When it is stopped without, then with AllowRevert
    with pytest.raises(ClientError) as refused:
        world.client.stop_deployment(
            ApplicationId=world.app_id, EnvironmentId=world.env_id, DeploymentNumber=1
        )
    reverted = world.client.stop_deployment(
        ApplicationId=world.app_id, EnvironmentId=world.env_id, DeploymentNumber=1, AllowRevert=True
    )

    # Then only AllowRevert reverts it, and the environment is REVERTED
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert reverted["State"] == "REVERTED"
    assert reverted["EventLog"][0]["EventType"] == "REVERT_COMPLETED"
    env = world.client.get_environment(ApplicationId=world.app_id, EnvironmentId=world.env_id)
    assert env["State"] == "REVERTED"


def test_revert_is_refused_after_72_hours(world: World, clock: ManualClock) -> None:
    # Given a deployment that completed more than 72 hours ago
    world.deploy(world.host({"kill_switch": False, "exposure_percent": 10}))
    clock.advance(600 + 72 * 3600 + 1)

    # When it is reverted
    with pytest.raises(ClientError) as refused:
        world.client.stop_deployment(
            ApplicationId=world.app_id, EnvironmentId=world.env_id, DeploymentNumber=1, AllowRevert=True
        )

    # Then AWS's 72-hour revert window applies
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert "72 hours" in refused.value.response["Error"]["Message"]


def test_environments_and_strategies_crud(appconfig: Any) -> None:
    # Given an application
    app_id = appconfig.create_application(Name="crud")["Id"]

    # When environments and a strategy are created, listed, updated and deleted
    env = appconfig.create_environment(
        ApplicationId=app_id, Name="staging", Description="pre-prod", Tags={"t": "1"}
    )
    appconfig.create_environment(ApplicationId=app_id, Name="prod")
    updated = appconfig.update_environment(
        ApplicationId=app_id,
        EnvironmentId=env["Id"],
        Monitors=[{"AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x"}],
    )
    page = appconfig.list_environments(ApplicationId=app_id, MaxResults=1)
    rest = appconfig.list_environments(ApplicationId=app_id, NextToken=page["NextToken"])
    strategy = appconfig.create_deployment_strategy(
        Name="slow", DeploymentDurationInMinutes=30, GrowthFactor=10, FinalBakeTimeInMinutes=15
    )
    changed = appconfig.update_deployment_strategy(
        DeploymentStrategyId=strategy["Id"], GrowthType="EXPONENTIAL", GrowthFactor=20
    )
    names = [s["Name"] for s in appconfig.list_deployment_strategies()["Items"]]
    appconfig.delete_deployment_strategy(DeploymentStrategyId=strategy["Id"])
    appconfig.delete_environment(ApplicationId=app_id, EnvironmentId=env["Id"])

    # Then every call answers in AWS's shapes
    assert env["State"] == "READY_FOR_DEPLOYMENT"
    assert env["Description"] == "pre-prod"
    assert updated["Monitors"] == [{"AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x"}]
    assert [e["Name"] for e in page["Items"] + rest["Items"]] == ["staging", "prod"]
    assert "NextToken" not in rest
    assert strategy["GrowthType"] == "LINEAR"
    assert strategy["ReplicateTo"] == "NONE"
    assert (changed["GrowthType"], changed["GrowthFactor"], changed["DeploymentDurationInMinutes"]) == (
        "EXPONENTIAL",
        20.0,
        30,
    )
    assert {
        "AppConfig.AllAtOnce",
        "AppConfig.Linear50PercentEvery30Seconds",
        "AppConfig.Canary10Percent20Minutes",
        "AppConfig.Linear20PercentEvery6Minutes",
        "slow",
    } <= set(names)
    assert [e["Name"] for e in appconfig.list_environments(ApplicationId=app_id)["Items"]] == ["prod"]
    canary = appconfig.get_deployment_strategy(DeploymentStrategyId="AppConfig.Canary10Percent20Minutes")
    assert (canary["GrowthType"], canary["GrowthFactor"], canary["DeploymentDurationInMinutes"]) == (
        "EXPONENTIAL",
        10.0,
        20,
    )


@pytest.mark.parametrize(
    ("call", "code", "status"),
    [
        ("create_env_unknown_app", "ResourceNotFoundException", 404),
        ("get_unknown_env", "ResourceNotFoundException", 404),
        ("get_unknown_deployment", "ResourceNotFoundException", 404),
        ("deploy_unknown_strategy", "ResourceNotFoundException", 404),
        ("deploy_unknown_version", "ResourceNotFoundException", 404),
        ("strategy_growth_above_100", "BadRequestException", 400),
        ("delete_predefined_strategy", "BadRequestException", 400),
        ("stale_latest_deployment_number", "ConflictException", 409),
    ],
)
def test_bad_requests_get_aws_error_codes(world: World, call: str, code: str, status: int) -> None:
    # Given the world and one bad request
    client = world.client
    version = world.host({"kill_switch": False, "exposure_percent": 1})
    calls = {
        "create_env_unknown_app": lambda: client.create_environment(ApplicationId="nope123", Name="x"),
        "get_unknown_env": lambda: client.get_environment(
            ApplicationId=world.app_id, EnvironmentId="nope123"
        ),
        "get_unknown_deployment": lambda: world.deployment(42),
        "deploy_unknown_strategy": lambda: world.deploy(version, "abc1234"),
        "deploy_unknown_version": lambda: world.deploy("99"),
        "strategy_growth_above_100": lambda: client.create_deployment_strategy(
            Name="bad", DeploymentDurationInMinutes=1, GrowthFactor=150
        ),
        "delete_predefined_strategy": lambda: client.delete_deployment_strategy(
            DeploymentStrategyId="AppConfig.AllAtOnce"
        ),
        "stale_latest_deployment_number": lambda: client.start_deployment(
            ApplicationId=world.app_id,
            EnvironmentId=world.env_id,
            DeploymentStrategyId="AppConfig.AllAtOnce",
            ConfigurationProfileId=world.profile_id,
            ConfigurationVersion=version,
            LatestDeploymentNumber=7,
        ),
    }

    # When it is sent
    with pytest.raises(ClientError) as error:
        calls[call]()

    # Then botocore raises AWS's error code with AWS's HTTP status
    assert error.value.response["Error"]["Code"] == code
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
