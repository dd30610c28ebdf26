"""HTTP layer for the added AppConfig operations and for AppConfig Data, in moto's style.

Both classes let moto parse requests and serialize responses and errors from botocore's own service
models (`automated_parameter_parsing` + `ActionResult`), so shapes, status codes and headers are
what boto3 expects from AWS.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult, BaseResponse, EmptyResult

from .models import FailsafeAppConfigBackend


def _backend(account_id: str, region: str) -> FailsafeAppConfigBackend:
    from moto.appconfig.models import appconfig_backends

    backend = appconfig_backends[account_id][region]
    if not isinstance(backend, FailsafeAppConfigBackend):
        raise RuntimeError(
            "moto's appconfig backend is not failsafe's: call failsafe_tools.local.appconfig.install() first"
        )
    return backend


class AppConfigControlResponse(BaseResponse):
    """Environments, deployment strategies, deployments and ValidateConfiguration."""

    def __init__(self) -> None:
        super().__init__(service_name="appconfig")
        self.automated_parameter_parsing = True

    @property
    def backend(self) -> FailsafeAppConfigBackend:
        return _backend(self.current_account, self.region)

    # environments
    def create_environment(self) -> ActionResult:
        return ActionResult(
            self.backend.create_environment(
                application_id=self._get_param("ApplicationId"),
                name=self._get_param("Name"),
                description=self._get_param("Description"),
                monitors=self._get_param("Monitors"),
                tags=self._get_param("Tags"),
            )
        )

    def get_environment(self) -> ActionResult:
        return ActionResult(
            self.backend.get_environment(self._get_param("ApplicationId"), self._get_param("EnvironmentId"))
        )

    def list_environments(self) -> ActionResult:
        return ActionResult(
            self.backend.list_environments(
                self._get_param("ApplicationId"), self._get_param("MaxResults"), self._get_param("NextToken")
            )
        )

    def update_environment(self) -> ActionResult:
        return ActionResult(
            self.backend.update_environment(
                application_id=self._get_param("ApplicationId"),
                environment_id=self._get_param("EnvironmentId"),
                name=self._get_param("Name"),
                description=self._get_param("Description"),
                monitors=self._get_param("Monitors"),
            )
        )

    def delete_environment(self) -> ActionResult:
        self.backend.delete_environment(self._get_param("ApplicationId"), self._get_param("EnvironmentId"))
        return EmptyResult()

    # deployment strategies
    def create_deployment_strategy(self) -> ActionResult:
        return ActionResult(
            self.backend.create_deployment_strategy(
                name=self._get_param("Name"),
                description=self._get_param("Description"),
                deployment_duration_in_minutes=self._get_param("DeploymentDurationInMinutes"),
                final_bake_time_in_minutes=self._get_param("FinalBakeTimeInMinutes"),
                growth_factor=self._get_param("GrowthFactor"),
                growth_type=self._get_param("GrowthType"),
                replicate_to=self._get_param("ReplicateTo"),
                tags=self._get_param("Tags"),
            )
        )

    def get_deployment_strategy(self) -> ActionResult:
        return ActionResult(self.backend.get_deployment_strategy(self._get_param("DeploymentStrategyId")))

    def list_deployment_strategies(self) -> ActionResult:
        return ActionResult(
            self.backend.list_deployment_strategies(
                self._get_param("MaxResults"), self._get_param("NextToken")
            )
        )

    def update_deployment_strategy(self) -> ActionResult:
        return ActionResult(
            self.backend.update_deployment_strategy(
                strategy_id=self._get_param("DeploymentStrategyId"),
                description=self._get_param("Description"),
                deployment_duration_in_minutes=self._get_param("DeploymentDurationInMinutes"),
                final_bake_time_in_minutes=self._get_param("FinalBakeTimeInMinutes"),
                growth_factor=self._get_param("GrowthFactor"),
                growth_type=self._get_param("GrowthType"),
            )
        )

    def delete_deployment_strategy(self) -> ActionResult:
        self.backend.delete_deployment_strategy(self._get_param("DeploymentStrategyId"))
        return EmptyResult()

    # deployments
    def start_deployment(self) -> ActionResult:
        return ActionResult(
            self.backend.start_deployment(
                application_id=self._get_param("ApplicationId"),
                environment_id=self._get_param("EnvironmentId"),
                deployment_strategy_id=self._get_param("DeploymentStrategyId"),
                configuration_profile_id=self._get_param("ConfigurationProfileId"),
                configuration_version=self._get_param("ConfigurationVersion"),
                description=self._get_param("Description"),
                tags=self._get_param("Tags"),
                latest_deployment_number=self._get_param("LatestDeploymentNumber"),
            )
        )

    def get_deployment(self) -> ActionResult:
        return ActionResult(
            self.backend.get_deployment(
                self._get_param("ApplicationId"),
                self._get_param("EnvironmentId"),
                int(self._get_param("DeploymentNumber")),
            )
        )

    def list_deployments(self) -> ActionResult:
        return ActionResult(
            self.backend.list_deployments(
                self._get_param("ApplicationId"),
                self._get_param("EnvironmentId"),
                self._get_param("MaxResults"),
                self._get_param("NextToken"),
            )
        )

    def stop_deployment(self) -> ActionResult:
        return ActionResult(
            self.backend.stop_deployment(
                self._get_param("ApplicationId"),
                self._get_param("EnvironmentId"),
                int(self._get_param("DeploymentNumber")),
                bool(self._get_param("AllowRevert", False)),
            )
        )

    def validate_configuration(self) -> ActionResult:
        self.backend.validate_configuration(
            self._get_param("ApplicationId"),
            self._get_param("ConfigurationProfileId"),
            self._get_param("ConfigurationVersion"),
        )
        return EmptyResult()


class AppConfigDataResponse(BaseResponse):
    """The `appconfigdata` data plane: StartConfigurationSession and GetLatestConfiguration."""

    def __init__(self) -> None:
        super().__init__(service_name="appconfigdata")
        self.automated_parameter_parsing = True

    @property
    def backend(self) -> FailsafeAppConfigBackend:
        return _backend(self.current_account, self.region)

    def start_configuration_session(self) -> ActionResult:
        token = self.backend.start_configuration_session(
            self._get_param("ApplicationIdentifier"),
            self._get_param("EnvironmentIdentifier"),
            self._get_param("ConfigurationProfileIdentifier"),
            self._get_param("RequiredMinimumPollIntervalInSeconds"),
        )
        return ActionResult({"InitialConfigurationToken": token})

    def get_latest_configuration(self) -> ActionResult:
        latest = self.backend.get_latest_configuration(self._get_param("ConfigurationToken"))
        result: dict[str, Any] = {
            "NextPollConfigurationToken": latest.next_token,
            "NextPollIntervalInSeconds": latest.next_poll_interval,
            "Configuration": latest.configuration,
        }
        if latest.content_type:
            result["ContentType"] = latest.content_type
        if latest.version_label:
            result["VersionLabel"] = latest.version_label
        return ActionResult(result)
