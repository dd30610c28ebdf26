"""install(): idempotent, and loud when a moto internal it hooks into disappears or changes shape."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import backend_index
from moto.appconfig import models as appconfig_models
from moto.awslambda.models import LambdaBackend
from moto.cloudwatch import models as cloudwatch_models
from moto.core.base_backend import BaseBackend
from tests.integration.appconfig.appconfig_world import REGION

from failsafe_tools.local.appconfig import FailsafeAppConfigBackend, MotoHookError, check_moto_hooks, install
from failsafe_tools.local.appconfig.install import APPCONFIGDATA_HOST_PATTERN


def test_install_is_idempotent(aws: None) -> None:
    # Given install() already ran (the aws fixture); When it runs twice more
    install()
    install()

    # Then the appconfigdata route is registered once and moto builds failsafe's backend
    routes = [p for _, p in backend_index.backend_url_patterns if p.pattern == APPCONFIGDATA_HOST_PATTERN]
    assert len(routes) == 1
    assert isinstance(appconfig_models.appconfig_backends["123456789012"][REGION], FailsafeAppConfigBackend)


def test_install_upgrades_backends_created_before_it(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a backend that moto created with its own class, holding an application
    monkeypatch.setattr(appconfig_models.appconfig_backends, "backend", appconfig_models.AppConfigBackend)
    account = appconfig_models.appconfig_backends["111122223333"]
    monkeypatch.setattr(account, "backend", appconfig_models.AppConfigBackend)
    legacy = account[REGION]
    assert type(legacy) is appconfig_models.AppConfigBackend
    app = legacy.create_application("before-install", None, {})

    # When install() runs
    install()

    # Then the same backend object now serves environments and keeps its data
    assert isinstance(legacy, FailsafeAppConfigBackend)
    assert legacy.create_environment(app.id, "prod", None, None, None)["State"] == "READY_FOR_DEPLOYMENT"


def _drop(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> None:
    monkeypatch.delattr(target, name)


@pytest.mark.parametrize(
    ("break_moto", "named"),
    [
        (
            lambda mp: mp.setattr(
                backend_index, "backend_url_patterns", tuple(backend_index.backend_url_patterns)
            ),
            "backend_url_patterns",
        ),
        (
            lambda mp: mp.setattr(
                backend_index,
                "backend_url_patterns",
                [(s, p) for s, p in backend_index.backend_url_patterns if s != "appconfig"],
            ),
            "no 'appconfig' entry",
        ),
        (lambda mp: _drop(mp, appconfig_models, "appconfig_backends"), "appconfig_backends"),
        (
            lambda mp: _drop(mp, appconfig_models.AppConfigBackend, "create_hosted_configuration_version"),
            "AppConfigBackend API changed",
        ),
        (lambda mp: _drop(mp, BaseBackend, "_url_module"), "_url_module"),
        (lambda mp: _drop(mp, cloudwatch_models, "cloudwatch_backends"), "cloudwatch_backends"),
        (lambda mp: mp.setattr(LambdaBackend, "invoke", lambda self, name: None), "LambdaBackend.invoke"),
    ],
    ids=[
        "url-index-immutable",
        "url-index-no-appconfig",
        "backend-dict",
        "backend-api",
        "url-module",
        "cloudwatch",
        "lambda-invoke",
    ],
)
def test_install_fails_loudly_when_a_hooked_moto_internal_changes(
    monkeypatch: pytest.MonkeyPatch, break_moto: Any, named: str
) -> None:
    # Given a moto whose internal changed shape
    break_moto(monkeypatch)

    # When install() runs
    with pytest.raises(MotoHookError, match=re.escape(named)):
        install()

    # Then it refused before patching anything (the check alone raises the same way)
    with pytest.raises(MotoHookError):
        check_moto_hooks()


def test_before_install_moto_does_not_know_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto's own AppConfig (the URL table without failsafe's routes)
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(appconfig_models.appconfig_backends, "backend", appconfig_models.AppConfigBackend)
    with mock_aws():
        client = boto3.client("appconfig", region_name=REGION)
        app_id = client.create_application(Name="plain")["Id"]

        # When CreateEnvironment is called
        with pytest.raises(ClientError) as missing:
            client.create_environment(ApplicationId=app_id, Name="prod")

    # Then moto alone answers "Not yet implemented" - the gap this package fills
    assert missing.value.response["Error"] == {"Code": "404", "Message": "Not yet implemented"}
