"""HTTP layer for the added AppConfig operations and for AppConfig Data, in moto's style.

Both classes let moto parse requests and serialize responses and errors from botocore's own service
models (`automated_parameter_parsing` + `ActionResult`), so shapes, status codes and headers are
what boto3 expects from AWS.
"""

from __future__ import annotations

import json
from typing import Any

from moto.appconfig.responses import AppConfigResponse as MotoAppConfigResponse
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
        # an empty body ("no change since the last poll") is still a blob payload: AWS types it
        # application/octet-stream, never the server's default text/html
        result["ContentType"] = latest.content_type or "application/octet-stream"
        if latest.version_label:
            result["VersionLabel"] = latest.version_label
        return ActionResult(result)


class AppConfigCoreResponse(MotoAppConfigResponse):
    """moto's applications, profiles and hosted versions, with what moto lacks or answers differently:

    - `ListApplications` and `ListHostedConfigurationVersions` (moto has neither: a 500 before);
    - `CreateHostedConfigurationVersion` honours `LatestVersionNumber` (header `Latest-Version-Number`), the
      optimistic lock AWS documents: a number that is not the profile's latest version gets a
      ConflictException and nothing is stored; a `VersionLabel` must hold a non-numeric character;
    - absent `Description` / `VersionLabel` are absent headers (moto sent the string "None");
    - profiles report `Type` (default `AWS.Freeform`), and list summaries carry `ValidatorTypes`.
    """

    @property
    def failsafe_backend(self) -> FailsafeAppConfigBackend:
        return _backend(self.current_account, self.region)

    def list_applications(self) -> str:
        apps = list(self.appconfig_backend.applications.values())
        page, token = self.failsafe_backend._page(
            apps, self._get_int_param("max_results"), self._get_param("next_token")
        )
        body: dict[str, Any] = {
            "Items": [{k: v for k, v in app.to_json().items() if v is not None} for app in page]
        }
        if token:
            body["NextToken"] = token
        return json.dumps(body)

    def get_configuration_profile(self) -> str:
        profile = self.appconfig_backend.get_configuration_profile(
            self._get_param("ApplicationId"), self._get_param("ConfigurationProfileId")
        )
        return json.dumps(profile_json(profile))

    def list_configuration_profiles(self) -> str:
        app_id = self._get_param("ApplicationId")
        wanted = self._get_param("type")
        profiles = [
            p
            for p in self.appconfig_backend.list_configuration_profiles(app_id)
            if not wanted or profile_type(p) == wanted
        ]
        page, token = self.failsafe_backend._page(
            profiles, self._get_int_param("max_results"), self._get_param("next_token")
        )
        items = []
        for profile in page:
            full = profile_json(profile)
            summary = {
                key: full[key]
                for key in ("ApplicationId", "Id", "Name", "LocationUri", "Type")
                if full.get(key) is not None
            }
            summary["ValidatorTypes"] = [v["Type"] for v in profile.validators or []]
            items.append(summary)
        body: dict[str, Any] = {"Items": items}
        if token:
            body["NextToken"] = token
        return json.dumps(body)

    def create_hosted_configuration_version(self) -> tuple[str, dict[str, Any]]:
        latest = self.headers.get("Latest-Version-Number")
        version = self.failsafe_backend.create_hosted_version(
            application_id=self._get_param("ApplicationId"),
            profile_id=self._get_param("ConfigurationProfileId"),
            content=self.body,
            content_type=self.headers.get("Content-Type"),
            description=self.headers.get("Description"),
            version_label=self.headers.get("VersionLabel"),
            latest_version_number=int(latest) if latest not in (None, "") else None,
        )
        return version.content, hosted_headers(version)

    def get_hosted_configuration_version(self) -> tuple[str, dict[str, Any]]:
        version = self.appconfig_backend.get_hosted_configuration_version(
            app_id=self._get_param("ApplicationId"),
            config_profile_id=self._get_param("ConfigurationProfileId"),
            version=self._get_int_param("VersionNumber"),
        )
        return version.content, hosted_headers(version)

    def list_hosted_configuration_versions(self) -> str:
        profile = self.appconfig_backend.get_configuration_profile(
            self._get_param("ApplicationId"), self._get_param("ConfigurationProfileId")
        )
        label = self._get_param("version_label")
        versions = [
            v
            for _, v in sorted(profile.config_versions.items(), reverse=True)
            if label is None or v.version_label == label
        ]
        page, token = self.failsafe_backend._page(
            versions, self._get_int_param("max_results"), self._get_param("next_token")
        )
        items = []
        for version in page:
            item: dict[str, Any] = {
                "ApplicationId": version.app_id,
                "ConfigurationProfileId": version.config_id,
                "VersionNumber": version.version,
                "ContentType": version.content_type,
            }
            if version.description is not None:
                item["Description"] = version.description
            if version.version_label is not None:
                item["VersionLabel"] = version.version_label
            items.append(item)
        body: dict[str, Any] = {"Items": items}
        if token:
            body["NextToken"] = token
        return json.dumps(body)

    def _get_param(self, param_name: str, if_none: Any = None) -> Any:
        # ListApplications, ListConfigurationProfiles and ListHostedConfigurationVersions take their
        # paging and filter parameters from the query string (max_results, next_token, type, version_label)
        if param_name in ("max_results", "next_token", "type", "version_label"):
            return self.querystring.get(param_name, [if_none])[0]
        return super()._get_param(param_name, if_none)


DEFAULT_PROFILE_TYPE = "AWS.Freeform"


def profile_type(profile: Any) -> str:
    return str(getattr(profile, "_type", None) or DEFAULT_PROFILE_TYPE)


def profile_json(profile: Any) -> dict[str, Any]:
    """A configuration profile as GetConfigurationProfile answers it: absent fields absent, Type defaulted."""
    data = {k: v for k, v in profile.to_json().items() if v is not None}
    data["Type"] = profile_type(profile)
    data["Validators"] = list(profile.validators or [])
    return data


def hosted_headers(version: Any) -> dict[str, Any]:
    """The response headers of Create/GetHostedConfigurationVersion; an absent field is no header."""
    headers = {
        "Application-Id": version.app_id,
        "Configuration-Profile-Id": version.config_id,
        "Version-Number": str(version.version),
        "Content-Type": version.content_type,
    }
    if version.description is not None:
        headers["Description"] = version.description
    if version.version_label is not None:
        headers["VersionLabel"] = version.version_label
    return headers
