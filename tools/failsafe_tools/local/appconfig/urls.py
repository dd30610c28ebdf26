"""URL routes: moto's own AppConfig routes plus the added control-plane and AppConfig Data routes.

moto builds a backend's `urls` (in-process `mock_aws`) and `flask_paths` (moto server) from the
module returned by the backend's `_url_module`; `FailsafeAppConfigBackend` points it here.
AppConfig Data (endpoint prefix `appconfigdata`, signing name `appconfig`) is served by the same
backend: in-process through the extra URL base below, in server mode because moto's dispatcher picks
the backend from the signing name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.appconfig import urls as moto_appconfig_urls

from .responses import AppConfigControlResponse, AppConfigCoreResponse, AppConfigDataResponse

APPCONFIGDATA_URL_BASE = r"https?://appconfigdata\.(.+)\.amazonaws\.com"

url_bases: list[str] = [*moto_appconfig_urls.url_bases, APPCONFIGDATA_URL_BASE]

_APP = "(?P<ApplicationId>[^/]+)"
_ENV = "(?P<EnvironmentId>[^/]+)"

added_url_paths: dict[str, Callable[..., Any]] = {
    "{0}/applications/" + _APP + "/environments$": AppConfigControlResponse.dispatch,
    "{0}/applications/" + _APP + "/environments/" + _ENV + "$": AppConfigControlResponse.dispatch,
    "{0}/applications/" + _APP + "/environments/" + _ENV + "/deployments$": AppConfigControlResponse.dispatch,
    "{0}/applications/" + _APP + "/environments/" + _ENV + "/deployments/(?P<DeploymentNumber>[^/]+)$": (
        AppConfigControlResponse.dispatch
    ),
    "{0}/applications/" + _APP + "/configurationprofiles/(?P<ConfigurationProfileId>[^/]+)/validators$": (
        AppConfigControlResponse.dispatch
    ),
    "{0}/deploymentstrategies$": AppConfigControlResponse.dispatch,
    "{0}/deploymentstrategies/(?P<DeploymentStrategyId>[^/]+)$": AppConfigControlResponse.dispatch,
    # DeleteDeploymentStrategy's URI really is spelled "deployementstrategies" in the AWS model.
    "{0}/deployementstrategies/(?P<DeploymentStrategyId>[^/]+)$": AppConfigControlResponse.dispatch,
    "{0}/configurationsessions$": AppConfigDataResponse.dispatch,
    "{0}/configuration$": AppConfigDataResponse.dispatch,
}

# moto's own routes, served by the subclass that adds what moto lacks (ListApplications, ...)
core_url_paths: dict[str, Callable[..., Any]] = dict.fromkeys(
    moto_appconfig_urls.url_paths, AppConfigCoreResponse.dispatch
)

url_paths: dict[str, Callable[..., Any]] = {**core_url_paths, **added_url_paths}
