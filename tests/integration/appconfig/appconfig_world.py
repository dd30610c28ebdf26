"""Helpers of this folder's tests; fixtures are in conftest.py (tests import from here, never a conftest)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

REGION = "us-east-1"


ACCOUNT = "123456789012"


TOGGLES_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["kill_switch", "exposure_percent"],
    "properties": {
        "kill_switch": {"type": "boolean"},
        "exposure_percent": {"type": "integer", "minimum": 0, "maximum": 100},
    },
}


def error_fields(error: ClientError) -> dict[str, Any]:
    """The whole parsed error response, including members beyond Error (Reason, Details, ResourceType)."""
    return dict(error.response)


@dataclass
class World:
    """Application `recommender`, environment `prod` (monitored by alarm `p1-errors`), profile `toggles`."""

    client: Any
    app_id: str
    env_id: str
    profile_id: str
    alarm_arn: str

    def host(self, document: dict[str, Any] | str, label: str | None = None) -> str:
        body = document if isinstance(document, str) else json.dumps(document)
        kwargs: dict[str, Any] = {"VersionLabel": label} if label else {}
        version = self.client.create_hosted_configuration_version(
            ApplicationId=self.app_id,
            ConfigurationProfileId=self.profile_id,
            Content=body.encode(),
            ContentType="application/json",
            **kwargs,
        )
        return str(version["VersionNumber"])

    def deploy(self, version: str, strategy: str = "AppConfig.AllAtOnce") -> dict[str, Any]:
        response: dict[str, Any] = self.client.start_deployment(
            ApplicationId=self.app_id,
            EnvironmentId=self.env_id,
            DeploymentStrategyId=strategy,
            ConfigurationProfileId=self.profile_id,
            ConfigurationVersion=version,
        )
        return response

    def deployment(self, number: int) -> dict[str, Any]:
        response: dict[str, Any] = self.client.get_deployment(
            ApplicationId=self.app_id, EnvironmentId=self.env_id, DeploymentNumber=number
        )
        return response

    def strategy(self, duration: int, growth: float, bake: int, growth_type: str = "LINEAR") -> str:
        return str(
            self.client.create_deployment_strategy(
                Name=f"s-{growth_type}-{duration}-{growth}-{bake}",
                DeploymentDurationInMinutes=duration,
                GrowthFactor=growth,
                GrowthType=growth_type,
                FinalBakeTimeInMinutes=bake,
                ReplicateTo="NONE",
            )["Id"]
        )
