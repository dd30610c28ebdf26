"""End to end on the embedded local AWS (`LocalStack`, provisioned from template.yaml): toggles
deployed through AppConfig reach the recommender through the `appconfigdata` source, in-process and in the
RecommenderFunction Lambda, and its EMF lines become CloudWatch metrics in both dimension sets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from failsafe.client import AppConfigDataSource, ToggleClient
from failsafe.domain import metrics as contract
from failsafe.domain.baselines import baseline
from failsafe.domain.toggles import Metadata, ToggleDocument
from failsafe.recommender.handler import configure_runtime
from failsafe.recommender.models import RecommendationResponse
from failsafe.recommender.service import Recommender
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    clock = ManualClock()
    with LocalStack.start(TEMPLATE, clock=clock, ticker=False, agent=False) as running:
        configure_runtime(timestamp=clock.time, sleep=clock.sleep, monotonic=clock.time)
        try:
            yield running
        finally:
            configure_runtime()


def _deploy(stack: LocalStack, name: str, version: int) -> None:
    outputs = stack.outputs
    appconfig = stack.client("appconfig")
    body = (
        ToggleDocument(
            metadata=Metadata(
                version=version, environment=outputs["EnvironmentName"], author="e2e", reason="e2e"
            ),
            toggles=baseline(name),
        )
        .model_dump_json()
        .encode()
    )
    hosted = appconfig.create_hosted_configuration_version(
        ApplicationId=outputs["AppConfigApplicationId"],
        ConfigurationProfileId=outputs["AppConfigProfileId"],
        Content=body,
        ContentType="application/json",
    )
    deployment = appconfig.start_deployment(
        ApplicationId=outputs["AppConfigApplicationId"],
        EnvironmentId=outputs["AppConfigEnvironmentId"],
        DeploymentStrategyId=outputs["AppConfigImmediateStrategyId"],
        ConfigurationProfileId=outputs["AppConfigProfileId"],
        ConfigurationVersion=str(hosted["VersionNumber"]),
    )
    stack.tick(60)
    state = appconfig.get_deployment(
        ApplicationId=outputs["AppConfigApplicationId"],
        EnvironmentId=outputs["AppConfigEnvironmentId"],
        DeploymentNumber=deployment["DeploymentNumber"],
    )["State"]
    assert state == "COMPLETE"


def _invoke(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs["RecommenderFunctionName"], Payload=json.dumps(event).encode()
    )
    assert "FunctionError" not in response
    payload: dict[str, Any] = json.loads(response["Payload"].read())
    return payload


def test_kill_switch_through_appconfig_reaches_the_next_poll(stack: LocalStack) -> None:
    # Given the normal toggles deployed through AppConfig and a client on the appconfigdata source
    outputs = stack.outputs
    clock = stack.clock
    _deploy(stack, "normal", version=1)
    source = AppConfigDataSource(
        stack.client("appconfigdata"),
        outputs["AppConfigApplicationId"],
        outputs["AppConfigEnvironmentId"],
        outputs["AppConfigProfileId"],
        required_minimum_poll_interval=15,
        clock=clock.time,
    )
    client = ToggleClient(
        source,
        service=outputs["ServiceName"],
        environment=outputs["EnvironmentName"],
        clock=clock.time,
        wall_clock=clock.time,
    )
    assert client.refresh().value == "applied"
    recommender = Recommender(
        client, service=outputs["ServiceName"], environment=outputs["EnvironmentName"], emf_sink=None
    )
    users = [{"user_id": f"u{n:05d}", "region": "eu-west-1"} for n in range(0, 5000, 25)]
    assert {recommender.recommend(u).reason for u in users} == {"primary"}
    # When the emergency baseline is deployed with the immediate strategy and the client polls next
    _deploy(stack, "emergency", version=2)
    outcome = client.refresh().value
    # Then that poll applies it and 100 % of requests are on the emergency baseline, 100 % filled
    assert outcome == "applied"
    responses = [RecommendationResponse.model_validate(recommender.recommend(u).model_dump()) for u in users]
    assert all((r.reason, r.policy, r.config_version) == ("kill_switch", "popularity", 2) for r in responses)
    assert all(r.k_returned == r.k for r in responses)


def test_recommender_lambda_follows_appconfig_and_emits_metrics(stack: LocalStack) -> None:
    # Given the normal toggles and the RecommenderFunction of template.yaml
    _deploy(stack, "normal", version=3)
    first = RecommendationResponse.model_validate(
        _invoke(stack, {"user_id": "u00001", "region": "eu-west-1"})
    )
    assert (first.reason, first.config_version) == ("primary", 3)
    # When the kill switch is deployed and one poll interval passes
    _deploy(stack, "emergency", version=4)
    after = RecommendationResponse.model_validate(
        _invoke(stack, {"user_id": "u00001", "region": "eu-west-1"})
    )
    # Then the Lambda serves the emergency baseline in full
    assert (after.reason, after.policy, after.config_version, after.k_returned) == (
        "kill_switch",
        "popularity",
        4,
        10,
    )
    # And its EMF lines became CloudWatch metrics in both dimension sets of the contract
    metrics = stack.client("cloudwatch").list_metrics(
        Namespace=contract.NAMESPACE, MetricName=contract.FILL_RATE
    )
    dimension_sets = {tuple(sorted(d["Name"] for d in m["Dimensions"])) for m in metrics["Metrics"]}
    assert tuple(sorted(contract.SERVICE_DIMENSIONS)) in dimension_sets
    assert tuple(sorted(contract.REGION_DIMENSIONS)) in dimension_sets
